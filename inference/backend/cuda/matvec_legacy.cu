// Matrix-vector kernels (matvec.cuh) instantiated for the Q8_0, Q4_0 weights.
#include "inference/backend/cuda/matvec.cuh"

namespace scn::inference::cuda {

cudaError_t launch_matvec_legacy(GgmlType t, const MatvecParams& p, int n, cudaStream_t stream) {
  switch (t) {
    case GgmlType::Q8_0: return launch_matvec_t<Dec<GgmlType::Q8_0>>(p, n, stream);
    case GgmlType::Q4_0: return launch_matvec_t<Dec<GgmlType::Q4_0>>(p, n, stream);
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace scn::inference::cuda
