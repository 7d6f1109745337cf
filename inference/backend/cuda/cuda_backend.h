// Internal to backend/cuda: the CUDA backend (the Backend of backend.h on one
// NVIDIA GPU). make_cuda_backend() (gpu.h) creates it.
//
// Contract (beyond backend.h):
//  - One CUDA stream per backend; every op queues on it after making the
//    backend's device current for the calling thread (several backends on
//    several GPUs may be driven from one thread).
//  - Weights and products: cuda_matmul.h (upload_weight, MatmulRunner). The
//    fused rms_norm_matmul* ops leave their `tmp` argument unwritten (the
//    norm is applied inside the product); matmul_add accumulates directly.
//  - run_graph(key, record): the first call for a key runs record() eagerly
//    (it performs any lazy scratch allocation); the second captures it into a
//    CUDA graph (thread-local capture mode) and launches it; later calls
//    launch the graph. Any growth of a scratch buffer (attention partials
//    here, MatmulRunner::generation() there) drops every captured graph. A
//    capture that fails falls back to eager execution for that key (logged
//    once). SCN_CUDA_GRAPHS=0 disables graphs.
//  - SCN_CUDA_SYNC_CHECK=1: after every op, synchronise and check for an
//    error, aborting with the op's name (debugging; disables graphs).
//  - CUDA errors inside ops (which return void) are fatal: logged with the
//    op's name, then abort().
#pragma once

#include <cstdint>
#include <memory>

#include "common/status.h"
#include "inference/backend/backend.h"
#include "inference/backend/gpu.h"

namespace scn::inference::cuda {

Result<std::unique_ptr<Backend>> create_cuda_backend(const GpuInfo& gpu);

}  // namespace scn::inference::cuda
