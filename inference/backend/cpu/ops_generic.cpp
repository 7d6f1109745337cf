// Portable kernels of the CPU ops (see ops_kernels.h): plain loops with
// several accumulators so that the compiler can vectorize them.
#include <algorithm>
#include <cmath>

#include "inference/backend/cpu/ops_kernels.h"

namespace scn::inference::cpu {

namespace {

float dot(const float* a, const float* b, int64_t n) {
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) s[l] += a[i + l] * b[i + l];
  float t = 0;
  for (; i < n; ++i) t += a[i] * b[i];
  return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7])) + t;
}

void rms_norm_row(const float* x, const float* w, float* y, int64_t dim, float eps) {
  const float ss = dot(x, x, dim);
  const float inv = 1.0f / std::sqrt(ss / static_cast<float>(dim) + eps);
  for (int64_t i = 0; i < dim; ++i) y[i] = x[i] * inv * w[i];
}

void swiglu(const float* gate, const float* up, float* out, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

void add(float* x, const float* y, int64_t count) {
  for (int64_t i = 0; i < count; ++i) x[i] += y[i];
}

void attend(const float* q, const float* k, const float* v, int64_t n_keys, int64_t kv_stride,
            int64_t hd, int64_t n_rep, float scale, float* scratch, float* acc, float* m,
            float* l) {
  // scores[r][j] = scale * q_r · k_j
  for (int64_t j = 0; j < n_keys; ++j) {
    const float* kj = k + j * kv_stride;
    for (int64_t r = 0; r < n_rep; ++r) scratch[r * n_keys + j] = scale * dot(q + r * hd, kj, hd);
  }
  // p = exp(s - max) per head, then acc_r = Σ_j p_rj v_j
  for (int64_t r = 0; r < n_rep; ++r) {
    float* s = scratch + r * n_keys;
    float mx = -INFINITY;
    for (int64_t j = 0; j < n_keys; ++j) mx = std::max(mx, s[j]);
    float sum = 0;
    for (int64_t j = 0; j < n_keys; ++j) sum += (s[j] = std::exp(s[j] - mx));
    m[r] = mx;
    l[r] = sum;
    std::fill(acc + r * hd, acc + (r + 1) * hd, 0.0f);
  }
  for (int64_t j = 0; j < n_keys; ++j) {
    const float* vj = v + j * kv_stride;
    for (int64_t r = 0; r < n_rep; ++r) {
      const float p = scratch[r * n_keys + j];
      float* o = acc + r * hd;
      for (int64_t c = 0; c < hd; ++c) o[c] += p * vj[c];
    }
  }
}

constexpr OpsKernels kGeneric = {"generic", rms_norm_row, swiglu, add, attend, nullptr};

}  // namespace

const OpsKernels& ops_kernels_generic() { return kGeneric; }

}  // namespace scn::inference::cpu
