// gpu.h for builds without the CUDA backend (SCN_CUDA=OFF): no GPU is ever
// usable, and every answer says why.
#include "inference/backend/backend.h"
#include "inference/backend/gpu.h"

namespace scn::inference {

namespace {
Status no_cuda() {
  return Status::unavailable("this build has no CUDA backend (built with SCN_CUDA=OFF)");
}
}  // namespace

bool built_with_cuda() { return false; }
Result<std::vector<GpuInfo>> list_gpus() { return no_cuda(); }
Result<std::unique_ptr<Backend>> make_cuda_backend(int) { return no_cuda(); }

}  // namespace scn::inference
