// Every op of the CPU backend (1 and 2 threads) and every kernel set of the
// CPU ops (each ISA this processor runs) against the scalar reference
// (backend/reference.h), table-driven. Tolerances are stated per op.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "inference/backend/backend.h"
#include "inference/backend/cpu/cpu_features.h"
#include "inference/backend/cpu/ops_kernels.h"
#include "inference/backend/cpu/quants.h"
#include "inference/backend/backend_test_util.h"
#include "inference/backend/reference.h"

namespace scn::inference {
namespace {

using testing::check_close;
using testing::cpu_backends;
using testing::random_floats;

// ---- element-wise ops -------------------------------------------------------

struct NormCase { int64_t n, dim; float eps; };
constexpr NormCase kNormCases[] = {{1, 64, 1e-5f}, {3, 896, 1e-6f}, {7, 17, 1e-5f},
                                   {2, 4096, 1e-6f}, {40, 1536, 1e-5f}};

TEST_CASE("rms_norm matches the reference (rtol 1e-5)") {
  for (auto& be : cpu_backends()) {
    for (const NormCase& c : kNormCases) {
      const auto x = random_floats(c.n * c.dim, 1, -3.f, 3.f);
      const auto w = random_floats(c.dim, 2);
      std::vector<float> want(x.size()), got(x.size());
      reference::rms_norm(x.data(), w.data(), want.data(), c.n, c.dim, c.eps);
      be->rms_norm(x.data(), w.data(), got.data(), c.n, c.dim, c.eps);
      check_close(got.data(), want.data(), got.size(), 1e-6, 1e-5,
                  "rms_norm n=" + std::to_string(c.n) + " dim=" + std::to_string(c.dim) +
                      " threads=" + std::to_string(be->n_threads()));
    }
  }
}

struct RopeCase { int64_t n, n_heads, head_dim, n_dims; bool neox; float base, scale; int32_t pos0, step; };
constexpr RopeCase kRopeCases[] = {
    {1, 8, 8, 8, false, 10000.f, 1.f, 0, 1},           // stories260K shapes, position 0
    {5, 8, 8, 8, false, 10000.f, 1.f, 3, 1},
    {5, 8, 8, 8, true, 10000.f, 1.f, 3, 1},
    {3, 14, 64, 64, true, 1000000.f, 1.f, 4000, 977},  // Qwen2.5 base, far positions
    {4, 32, 128, 128, false, 500000.f, 1.f, 30000, 1000},
    {2, 4, 128, 64, false, 10000.f, 1.f, 10, 7},       // partial rotation: n_dims < head_dim
    {2, 4, 128, 64, true, 10000.f, 1.f, 10, 7},
    {6, 2, 64, 64, false, 10000.f, 0.25f, 100, 333},   // linear scaling
    {64, 2, 16, 16, true, 10000.f, 0.5f, 0, 1},
};

TEST_CASE("rope matches the reference (atol 2e-5 for |x| <= 1)") {
  for (auto& be : cpu_backends()) {
    for (const RopeCase& c : kRopeCases) {
      auto want = random_floats(c.n * c.n_heads * c.head_dim, 3);
      auto got = want;
      std::vector<int32_t> pos(c.n);
      for (int64_t i = 0; i < c.n; ++i) pos[i] = c.pos0 + static_cast<int32_t>(i) * c.step;
      RopeParams p;
      p.n_dims = c.n_dims;
      p.freq_base = c.base;
      p.freq_scale = c.scale;
      p.neox = c.neox;
      reference::rope(want.data(), c.n, c.n_heads, c.head_dim, pos.data(), p);
      be->rope(got.data(), c.n, c.n_heads, c.head_dim, pos.data(), p);
      check_close(got.data(), want.data(), got.size(), 2e-5, 0,
                  std::string("rope ") + (c.neox ? "neox" : "norm") + " hd=" +
                      std::to_string(c.head_dim) + " n_dims=" + std::to_string(c.n_dims) +
                      " pos0=" + std::to_string(c.pos0));
    }
  }
}

TEST_CASE("rope with per-pair frequency factors (Llama 3.1) matches the reference") {
  for (auto& be : cpu_backends()) {
    for (bool neox : {false, true}) {
      const auto factors = random_floats(32, 24, 1.f, 8.f);
      auto want = random_floats(5 * 4 * 64, 25);
      auto got = want;
      const int32_t pos[5] = {0, 1, 100, 5000, 60000};
      RopeParams p;
      p.n_dims = 64;
      p.freq_base = 500000.f;
      p.neox = neox;
      p.freq_factors = factors.data();
      reference::rope(want.data(), 5, 4, 64, pos, p);
      be->rope(got.data(), 5, 4, 64, pos, p);
      check_close(got.data(), want.data(), got.size(), 2e-5, 0, "rope with freq_factors");
    }
  }
}

TEST_CASE("rope leaves the dimensions past n_dims and position 0 unchanged") {
  auto be = make_cpu_backend(1);
  const auto x = random_floats(2 * 128, 4);
  auto y = x;
  const int32_t pos[2] = {0, 5};
  RopeParams p;
  p.n_dims = 64;
  be->rope(y.data(), 2, 1, 128, pos, p);
  CHECK(std::equal(x.begin(), x.begin() + 128, y.begin()));         // position 0
  CHECK(std::equal(x.begin() + 192, x.end(), y.begin() + 192));     // dims 64..127
  CHECK_FALSE(std::equal(x.begin() + 128, x.begin() + 192, y.begin() + 128));
}

constexpr int64_t kCounts[] = {1, 15, 16, 17, 1000, 4864 * 3, 100003};

TEST_CASE("swiglu matches the reference (rtol 1e-5), also in place") {
  for (auto& be : cpu_backends()) {
    for (int64_t n : kCounts) {
      const auto g = random_floats(n, 5, -12.f, 12.f);
      const auto u = random_floats(n, 6, -2.f, 2.f);
      std::vector<float> want(n), got(n);
      reference::swiglu(g.data(), u.data(), want.data(), n);
      be->swiglu(g.data(), u.data(), got.data(), n);
      check_close(got.data(), want.data(), n, 1e-6, 1e-5, "swiglu n=" + std::to_string(n));
      auto inplace = g;  // out aliasing gate, as the forward pass calls it
      be->swiglu(inplace.data(), u.data(), inplace.data(), n);
      check_close(inplace.data(), want.data(), n, 1e-6, 1e-5, "swiglu in place");
    }
  }
}

TEST_CASE("add and add_bias equal the reference exactly") {
  for (auto& be : cpu_backends()) {
    for (int64_t n : kCounts) {
      auto want = random_floats(n, 7);
      auto got = want;
      const auto y = random_floats(n, 8);
      reference::add(want.data(), y.data(), n);
      be->add(got.data(), y.data(), n);
      CHECK(std::memcmp(got.data(), want.data(), n * sizeof(float)) == 0);
    }
    for (auto [rows, dim] : {std::pair<int64_t, int64_t>{1, 896}, {7, 128}, {33, 17}, {512, 256}}) {
      auto want = random_floats(rows * dim, 9);
      auto got = want;
      const auto bias = random_floats(dim, 10);
      reference::add_bias(want.data(), bias.data(), rows, dim);
      be->add_bias(got.data(), bias.data(), rows, dim);
      CHECK(std::memcmp(got.data(), want.data(), want.size() * sizeof(float)) == 0);
    }
  }
}

// ---- attention ----------------------------------------------------------------

struct AttnCase { int64_t n_tokens, pos0, n_heads, n_kv_heads, head_dim, stride_pad; };
constexpr AttnCase kAttnCases[] = {
    {1, 0, 8, 4, 8, 0},       // stories260K, first token
    {5, 0, 8, 4, 8, 0},       // stories260K prompt
    {1, 1000, 14, 2, 64, 0},  // Qwen2.5-0.5B decode, long context
    {1, 300, 12, 2, 128, 0},  // Qwen2.5-1.5B decode
    {33, 0, 14, 2, 64, 0},    // prompt
    {17, 40, 6, 2, 80, 8},    // odd head size, padded K/V rows
    {9, 3, 4, 4, 128, 0},     // no GQA
    {64, 100, 8, 1, 64, 0},   // multi-query, chunk after a prefix
    {3, 2, 32, 8, 96, 32},
    {1, 1500, 8, 1, 64, 0},   // one K/V head, long context: keys split over threads
    {1, 2000, 6, 1, 128, 16},
    {1, 700, 4, 1, 80, 0},
};

TEST_CASE("attention matches the reference (atol 1e-5 on values in [-1, 1])") {
  auto backends = cpu_backends();
  backends.push_back(make_cpu_backend(3));  // uneven splits of the keys
  for (auto& be : backends) {
    for (const AttnCase& c : kAttnCases) {
      AttentionParams p;
      p.n_tokens = c.n_tokens;
      p.pos0 = c.pos0;
      p.n_heads = c.n_heads;
      p.n_kv_heads = c.n_kv_heads;
      p.head_dim = c.head_dim;
      p.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
      p.kv_stride = c.n_kv_heads * c.head_dim + c.stride_pad;
      const int64_t kv_len = c.pos0 + c.n_tokens;
      // Larger q spreads the softmax (peaked distributions test the max shift).
      const auto q = random_floats(c.n_tokens * c.n_heads * c.head_dim, 11, -3.f, 3.f);
      const auto k = random_floats(kv_len * p.kv_stride, 12);
      const auto v = random_floats(kv_len * p.kv_stride, 13);
      std::vector<float> want(q.size()), got(q.size(), std::nanf(""));
      reference::attention(q.data(), k.data(), v.data(), want.data(), p);
      be->attention(q.data(), k.data(), v.data(), got.data(), p);
      check_close(got.data(), want.data(), got.size(), 1e-5, 0,
                  "attention n=" + std::to_string(c.n_tokens) + " pos0=" +
                      std::to_string(c.pos0) + " heads=" + std::to_string(c.n_heads) + "/" +
                      std::to_string(c.n_kv_heads) + " hd=" + std::to_string(c.head_dim) +
                      " threads=" + std::to_string(be->n_threads()));
    }
  }
}

TEST_CASE("attention is causal: later K/V rows do not change earlier outputs") {
  auto be = make_cpu_backend(2);
  AttentionParams p{.n_tokens = 6, .pos0 = 0, .n_heads = 4, .n_kv_heads = 2, .head_dim = 64,
                    .scale = 0.125f, .kv_stride = 128};
  const auto q = random_floats(6 * 256, 14);
  auto k = random_floats(6 * 128, 15);
  auto v = random_floats(6 * 128, 16);
  std::vector<float> a(q.size()), b(q.size());
  be->attention(q.data(), k.data(), v.data(), a.data(), p);
  for (int i = 5 * 128; i < 6 * 128; ++i) k[i] = v[i] = 100.f;  // change only the last row
  be->attention(q.data(), k.data(), v.data(), b.data(), p);
  CHECK(std::equal(a.begin(), a.begin() + 5 * 256, b.begin()));
  CHECK_FALSE(std::equal(a.begin() + 5 * 256, a.end(), b.begin() + 5 * 256));
}

TEST_CASE("every CPU kernel set (ISA) matches the reference") {
  for (cpu::Isa isa : cpu::supported_isas()) {
    const cpu::OpsKernels& kern = cpu::ops_kernels_for(isa);
    INFO("isa " << cpu::isa_name(isa));
    for (const NormCase& c : kNormCases) {
      const auto x = random_floats(c.dim, 17, -3.f, 3.f);
      const auto w = random_floats(c.dim, 18);
      std::vector<float> want(c.dim), got(c.dim);
      reference::rms_norm(x.data(), w.data(), want.data(), 1, c.dim, c.eps);
      kern.rms_norm_row(x.data(), w.data(), got.data(), c.dim, c.eps);
      check_close(got.data(), want.data(), c.dim, 1e-6, 1e-5, "rms_norm_row");
    }
    for (int64_t n : kCounts) {
      const auto g = random_floats(n, 19, -90.f, 90.f);  // past exp's clamp range too
      const auto u = random_floats(n, 20);
      std::vector<float> want(n), got(n);
      reference::swiglu(g.data(), u.data(), want.data(), n);
      kern.swiglu(g.data(), u.data(), got.data(), n);
      check_close(got.data(), want.data(), n, 1e-6, 1e-5, "swiglu");
    }
    for (const AttnCase& c : kAttnCases) {
      const int64_t rep = c.n_heads / c.n_kv_heads;
      const int64_t stride = c.n_kv_heads * c.head_dim + c.stride_pad;
      const int64_t kv_len = c.pos0 + c.n_tokens;
      const auto q = random_floats(rep * c.head_dim, 21, -3.f, 3.f);
      const auto k = random_floats(kv_len * stride, 22);
      const auto v = random_floats(kv_len * stride, 23);
      const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
      // The reference over one K/V head: n_heads = rep, n_kv_heads = 1, last token.
      AttentionParams p{.n_tokens = 1, .pos0 = kv_len - 1, .n_heads = rep, .n_kv_heads = 1,
                        .head_dim = c.head_dim, .scale = scale, .kv_stride = stride};
      std::vector<float> want(q.size()), got(q.size()), scratch(rep * kv_len), m(rep), l(rep);
      reference::attention(q.data(), k.data(), v.data(), want.data(), p);
      kern.attend(q.data(), k.data(), v.data(), kv_len, stride, c.head_dim, rep, scale,
                  scratch.data(), got.data(), m.data(), l.data());
      for (int64_t r = 0; r < rep; ++r)
        for (int64_t d = 0; d < c.head_dim; ++d) got[r * c.head_dim + d] /= l[r];
      check_close(got.data(), want.data(), got.size(), 1e-5, 0,
                  "attend hd=" + std::to_string(c.head_dim) + " kv_len=" + std::to_string(kv_len));
    }
  }
}

// ---- weights: matmul and get_rows ----------------------------------------------

// Rows of `type` holding random values (quantized with quantize_row).
std::vector<uint8_t> make_weight(GgmlType type, int64_t rows, int64_t cols, uint32_t seed) {
  const auto f = random_floats(rows * cols, seed);
  std::vector<uint8_t> data(rows * row_size(type, cols));
  if (type == GgmlType::F32) {
    std::memcpy(data.data(), f.data(), data.size());
    return data;
  }
  for (int64_t r = 0; r < rows; ++r) {
    const Status st = quantize_row(type, f.data() + r * cols, data.data() + r * row_size(type, cols), cols);
    REQUIRE_MESSAGE(st.is_ok(), st.to_string());
  }
  return data;
}

// Tolerance of a matmul result relative to Σ|w||x| of its dot product: the
// backend may round activations to 8 bits (quantized types) or 16 bits (F16/BF16).
double matmul_tolerance(GgmlType t) {
  switch (t) {
    case GgmlType::F32: return 1e-5;
    case GgmlType::F16:
    case GgmlType::BF16: return 8e-3;
    default: return 1.2e-2;
  }
}

constexpr GgmlType kWeightTypes[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16,
                                     GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_1,
                                     GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q4_K,
                                     GgmlType::Q5_K, GgmlType::Q6_K};
constexpr int64_t kTokenCounts[] = {1, 2, 7, 64};

TEST_CASE("matmul (matrix-vector and matrix-matrix) and get_rows match the reference") {
  for (auto& be : cpu_backends()) {
    for (GgmlType type : kWeightTypes) {
      const int64_t rows = 80, cols = 512;
      const auto data = make_weight(type, rows, cols, 30);
      auto w = be->prepare_weight(type, rows, cols, data.data());
      REQUIRE_MESSAGE(w.is_ok(), type_name(type) << ": " << w.status().to_string());
      CHECK(w.value()->rows() == rows);
      CHECK(w.value()->cols() == cols);
      CHECK(w.value()->bytes() >= rows * row_size(type, cols) / 2);

      // Dequantized W, for the |w||x| scale of the tolerance.
      std::vector<float> wf(rows * cols);
      std::vector<int32_t> all(rows);
      for (int64_t r = 0; r < rows; ++r) all[r] = static_cast<int32_t>(r);
      reference::get_rows(type, data.data(), rows, cols, all.data(), rows, wf.data());

      for (int64_t n : kTokenCounts) {
        const auto x = random_floats(n * cols, 31 + static_cast<uint32_t>(n), -2.f, 2.f);
        std::vector<float> want(n * rows), got(n * rows, std::nanf(""));
        reference::matmul(type, data.data(), rows, cols, x.data(), n, want.data());
        be->matmul(*w.value(), x.data(), n, got.data());
        size_t bad = 0;
        double worst = 0;
        for (int64_t i = 0; i < n; ++i)
          for (int64_t r = 0; r < rows; ++r) {
            double mag = 0;
            for (int64_t c = 0; c < cols; ++c) mag += std::fabs(wf[r * cols + c] * x[i * cols + c]);
            const double err = std::fabs(got[i * rows + r] - want[i * rows + r]) / (mag + 1e-30);
            worst = std::max(worst, std::isnan(err) ? 1e9 : err);
            if (!(err <= matmul_tolerance(type))) ++bad;
          }
        INFO(type_name(type) << " n=" << n << " threads=" << be->n_threads()
                             << " worst relative error " << worst);
        CHECK(bad == 0);
      }

      const int32_t ids[] = {0, 79, 5, 5, 41};
      std::vector<float> want(5 * cols), got(5 * cols);
      reference::get_rows(type, data.data(), rows, cols, ids, 5, want.data());
      be->get_rows(*w.value(), ids, 5, got.data());
      check_close(got.data(), want.data(), got.size(), 0, 1e-6,
                  std::string("get_rows ") + std::string(type_name(type)));
    }
  }
}

TEST_CASE("matmul_multi equals one matmul per weight on every backend") {
  std::vector<std::unique_ptr<Backend>> backends = cpu_backends();
  backends.push_back(make_reference_backend());
  const int64_t cols = 256;
  const std::pair<GgmlType, int64_t> specs[] = {
      {GgmlType::Q4_0, 96}, {GgmlType::Q8_0, 32}, {GgmlType::Q6_K, 32}, {GgmlType::F32, 40}};
  for (auto& be : backends) {
    std::vector<std::vector<uint8_t>> data;
    std::vector<std::unique_ptr<Weight>> owned;
    std::vector<const Weight*> ws;
    for (const auto& [type, rows] : specs) {
      data.push_back(make_weight(type, rows, cols, 50 + static_cast<uint32_t>(rows)));
      auto w = be->prepare_weight(type, rows, cols, data.back().data());
      REQUIRE(w.is_ok());
      owned.push_back(std::move(w.value()));
      ws.push_back(owned.back().get());
    }
    for (int64_t n : {1, 5}) {
      INFO(be->name() << " threads=" << be->n_threads() << " n=" << n);
      const auto x = random_floats(n * cols, 51 + static_cast<uint32_t>(n), -2.f, 2.f);
      std::vector<std::vector<float>> want, got;
      std::vector<float*> ys;
      for (const Weight* w : ws) {
        want.emplace_back(n * w->rows());
        be->matmul(*w, x.data(), n, want.back().data());
        got.emplace_back(n * w->rows(), std::nanf(""));
      }
      for (auto& g : got) ys.push_back(g.data());
      be->matmul_multi(ws, x.data(), n, ys);
      for (size_t i = 0; i < ws.size(); ++i) CHECK(got[i] == want[i]);
    }
  }
}

TEST_CASE("the reference backend computes what the reference ops do") {
  auto ref = make_reference_backend();
  CHECK(ref->name() == "reference");
  const auto data = make_weight(GgmlType::Q8_0, 16, 64, 40);
  auto w = ref->prepare_weight(GgmlType::Q8_0, 16, 64, data.data());
  REQUIRE(w.is_ok());
  const auto x = random_floats(3 * 64, 41);
  std::vector<float> a(3 * 16), b(3 * 16);
  ref->matmul(*w.value(), x.data(), 3, a.data());
  reference::matmul(GgmlType::Q8_0, data.data(), 16, 64, x.data(), 3, b.data());
  CHECK(a == b);
  // A row length that is not a multiple of the block cannot be prepared.
  auto bad = ref->prepare_weight(GgmlType::Q8_0, 4, 40, data.data());
  CHECK(bad.status().code() == Code::kUnprocessable);
}

}  // namespace
}  // namespace scn::inference
