// CUDA error reporting (see cuda_common.h).
#include "inference/backend/cuda/cuda_common.h"

#include <cstdlib>

#include "common/log.h"

namespace scn::inference::cuda {

Status cuda_status(cudaError_t err, const std::string& what) {
  if (err == cudaSuccess) return Status::ok();
  (void)cudaGetLastError();  // clear the (non-sticky) error
  std::string msg = what + ": " + cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")";
  switch (err) {
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
    case cudaErrorInvalidDevice:
    case cudaErrorDevicesUnavailable:
    case cudaErrorSystemDriverMismatch:
    case cudaErrorCompatNotSupportedOnDevice:
    case cudaErrorUnsupportedPtxVersion:
    case cudaErrorNoKernelImageForDevice:
      return Status::unavailable(std::move(msg));
    case cudaErrorMemoryAllocation:
      return Status::exhausted(std::move(msg));
    default:
      return Status::internal(std::move(msg));
  }
}

void cuda_fatal(cudaError_t err, const std::string& what) {
  common::log_error("CUDA backend: ", what, " failed: ", cudaGetErrorName(err), " (",
                    cudaGetErrorString(err), "); aborting");
  std::abort();
}

}  // namespace scn::inference::cuda
