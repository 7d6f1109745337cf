// Per-row kernels of the CPU ops (ops.cpp), one set per instruction set:
// ops_generic.cpp (portable), ops_avx2.cpp, ops_avx512.cpp. ops_kernels()
// is the set of the active ISA (cpu_features.h), chosen once.
//
// Contract: kernels run on one thread over the rows they are given; ops.cpp
// splits the work. Semantics as in backend.h.
#pragma once

#include <cstdint>

#include "inference/backend/cpu/cpu_features.h"

namespace scn::inference::cpu {

struct OpsKernels {
  const char* isa;
  // y[dim] = x / sqrt(mean(x^2) + eps) * w.
  void (*rms_norm_row)(const float* x, const float* w, float* y, int64_t dim, float eps);
  // out[i] = silu(gate[i]) * up[i].
  void (*swiglu)(const float* gate, const float* up, float* out, int64_t count);
  // x[i] += y[i].
  void (*add)(float* x, const float* y, int64_t count);
  // Attention of n_rep query heads that share one K/V head, over the keys
  // j < n_keys (k_j = k + j * kv_stride, likewise v_j), left unnormalized so
  // that key ranges can be split and merged: for r < n_rep, with
  // s_j = scale * q[r]·k_j,
  //   m[r] = max_j s_j,  l[r] = Σ_j exp(s_j - m[r]),
  //   acc[r][hd] = Σ_j exp(s_j - m[r]) v_j.
  // q and acc hold n_rep consecutive heads of hd floats; scratch has room for
  // n_rep * n_keys floats. n_keys >= 1.
  void (*attend)(const float* q, const float* k, const float* v, int64_t n_keys,
                 int64_t kv_stride, int64_t hd, int64_t n_rep, float scale, float* scratch,
                 float* acc, float* m, float* l);
  // Causal attention of a block of n_tok consecutive tokens, each with the
  // n_rep query heads of one K/V head (prompt processing): row (t, r) is
  // q + t * q_stride + r * hd, token t sees keys j <= pos0 + t, and its
  // normalized result goes to out + t * q_stride + r * hd. The keys come
  // transposed in blocks of 16 (transpose_keys()), V as rows; scratch holds
  // attend_block_scratch(...) floats. Null in sets without it (then attend()
  // runs per token). Only for hd 64 and 128 (attend_block_hd()).
  void (*attend_block)(const float* q, int64_t q_stride, int64_t n_tok, int64_t pos0,
                       const float* kt, const float* v, int64_t kv_stride, int64_t hd,
                       int64_t n_rep, float scale, float* scratch, float* out);
};

inline bool attend_block_hd(int64_t hd) { return hd == 64 || hd == 128; }

inline int64_t attend_block_scratch(int64_t n_tok, int64_t pos0, int64_t hd, int64_t n_rep) {
  const int64_t rows = n_tok * n_rep, keys = pos0 + n_tok;
  return rows * (keys + 16) + rows * (hd + 2);
}

// kt[b][c][u] = k[(16 b + u) * kv_stride + c] for the keys j < n_keys (zero
// past them): blocks of 16 keys, each transposed to [hd][16].
inline void transpose_keys(const float* k, int64_t n_keys, int64_t kv_stride, int64_t hd,
                           float* kt) {
  for (int64_t b = 0; b * 16 < n_keys; ++b) {
    float* dst = kt + b * hd * 16;
    for (int64_t u = 0; u < 16; ++u) {
      const int64_t j = b * 16 + u;
      const float* kj = k + j * kv_stride;
      for (int64_t c = 0; c < hd; ++c) dst[16 * c + u] = j < n_keys ? kj[c] : 0.f;
    }
  }
}

// The set of active_isa() (cpu_features.h), chosen once.
const OpsKernels& ops_kernels();
// The set of one ISA; call only with an ISA this processor supports
// (supported_isas()).
const OpsKernels& ops_kernels_for(Isa isa);

const OpsKernels& ops_kernels_generic();
const OpsKernels* ops_kernels_avx2();
const OpsKernels* ops_kernels_avx512();

}  // namespace scn::inference::cpu
