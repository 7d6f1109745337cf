// The CPU backend's weight matmuls and embedding lookups.
//
// Contract: MatmulRunner computes y[n][w.rows] = x[n][w.cols] · Wᵀ for a
// weight packed by pack_weight (packed_weight.h), splitting rows over the
// pool's threads. Quantized weights: the activations are quantized to int8
// per block (bs = 32 elements, 16 for Q6_K) and multiplied with integer dot
// products; the result differs from the float product with the dequantized
// weight by the activation rounding only (each activation carries an
// absolute error ≤ max|x_block|/254, so |Δy| ≤ Σ_blocks |w|_1 · max|x|/254).
// Float weights: fp32 accumulation. n == 1 is the matrix-vector (decode)
// path; n > 1 blocks over tokens and rows so each weight panel is read from
// memory once per block of up to 96 tokens. On CPUs with AMX (amx_usable(),
// isa kAvx512, allow_amx) these quantized matmuls of n > 1 tokens take the
// tile paths of matmul_amx.h instead, each within the same bound: Q4_0 and Q4_K
// matmuls of kAmxI8MinTokens..kAmxMinTokens-1 tokens (decode steps of
// several sequences) take the int8 tiles (amx_i8_rows: weights unpacked per
// 16-row panel from the GGUF blocks, each weight byte read once per call
// whatever n is); Q8_0 matmuls of 2..kAmxQ8MaxTokens tokens take the
// in-place int8 path (amx_q8_rows); quantized matmuls of n ≥
// kAmxMinTokens tokens (prompts) take the bf16 tiles (amx_rows); the rest
// (Q6_K, Q5_*, Q4_1 and Q4_0/Q4_K of 2..kAmxI8MinTokens-1 tokens) stay on
// the int8 dot-product tiles. Not thread-safe: one runner per compute
// thread (it owns its scratch buffers).
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <vector>

#include "inference/backend/cpu/cpu_features.h"
#include "inference/backend/cpu/matmul_amx.h"
#include "inference/backend/cpu/matmul_kernels.h"
#include "inference/backend/cpu/packed_weight.h"
#include "inference/backend/thread_pool.h"

namespace scn::inference::cpu {

// The matrix-vector paths' work queue: units [0, total) (16 weight rows
// each) cut into one contiguous range per thread. A thread takes pieces of
// its own range front to back (adjacent rows: one forward stream, which the
// kernels' prefetch follows from piece to piece) and, when its range is
// empty, pieces of the other ranges from their back ends, so that a thread
// slowed by other work on its core does not hold up the rest. Pieces are
// half of what is left of the range, clamped to [min_units, max_units]
// (guided scheduling): long while much is left, short at the end, where
// another thread may be waiting. next() is safe to call from the pool's
// threads at once; reset() is not.
class ChunkQueue {
 public:
  void reset(int64_t total, int nth, int64_t min_units, int64_t max_units);
  // Sets [*begin, *end) to units not handed out before; false when none is left.
  bool next(int ith, int64_t* begin, int64_t* end);

 private:
  struct alignas(64) Range {
    std::atomic<uint64_t> fb{0};  // front | back << 32: units [front, back) left
  };
  int64_t piece(int64_t left) const;
  std::vector<Range> ranges_;
  int nth_ = 0;
  int64_t min_units_ = 1, max_units_ = 1;
};

class MatmulRunner {
 public:
  MatmulRunner(ThreadPool& pool, Isa isa, bool allow_amx = true);
  Isa isa() const { return isa_; }
  bool uses_amx() const { return amx_; }
  void matmul(const PackedWeight& w, const float* x, int64_t n, float* y);
  // ys[i] = x · ws[i]ᵀ for weights of the same cols: as matmul per weight.
  // For n == 1 the activations are quantized once per distinct block layout
  // and the rows of all weights run as one parallel region; so do prompts
  // on the AMX tiles when the weights share a column order.
  void matmul_multi(std::span<const PackedWeight* const> ws, const float* x, int64_t n,
                    std::span<float* const> ys);
  // out[n][rows] = silu(x · gateᵀ) * (x · upᵀ) in one pass on the AMX tiles
  // (no gate and up outputs) when they apply to both weights (same rows and
  // column order; see amx_multi); false, nothing done, otherwise.
  bool matmul_swiglu(const PackedWeight& gate, const PackedWeight& up, const float* x, int64_t n,
                     float* out);
  // out[i][w.cols] = row ids[i] of W as float (ids must be in [0, rows)).
  void get_rows(const PackedWeight& w, const int32_t* ids, int64_t n, float* out);

 private:
  // The AMX bf16 path (n ≥ kAmxMinTokens, quantized weights of one column
  // order and activation layout): the activations packed once, then the
  // rows of all the weights in one parallel region. False (nothing done)
  // when it does not apply.
  bool amx_multi(std::span<const PackedWeight* const> ws, const float* x, int64_t n,
                 std::span<float* const> ys);
  bool amx_applies(std::span<const PackedWeight* const> ws, int64_t n) const;
  void amx_pack(const PackedWeight& w, const float* x, int64_t n);  // into amx_act_

  ThreadPool& pool_;
  Isa isa_;
  const Kernels* k_;
  bool amx_;
  ActQ act_;
  AmxAct amx_act_;
  AmxQ8Act amx_q8_act_;
  AmxI8Act amx_i8_act_;
  std::vector<ActQ> multi_act_;  // matmul_multi: one per distinct activation layout
  ChunkQueue queue_;
};

const Kernels& kernels_for(Isa isa);

}  // namespace scn::inference::cpu
