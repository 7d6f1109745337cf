// The matmul kernels of every ISA this CPU runs (scalar, AVX2, AVX-512)
// against a double-precision reference on weights dequantized with
// quants.h's dequantize_row, for every weight type, several token counts
// (1 takes the matrix-vector path) and shapes with partial tiles and
// partial block groups.
//
// Tolerance. Float weights: |Δy| ≤ 1e-5·Σ|w·x| (fp32 accumulation).
// Quantized weights: the activations are rounded to int8 per block of bs
// values, each with absolute error ≤ amax_block/254, so
//   |Δy| ≤ Σ_blocks (amax_block/254)·Σ_{i∈block}|w_i|  + 1e-5·Σ|w·x|,
// computed exactly per output; additionally the relative error of the
// whole output, ‖Δy‖/‖y‖, must stay below 2.5% (about 1.3% on this data, whose blocks hold 8x outliers).
#include <doctest/doctest.h>

#include <atomic>
#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "inference/backend/cpu/matmul.h"
#include "inference/backend/cpu/quants.h"

namespace scn::inference::cpu {
namespace {

std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  // A few outliers, as real activations have.
  for (size_t i = 0; i < n; i += 97) v[i] *= 8.f;
  return v;
}

struct Case {
  GgmlType type;
  std::vector<int64_t> cols;
};

std::vector<Case> cases() {
  const std::vector<int64_t> legacy{64, 896, 4864}, k_quants{256, 4864}, floats{172, 896};
  return {
      {GgmlType::F32, floats},  {GgmlType::F16, floats},  {GgmlType::BF16, floats},
      {GgmlType::Q8_0, legacy}, {GgmlType::Q4_0, legacy}, {GgmlType::Q4_1, legacy},
      {GgmlType::Q5_0, legacy}, {GgmlType::Q5_1, legacy}, {GgmlType::Q4_K, k_quants},
      {GgmlType::Q5_K, k_quants}, {GgmlType::Q6_K, k_quants},
  };
}

// Weights stored in `type` (through quantize_row for the quantized types).
std::vector<uint8_t> make_weight(GgmlType type, int64_t rows, int64_t cols, uint32_t seed) {
  const std::vector<float> f = random_floats(rows * cols, seed);
  std::vector<uint8_t> out(row_size(type, cols) * rows + 64);
  for (int64_t r = 0; r < rows; ++r) {
    uint8_t* dst = out.data() + r * row_size(type, cols);
    const float* src = f.data() + r * cols;
    if (type == GgmlType::F32) {
      std::memcpy(dst, src, cols * 4);
    } else if (type == GgmlType::F16 || type == GgmlType::BF16) {
      for (int64_t c = 0; c < cols; ++c) {
        const uint16_t h = type == GgmlType::F16 ? fp32_to_fp16(src[c]) : fp32_to_bf16(src[c]);
        std::memcpy(dst + 2 * c, &h, 2);
      }
    } else {
      REQUIRE(quantize_row(type, src, dst, cols).is_ok());
    }
  }
  return out;
}

// y_off: the output starts that many floats past a 64-byte boundary.
void check(GgmlType type, int64_t rows, int64_t cols, int64_t n, Isa isa, int threads,
           bool allow_amx = true, int64_t y_off = 0) {
  INFO(type_name(type) << " rows " << rows << " cols " << cols << " n " << n << " isa "
                       << isa_name(isa) << " threads " << threads << " amx " << allow_amx);
  const std::vector<uint8_t> raw = make_weight(type, rows, cols, 1234 + cols + rows);
  std::vector<float> wf(rows * cols);
  for (int64_t r = 0; r < rows; ++r)
    REQUIRE(dequantize_row(type, raw.data() + r * row_size(type, cols), wf.data() + r * cols, cols)
                .is_ok());
  const std::vector<float> x = random_floats(n * cols, 99 + n);

  auto packed = pack_weight(type, rows, cols, raw.data());
  REQUIRE(packed.is_ok());
  ThreadPool pool(threads);
  MatmulRunner runner(pool, isa, allow_amx);
  AmxVector<float> ybuf(n * rows + y_off, -1.f);
  float* y = ybuf.data() + y_off;
  runner.matmul(**packed, x.data(), n, y);

  const bool quant = block_size(type) > 1;
  const int bs = type == GgmlType::Q6_K ? 16 : 32;
  double err2 = 0, ref2 = 0;
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t r = 0; r < rows; ++r) {
      const float* w = wf.data() + r * cols;
      const float* xt = x.data() + t * cols;
      double ref = 0, mag = 0, bound = 0;
      for (int64_t c = 0; c < cols; ++c) {
        ref += static_cast<double>(w[c]) * xt[c];
        mag += std::fabs(static_cast<double>(w[c]) * xt[c]);
      }
      if (quant) {
        for (int64_t b = 0; b < cols; b += bs) {
          double amax = 0, wsum = 0;
          for (int64_t c = b; c < b + bs; ++c) {
            amax = std::max(amax, std::fabs(static_cast<double>(xt[c])));
            wsum += std::fabs(w[c]);
          }
          bound += amax / 254.0 * wsum;
        }
      }
      const double got = y[t * rows + r];
      const double tol = bound + 1e-5 * mag + 1e-6;
      if (std::fabs(got - ref) > tol) {
        INFO("row " << r << " token " << t << " got " << got << " want " << ref << " tol " << tol);
        CHECK(std::fabs(got - ref) <= tol);
        return;
      }
      err2 += (got - ref) * (got - ref);
      ref2 += ref * ref;
    }
  }
  CHECK(std::sqrt(err2 / ref2) < (quant ? 2.5e-2 : 1e-6));
}

TEST_CASE("matmul: every type, ISA and shape against the dequantized reference") {
  for (const Case& c : cases())
    for (int64_t cols : c.cols)
      for (Isa isa : supported_isas())
        for (int64_t n : {1, 3, 16, 37}) {
          const int64_t rows = n == 16 ? 70 : 37;
          check(c.type, rows, cols, n, isa, n == 3 ? 1 : 2);
        }
}

TEST_CASE("ChunkQueue: every unit exactly once, own ranges from the front, stealing from the back") {
  ChunkQueue q;
  using Piece = std::pair<int64_t, int64_t>;
  auto drain = [&](int ith) {
    std::vector<Piece> got;
    for (int64_t b, e; q.next(ith, &b, &e);) got.emplace_back(b, e);
    return got;
  };
  // One thread alone takes every range: its own front to back in pieces of
  // half what is left (clamped to [1, 4]), then the others' from the back.
  q.reset(30, 3, 1, 4);  // ranges [0,10) [10,20) [20,30)
  CHECK(drain(0) == std::vector<Piece>{{0, 4}, {4, 7}, {7, 8}, {8, 9}, {9, 10},
                                       {16, 20}, {13, 16}, {12, 13}, {11, 12}, {10, 11},
                                       {26, 30}, {23, 26}, {22, 23}, {21, 22}, {20, 21}});
  q.reset(10, 2, 3, 3);  // min 3: the last piece is what is left
  CHECK(drain(1) == std::vector<Piece>{{5, 8}, {8, 10}, {2, 5}, {0, 2}});
  q.reset(0, 2, 1, 8);
  CHECK(drain(0).empty());
  CHECK(drain(1).empty());
  // Threads at once: each unit once, whatever the interleaving.
  for (int nth : {2, 3, 5})
    for (int64_t total : {int64_t{1}, int64_t{7}, int64_t{1000}}) {
      ThreadPool pool(nth);
      q.reset(total, nth, 1, 16);
      std::vector<std::atomic<int>> seen(static_cast<size_t>(total));
      pool.run([&](int ith, int) {
        for (int64_t b, e; q.next(ith, &b, &e);)
          for (int64_t u = b; u < e; ++u) seen[static_cast<size_t>(u)].fetch_add(1);
      });
      int bad = 0;
      for (auto& s : seen) bad += s.load() != 1;
      CHECK(bad == 0);
    }
}

TEST_CASE("matmul: prompt-sized products on the AMX tiles and, with AMX off, on VNNI") {
  if (detected_isa() != Isa::kAvx512) return;
  INFO("amx usable " << amx_usable());
  for (bool amx : {true, false})
    for (const Case& c : cases())
      if (block_size(c.type) > 1)
        for (int64_t n : {16, 33, 70}) check(c.type, 75, c.cols.back(), n, Isa::kAvx512, 2, amx);
  // Panels of 64 rows (two pairs of A tiles) split over threads, partial
  // panels and pairs, tokens in whole and partial tiles and odd tile counts.
  check(GgmlType::Q4_0, 200, 896, 64, Isa::kAvx512, 2, true);
  check(GgmlType::Q6_K, 33, 512, 17, Isa::kAvx512, 1, true);
  check(GgmlType::Q8_0, 150, 256, 48, Isa::kAvx512, 1, true);
  check(GgmlType::Q4_K, 113, 512, 40, Isa::kAvx512, 2, true);
  // Panels of up to 128 rows (one thread: chunks of 160 rows, a full and a
  // partial panel), rows in column chunks of 32 steps with partial sums in
  // between (33 and 34 steps: a last chunk of one and two steps), Q4_0 and
  // Q8_0 decoded from the GGUF blocks in the natural column order, Q5_0 and
  // Q4_K through the packed order.
  check(GgmlType::Q4_0, 650, 1056, 45, Isa::kAvx512, 1, true);
  check(GgmlType::Q5_0, 650, 1056, 33, Isa::kAvx512, 1, true);
  check(GgmlType::Q8_0, 300, 1088, 20, Isa::kAvx512, 2, true);
  check(GgmlType::Q4_K, 290, 1280, 31, Isa::kAvx512, 2, true);
  // C tiles (16 tokens x 16 rows) stored whole straight to y and partial
  // through scratch: whole token tiles with whole and odd row-tile counts
  // (48 rows: a zero B tile beside the third), Q4_0 decoded by the byte
  // transpose, Q8_0 and Q4_K row by row.
  // Outputs of 4 MiB and more: streaming stores when the rows are whole
  // cache lines (y aligned), tile stores when not.
  check(GgmlType::Q4_0, 2048, 64, 512, Isa::kAvx512, 2, true);
  check(GgmlType::Q4_0, 2048, 64, 520, Isa::kAvx512, 2, true, 4);
  for (int64_t n : {32, 48, 40}) {
    check(GgmlType::Q4_0, 48, 896, n, Isa::kAvx512, 1, true);
    check(GgmlType::Q4_0, 96, 4864, n, Isa::kAvx512, 2, true);
    check(GgmlType::Q8_0, 48, 1088, n, Isa::kAvx512, 1, true);
    check(GgmlType::Q4_K, 80, 512, n, Isa::kAvx512, 2, true);
  }
}

TEST_CASE("matmul: decode steps of 1..17 tokens (Q8_0 on the in-place AMX int8 path when usable)") {
  if (detected_isa() != Isa::kAvx512) return;
  INFO("amx int8 usable " << amx_int8_usable());
  {
    const std::vector<uint8_t> q8 = make_weight(GgmlType::Q8_0, 48, 896, 5);
    const std::vector<uint8_t> q4 = make_weight(GgmlType::Q4_0, 48, 896, 5);
    auto w8 = pack_weight(GgmlType::Q8_0, 48, 896, q8.data());
    auto w8odd = pack_weight(GgmlType::Q8_0, 47, 896, q8.data());
    auto w4 = pack_weight(GgmlType::Q4_0, 48, 896, q4.data());
    REQUIRE((w8.is_ok() && w8odd.is_ok() && w4.is_ok()));
    const bool u = amx_int8_usable();
    CHECK(amx_q8_applicable(**w8, 2) == u);
    CHECK(amx_q8_applicable(**w8, kAmxQ8MaxTokens) == u);
    CHECK_FALSE(amx_q8_applicable(**w8, 1));
    CHECK_FALSE(amx_q8_applicable(**w8, kAmxQ8MaxTokens + 1));
    CHECK_FALSE(amx_q8_applicable(**w8odd, 8));
    CHECK_FALSE(amx_q8_applicable(**w4, 8));
  }
  // Every token count around the int8 tile range (2..15), with AMX on and
  // off; rows a multiple of 16 (the tile path) and not (the VNNI path),
  // one block per row, odd block counts, rows split into uneven chunks.
  for (bool amx : {true, false})
    for (int64_t n = 1; n <= 17; ++n) {
      check(GgmlType::Q8_0, 48, 896, n, Isa::kAvx512, 2, amx);
      check(GgmlType::Q8_0, 32, 32, n, Isa::kAvx512, 1, amx);
    }
  for (int64_t n : {2, 7, 8, 15}) {
    check(GgmlType::Q8_0, 160, 4864, n, Isa::kAvx512, 2, true);
    check(GgmlType::Q8_0, 16, 96, n, Isa::kAvx512, 3, true);
    check(GgmlType::Q8_0, 37, 896, n, Isa::kAvx512, 2, true);
    check(GgmlType::Q8_0, 1040, 160, n, Isa::kAvx512, 2, true);
    check(GgmlType::Q4_0, 48, 896, n, Isa::kAvx512, 2, true);
  }
}

TEST_CASE("matmul: Q4_0, Q4_K and Q8_0 on the AMX int8 tiles (amx_i8_rows), 1..17 tokens") {
  if (detected_isa() != Isa::kAvx512) return;
  INFO("amx int8 usable " << amx_int8_usable());
  {
    const std::vector<uint8_t> q4 = make_weight(GgmlType::Q4_0, 16, 256, 5);
    const std::vector<uint8_t> k4 = make_weight(GgmlType::Q4_K, 16, 256, 5);
    const std::vector<uint8_t> q8 = make_weight(GgmlType::Q8_0, 16, 256, 5);
    const std::vector<uint8_t> k6 = make_weight(GgmlType::Q6_K, 16, 256, 5);
    auto w4 = pack_weight(GgmlType::Q4_0, 16, 256, q4.data());
    auto wk = pack_weight(GgmlType::Q4_K, 16, 256, k4.data());
    auto w8 = pack_weight(GgmlType::Q8_0, 16, 256, q8.data());
    auto w6 = pack_weight(GgmlType::Q6_K, 16, 256, k6.data());
    REQUIRE((w4.is_ok() && wk.is_ok() && w8.is_ok() && w6.is_ok()));
    const bool u = amx_int8_usable();
    CHECK(amx_i8_applicable(**w4, 2) == u);
    CHECK(amx_i8_applicable(**w8, 512) == u);
    CHECK_FALSE(amx_i8_applicable(**w4, 1));
    CHECK_FALSE(amx_i8_applicable(**w6, 8));
    CHECK_FALSE(amx_i8_preferred(**w4, kAmxI8MinTokens - 1));
    CHECK(amx_i8_preferred(**w4, kAmxI8MinTokens) == u);
    CHECK(amx_i8_preferred(**wk, 15) == u);
    CHECK_FALSE(amx_i8_preferred(**wk, kAmxMinTokens));  // prompts: bf16 tiles
    CHECK_FALSE(amx_i8_preferred(**w8, 8));               // Q8_0: amx_q8_rows
  }
  // Every token count 1..17 with AMX on and off: one tile of n tokens
  // (n <= 16) or a padded second tile; rows not a multiple of 16 (masked
  // last panel), a single block per row, chunks split unevenly over threads.
  for (bool amx : {true, false})
    for (int64_t n = 1; n <= 17; ++n) {
      check(GgmlType::Q4_0, 48, 896, n, Isa::kAvx512, 2, amx);
      check(GgmlType::Q4_0, 37, 32, n, Isa::kAvx512, 1, amx);
      check(GgmlType::Q4_K, 40, 512, n, Isa::kAvx512, 2, amx);
      check(GgmlType::Q8_0, 21, 96, n, Isa::kAvx512, 3, amx);
    }
  // Long rows (several unpacked chunks of 32 blocks, the accumulators kept
  // between them), single rows.
  for (int64_t n : {4, 9, 15}) {
    check(GgmlType::Q4_0, 160, 4864, n, Isa::kAvx512, 2, true);
    check(GgmlType::Q4_K, 75, 4864, n, Isa::kAvx512, 2, true);
    check(GgmlType::Q4_K, 1, 256, n, Isa::kAvx512, 1, true);
  }
  // amx_i8_rows called directly for what MatmulRunner does not send it
  // (Q8_0, more than 16 tokens: several token tiles, the last padded)
  // equals the VNNI path up to fp32 summation order: both multiply the
  // same int8 activations with the same weights.
  if (!amx_int8_usable()) return;
  struct Direct {
    GgmlType type;
    int64_t rows, cols, n;
  };
  for (const Direct& c : {Direct{GgmlType::Q4_0, 160, 4864, 33}, Direct{GgmlType::Q4_K, 75, 4864, 70},
                          Direct{GgmlType::Q8_0, 70, 1088, 17}, Direct{GgmlType::Q8_0, 48, 96, 5},
                          Direct{GgmlType::Q4_0, 300, 896, 129}}) {
    INFO(type_name(c.type) << " rows " << c.rows << " cols " << c.cols << " n " << c.n);
    const std::vector<uint8_t> raw = make_weight(c.type, c.rows, c.cols, 31);
    auto w = pack_weight(c.type, c.rows, c.cols, raw.data());
    REQUIRE(w.is_ok());
    const std::vector<float> x = random_floats(c.n * c.cols, 8);
    ThreadPool pool(2);
    MatmulRunner vnni(pool, Isa::kAvx512, false);
    std::vector<float> want(c.n * c.rows), got(c.n * c.rows, -1.f);
    vnni.matmul(**w, x.data(), c.n, want.data());
    REQUIRE(amx_i8_applicable(**w, c.n));
    AmxI8Act a;
    amx_i8_prepare_act(**w, c.n, &a);
    amx_i8_quantize_act(x.data(), 0, c.n, &a);
    amx_i8_rows(**w, a, 0, 32, got.data(), c.rows);  // two panels, then the rest
    amx_i8_rows(**w, a, 32, c.rows, got.data(), c.rows);
    for (int64_t i = 0; i < c.n * c.rows; ++i) {
      const double tol = 1e-4 * (1.0 + std::fabs(want[i]));
      if (std::fabs(got[i] - want[i]) > tol) {
        INFO("index " << i << " got " << got[i] << " want " << want[i]);
        CHECK(std::fabs(got[i] - want[i]) <= tol);
        break;
      }
    }
  }
}

TEST_CASE("matmul: a single row and a long K-quant row") {
  for (Isa isa : supported_isas()) {
    check(GgmlType::Q4_K, 1, 8960, 1, isa, 2);
    check(GgmlType::Q6_K, 3, 8960, 5, isa, 2);
    check(GgmlType::Q5_0, 1, 32, 2, isa, 1);
  }
}

TEST_CASE("matmul: matrix-vector chunks of at least 64 KiB split unevenly over threads") {
  // 40 rows of 504 bytes: one chunk of 32 rows and one of 8; 300 rows of
  // 2736 bytes: chunks of 32 rows, the last partial, full and partial groups.
  for (Isa isa : supported_isas()) {
    check(GgmlType::Q4_0, 40, 896, 1, isa, 2);
    check(GgmlType::Q5_0, 300, 4864, 1, isa, 2);
    check(GgmlType::Q8_0, 300, 4864, 1, isa, 3);
    check(GgmlType::Q6_K, 70, 4864, 1, isa, 2);
  }
}

TEST_CASE("matmul_multi equals one matmul per weight") {
  // Mixed types sharing one input: Q4_0 and Q8_0 share a quantized layout,
  // Q4_K and Q6_K (bs 16) each need their own, F16 takes the float tile;
  // row counts give partial and single chunks.
  const int64_t cols = 512;
  const std::vector<std::pair<GgmlType, int64_t>> specs{
      {GgmlType::Q4_0, 300}, {GgmlType::Q8_0, 40}, {GgmlType::Q4_K, 70},
      {GgmlType::Q6_K, 33}, {GgmlType::F16, 17}, {GgmlType::Q4_0, 1}};
  std::vector<std::vector<uint8_t>> raw;
  std::vector<std::unique_ptr<PackedWeight>> packed;
  for (const auto& [type, rows] : specs) {
    raw.push_back(make_weight(type, rows, cols, 77 + rows));
    auto p = pack_weight(type, rows, cols, raw.back().data());
    REQUIRE(p.is_ok());
    packed.push_back(std::move(*p));
  }
  std::vector<const PackedWeight*> ws;
  for (const auto& p : packed) ws.push_back(p.get());
  for (Isa isa : supported_isas())
    for (int threads : {1, 2, 3})
      for (int64_t n : {1, 4}) {
        INFO("isa " << isa_name(isa) << " threads " << threads << " n " << n);
        const std::vector<float> x = random_floats(n * cols, 5 + n);
        ThreadPool pool(threads);
        MatmulRunner runner(pool, isa);
        std::vector<std::vector<float>> got(ws.size()), want(ws.size());
        std::vector<float*> ys;
        for (size_t i = 0; i < ws.size(); ++i) {
          want[i].assign(n * ws[i]->rows(), -1.f);
          runner.matmul(*ws[i], x.data(), n, want[i].data());
          got[i].assign(n * ws[i]->rows(), -2.f);
          ys.push_back(got[i].data());
        }
        runner.matmul_multi(ws, x.data(), n, ys);
        for (size_t i = 0; i < ws.size(); ++i) {
          INFO("weight " << i << " " << type_name(ws[i]->type()));
          CHECK(got[i] == want[i]);
        }
      }
}

TEST_CASE("matmul_multi of prompts on the AMX tiles (one packed input) equals matmul per weight") {
  // Weights of one column order share the packed activations and one
  // parallel region: Q4_0 (halves), Q8_0 (natural), Q4_K (packed order),
  // partial row chunks and single rows; a mixed list falls back to matmul.
  const int64_t cols = 512;
  const std::vector<std::vector<std::pair<GgmlType, int64_t>>> groups{
      {{GgmlType::Q4_0, 300}, {GgmlType::Q4_0, 40}, {GgmlType::Q4_0, 1}},
      {{GgmlType::Q8_0, 130}, {GgmlType::Q8_0, 64}},
      {{GgmlType::Q4_K, 75}, {GgmlType::Q4_K, 33}},
      {{GgmlType::Q4_0, 48}, {GgmlType::Q8_0, 48}, {GgmlType::Q4_K, 17}}};
  for (const auto& specs : groups)
    for (int threads : {1, 2})
      for (int64_t n : {16, 40}) {
        std::vector<std::vector<uint8_t>> raw;
        std::vector<std::unique_ptr<PackedWeight>> packed;
        std::vector<const PackedWeight*> ws;
        for (const auto& [type, rows] : specs) {
          raw.push_back(make_weight(type, rows, cols, 91 + rows));
          auto p = pack_weight(type, rows, cols, raw.back().data());
          REQUIRE(p.is_ok());
          packed.push_back(std::move(*p));
          ws.push_back(packed.back().get());
        }
        INFO("first " << type_name(ws[0]->type()) << " threads " << threads << " n " << n);
        const std::vector<float> x = random_floats(n * cols, 3 + n);
        ThreadPool pool(threads);
        MatmulRunner runner(pool, active_isa());
        std::vector<std::vector<float>> got(ws.size()), want(ws.size());
        std::vector<float*> ys;
        for (size_t i = 0; i < ws.size(); ++i) {
          want[i].assign(n * ws[i]->rows(), -1.f);
          runner.matmul(*ws[i], x.data(), n, want[i].data());
          got[i].assign(n * ws[i]->rows(), -2.f);
          ys.push_back(got[i].data());
        }
        runner.matmul_multi(ws, x.data(), n, ys);
        for (size_t i = 0; i < ws.size(); ++i) CHECK(got[i] == want[i]);
      }
  // The same shape against the reference.
  if (detected_isa() == Isa::kAvx512)
    check(GgmlType::Q4_0, 300, cols, 40, Isa::kAvx512, 2, true);
}

TEST_CASE("matmul_swiglu on the AMX tiles equals silu(x·gateᵀ) * (x·upᵀ) of two matmuls") {
  if (!amx_usable()) return;
  struct Shape {
    GgmlType type;
    int64_t rows, cols, n;
    int threads;
  };
  // Partial 16-row tiles and 64-row panels, odd token tiles, several column
  // chunks, outputs of 4 MiB (streaming stores), the packed column order.
  const std::vector<Shape> shapes{
      {GgmlType::Q4_0, 100, 896, 16, 1}, {GgmlType::Q4_0, 100, 896, 70, 2},
      {GgmlType::Q4_0, 64, 4864, 40, 2}, {GgmlType::Q8_0, 64, 1088, 33, 1},
      {GgmlType::Q4_K, 48, 512, 20, 2},  {GgmlType::Q4_0, 2048, 64, 520, 2}};
  for (const Shape& c : shapes) {
    INFO(type_name(c.type) << " rows " << c.rows << " cols " << c.cols << " n " << c.n);
    const std::vector<uint8_t> rg = make_weight(c.type, c.rows, c.cols, 5);
    const std::vector<uint8_t> ru = make_weight(c.type, c.rows, c.cols, 6);
    auto g = pack_weight(c.type, c.rows, c.cols, rg.data());
    auto u = pack_weight(c.type, c.rows, c.cols, ru.data());
    REQUIRE((g.is_ok() && u.is_ok()));
    const std::vector<float> x = random_floats(c.n * c.cols, 17);
    ThreadPool pool(c.threads);
    MatmulRunner runner(pool, Isa::kAvx512);
    AmxVector<float> yg(c.n * c.rows), yu(c.n * c.rows), out(c.n * c.rows, -1.f);
    runner.matmul(**g, x.data(), c.n, yg.data());
    runner.matmul(**u, x.data(), c.n, yu.data());
    REQUIRE(runner.matmul_swiglu(**g, **u, x.data(), c.n, out.data()));
    for (int64_t i = 0; i < c.n * c.rows; ++i) {
      const double want = yg[i] / (1.0 + std::exp(-static_cast<double>(yg[i]))) * yu[i];
      if (std::fabs(out[i] - want) > 1e-5 * (1.0 + std::fabs(want))) {
        INFO("index " << i << " got " << out[i] << " want " << want);
        CHECK(std::fabs(out[i] - want) <= 1e-5 * (1.0 + std::fabs(want)));
        break;
      }
    }
  }
  // Not applicable: one token tile short, weights of different shapes.
  const std::vector<uint8_t> raw = make_weight(GgmlType::Q4_0, 32, 64, 5);
  auto a = pack_weight(GgmlType::Q4_0, 32, 64, raw.data());
  auto b = pack_weight(GgmlType::Q4_0, 16, 64, raw.data());
  REQUIRE((a.is_ok() && b.is_ok()));
  ThreadPool pool(1);
  MatmulRunner runner(pool, Isa::kAvx512);
  std::vector<float> x(16 * 64, 1.f), out(16 * 32);
  CHECK_FALSE(runner.matmul_swiglu(**a, **a, x.data(), kAmxMinTokens - 1, out.data()));
  CHECK_FALSE(runner.matmul_swiglu(**a, **b, x.data(), 16, out.data()));
}

TEST_CASE("get_rows equals dequantize_row for every type") {
  for (const Case& c : cases()) {
    const int64_t rows = 9, cols = c.cols.back();
    INFO(type_name(c.type));
    const std::vector<uint8_t> raw = make_weight(c.type, rows, cols, 7);
    auto packed = pack_weight(c.type, rows, cols, raw.data());
    REQUIRE(packed.is_ok());
    ThreadPool pool(1);
    MatmulRunner runner(pool, active_isa());
    const std::vector<int32_t> ids{3, 0, 8, 3};
    std::vector<float> got(ids.size() * cols), want(cols);
    runner.get_rows(**packed, ids.data(), static_cast<int64_t>(ids.size()), got.data());
    for (size_t i = 0; i < ids.size(); ++i) {
      REQUIRE(dequantize_row(c.type, raw.data() + ids[i] * row_size(c.type, cols), want.data(), cols)
                  .is_ok());
      for (int64_t k = 0; k < cols; ++k)
        REQUIRE(std::fabs(got[i * cols + k] - want[k]) <= 1e-6f * (1.f + std::fabs(want[k])));
    }
  }
}

TEST_CASE("pack_weight rejects types it cannot compute with") {
  std::vector<uint8_t> raw(1024);
  auto r = pack_weight(GgmlType::Q2_K, 1, 256, raw.data());
  CHECK_FALSE(r.is_ok());
  CHECK(r.status().message().find("q2_K") != std::string::npos);
  CHECK_FALSE(pack_weight(GgmlType::Q4_0, 1, 48, raw.data()).is_ok());
}

}  // namespace
}  // namespace scn::inference::cpu
