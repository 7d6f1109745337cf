// Matrix-vector kernels (matvec.cuh) instantiated for the F32, F16, BF16 weights.
#include "inference/backend/cuda/matvec.cuh"

namespace scn::inference::cuda {

cudaError_t launch_matvec_float(GgmlType t, const MatvecParams& p, int n, cudaStream_t stream) {
  switch (t) {
    case GgmlType::F32: return launch_matvec_t<Dec<GgmlType::F32>>(p, n, stream);
    case GgmlType::F16: return launch_matvec_t<Dec<GgmlType::F16>>(p, n, stream);
    case GgmlType::BF16: return launch_matvec_t<Dec<GgmlType::BF16>>(p, n, stream);
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace scn::inference::cuda
