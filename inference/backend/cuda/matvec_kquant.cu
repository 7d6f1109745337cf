// Matrix-vector kernels (matvec.cuh) instantiated for the Q4_K, Q6_K weights.
#include "inference/backend/cuda/matvec.cuh"

namespace scn::inference::cuda {

cudaError_t launch_matvec_kquant(GgmlType t, const MatvecParams& p, int n, cudaStream_t stream) {
  switch (t) {
    case GgmlType::Q4_K: return launch_matvec_t<Dec<GgmlType::Q4_K>>(p, n, stream);
    case GgmlType::Q6_K: return launch_matvec_t<Dec<GgmlType::Q6_K>>(p, n, stream);
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace scn::inference::cuda
