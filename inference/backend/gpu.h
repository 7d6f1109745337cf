// GPUs as this build and this machine can use them: inventory for the node
// agent and the backend factory (make_backend in backend.h).
//
// Contract:
//  - list_gpus(): the NVIDIA GPUs visible to this process through the CUDA
//    runtime (so CUDA_VISIBLE_DEVICES applies), index order. kUnavailable
//    naming the reason when the build has no CUDA (SCN_CUDA=OFF), when the
//    driver is missing or too old, or when no GPU is present. Never crashes
//    and never aborts the process on a machine without a driver.
//  - make_cuda_backend(i): the CUDA backend on GPU i; kUnavailable with the
//    reason when list_gpus() fails or i is out of range.
//  - Implemented by backend/cuda/ (SCN_CUDA=ON) or backend/no_cuda.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace scn::inference {

class Backend;

struct GpuInfo {
  int index = 0;                 // CUDA device ordinal in this process
  std::string name;              // "NVIDIA H200"
  uint64_t memory_total = 0;     // bytes
  uint64_t memory_free = 0;      // bytes, when listed
  int cc_major = 0, cc_minor = 0;  // compute capability (9.0 for Hopper)
  std::string pci_bus_id;        // "0000:19:00.0"
};

bool built_with_cuda();
Result<std::vector<GpuInfo>> list_gpus();
Result<std::unique_ptr<Backend>> make_cuda_backend(int device);

}  // namespace scn::inference
