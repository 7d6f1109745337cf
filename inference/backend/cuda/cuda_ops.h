// Internal to backend/cuda: the launchers of the CUDA backend's own kernels
// (everything but the weight products of cuda_matmul.h), one kernel family
// per .cu file: norm.cu, rope.cu, elementwise.cu, kv.cu, attention.cu,
// argmax.cu. Semantics are those of the Backend ops of the same name
// (backend.h); all pointers are device memory; every launcher only queues
// work on `s` (nothing synchronises) and returns at once for empty work.
// Launch errors are left for the caller's cudaGetLastError().
#pragma once

#include <cstdint>

#include "inference/backend/backend.h"
#include "inference/backend/cuda/cuda_common.h"

namespace scn::inference::cuda {

// ---- norm.cu
void launch_rms_norm(Stream s, const float* x, const float* w, float* y, int64_t n,
                     int64_t dim, float eps);

// ---- elementwise.cu
void launch_swiglu(Stream s, const float* gate, const float* up, float* out, int64_t count);
void launch_add(Stream s, float* x, const float* y, int64_t count);
void launch_add_bias(Stream s, float* y, const float* bias, int64_t n, int64_t dim);

// ---- rope.cu
// rope(): x[n][n_heads * head_dim] rotated in place at pos[i].
void launch_rope(Stream s, float* x, int64_t n, int64_t n_heads, int64_t head_dim,
                 const int32_t* pos, const RopeParams& p);
// qkv_rope_store(): biases (each may be null), RoPE on q and k, then K/V of
// row r written to KV slot b.row_slot[r] (a negative slot is skipped); q, k,
// v keep their new values too. One kernel.
void launch_qkv_rope_store(Stream s, float* q, float* k, float* v, const float* bq,
                           const float* bk, const float* bv, int64_t n_heads,
                           int64_t n_kv_heads, int64_t head_dim, const RopeParams& rope,
                           const KvLayer& kv, const PagedBatch& b);

// ---- kv.cu
void launch_kv_store(Stream s, const KvLayer& kv, const float* k, const float* v,
                     const PagedBatch& b);
void launch_gather_rows(Stream s, const float* x, const int32_t* rows, int64_t n, int64_t dim,
                        float* out);

// ---- argmax.cu
void launch_argmax(Stream s, const float* logits, int64_t n, int64_t n_vocab, int32_t* ids);

// ---- attention.cu
// The K/V of one attention call: key j of the row's sequence lies at
//   base(j) = (table ? table[seq * max_blocks + j / bt] : 0) * block_stride
//             + (j % bt) * row_stride + kv_head * head_dim
// from k (and v). Contiguous attention: table null, bt huge. Row r sits at
// position row_pos[r] (or pos0 + r when row_pos is null) of sequence
// row_seq[r] (or 0) and attends to keys [0, position].
struct AttnArgs {
  const float* q = nullptr;   // [n_rows][n_heads * head_dim]
  float* out = nullptr;       // [n_rows][n_heads * head_dim]
  const float* k = nullptr;
  const float* v = nullptr;
  int64_t block_stride = 0;
  int64_t row_stride = 0;
  int32_t bt = 0;
  const int32_t* table = nullptr;
  int32_t max_blocks = 0;
  const int32_t* row_pos = nullptr;
  const int32_t* row_seq = nullptr;
  int32_t pos0 = 0;
  int32_t n_rows = 0;
  int32_t n_heads = 0, n_kv_heads = 0, head_dim = 0;
  float scale = 1.f;
};

// How one attention call is cut into thread blocks. Depends only on the
// sizes given (so a captured CUDA graph stays valid for the same sizes).
struct AttnPlan {
  int32_t n_splits = 1;    // key ranges per row, combined by a second kernel when > 1
  int32_t split_len = 0;   // keys per split
  int32_t head_groups = 1; // blocks per KV head (query heads of a group in passes)
};

inline constexpr int32_t kMaxAttnHeadDim = 256;

// The plan for n_rows rows whose positions are < max_len on a GPU of n_sm SMs.
AttnPlan plan_attention(int64_t n_rows, int64_t n_heads, int64_t n_kv_heads, int64_t head_dim,
                        int64_t max_len, int n_sm);
// Bytes of scratch launch_attention needs for `plan` (0 when n_splits == 1).
size_t attention_scratch_bytes(const AttnPlan& plan, int64_t n_rows, int64_t n_heads,
                               int64_t head_dim);
// Requires 0 < head_dim <= kMaxAttnHeadDim and n_heads % n_kv_heads == 0;
// `scratch` holds attention_scratch_bytes(plan, ...) bytes (or is unused).
void launch_attention(Stream s, const AttnArgs& a, const AttnPlan& plan, float* scratch);

}  // namespace scn::inference::cuda
