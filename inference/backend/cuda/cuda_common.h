// Internal to backend/cuda: host-side helpers shared by the CUDA backend's
// .cpp and .cu files — error checking and a few integer helpers. Includes
// only cuda_runtime_api.h (no device code).
//
// Contract:
//  - cuda_status(err, what): OK for cudaSuccess, else kInternal (kUnavailable
//    for "no device / no driver" codes, kResourceExhausted for out of memory)
//    naming `what` and the CUDA error; it clears the runtime's last error so
//    that one failure is not reported twice.
//  - cuda_fatal(err, what): logs the error and aborts the process. Used for
//    failures inside ops (the Backend interface has no error return: a fault
//    in a queued kernel leaves the CUDA context unusable anyway).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <string>

#include "common/status.h"

struct CUstream_st;

namespace scn::inference::cuda {

using Stream = CUstream_st*;

Status cuda_status(cudaError_t err, const std::string& what);
[[noreturn]] void cuda_fatal(cudaError_t err, const std::string& what);

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace scn::inference::cuda
