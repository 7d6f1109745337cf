// The CUDA backend's weight products against the scalar reference
// (backend/reference.h), by normalised mean squared error
// nmse = sum (y - ref)^2 / sum ref^2:
//   matmul (n <= 8: matrix-vector kernels; n > 8: cuBLAS), rms_norm_matmul
//   (norm fused, several weights in one call, mixed types), matmul_add
//   (accumulate), rms_norm_matmul_swiglu and get_rows, for every weight type
//   the backend takes, odd shapes, and n in {1,2,3,5,8,9,16,33,128}.
// Tolerances: the matrix-vector path dequantizes exactly and accumulates in
// fp32 with float activations: 1e-9 (float summation order only). The cuBLAS
// path multiplies half (F16, quantized weights dequantized to half) or
// bfloat16 (BF16 weights) operands with fp32 accumulation, so its error is
// the rounding of x (and of the dequantized weights) to 11 (half) or 8
// (bf16) significant bits: ~1e-7 and ~5e-6 expected, checked at 2e-5 and
// 2e-4. F32 weights use pedantic fp32 cuBLAS: 1e-9.
// Without a usable GPU the cases report themselves skipped.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "inference/backend/backend.h"
#include "inference/backend/cpu/quants.h"
#include "inference/backend/reference.h"

namespace scn::inference {
namespace {

std::unique_ptr<Backend> cuda_or_skip() {
  auto be = make_backend("cuda:0", 1);
  if (!be.is_ok()) {
    MESSAGE("SKIPPED (no GPU): " << be.status().to_string());
    return nullptr;
  }
  return std::move(*be);
}

std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.f, scale);
  std::vector<float> v(n);
  for (auto& f : v) f = dist(rng);
  return v;
}

double nmse(const std::vector<float>& y, const std::vector<float>& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    const double d = static_cast<double>(y[i]) - ref[i];
    num += d * d;
    den += static_cast<double>(ref[i]) * ref[i];
  }
  if (!std::isfinite(num)) return INFINITY;
  return den > 0 ? num / den : num;
}

// A weight in GGUF bytes (host) and prepared on the device.
struct TestWeight {
  GgmlType type;
  int64_t rows, cols;
  std::vector<uint8_t> bytes;
  std::unique_ptr<Weight> dev;
};

TestWeight make_weight(Backend* be, GgmlType t, int64_t rows, int64_t cols, uint32_t seed) {
  TestWeight w{t, rows, cols, std::vector<uint8_t>(row_size(t, cols) * rows), nullptr};
  const auto f = random_floats(static_cast<size_t>(rows * cols), seed, 0.5f);
  for (int64_t r = 0; r < rows; ++r)
    REQUIRE(quantize_row(t, f.data() + r * cols, w.bytes.data() + r * row_size(t, cols), cols).ok());
  auto dev = be->prepare_weight(t, rows, cols, w.bytes.data());
  REQUIRE_MESSAGE(dev.is_ok(), dev.status().to_string());
  w.dev = std::move(*dev);
  CHECK(w.dev->rows() == rows);
  CHECK(w.dev->cols() == cols);
  CHECK(w.dev->bytes() > 0);
  return w;
}

std::vector<float> ref_matmul(const TestWeight& w, const std::vector<float>& x, int64_t n) {
  std::vector<float> y(static_cast<size_t>(n * w.rows));
  reference::matmul(w.type, w.bytes.data(), w.rows, w.cols, x.data(), n, y.data());
  return y;
}

// Device buffers for one case.
struct Dev {
  Backend* be;
  std::vector<BackendBuffer> bufs;
  float* put(const std::vector<float>& h) {
    bufs.emplace_back(be, std::max<size_t>(h.size(), 1) * 4);
    REQUIRE(bufs.back().ok());
    if (!h.empty()) be->upload(bufs.back().get(), h.data(), h.size() * 4);
    return bufs.back().get<float>();
  }
  float* zeros(size_t n) { return put(std::vector<float>(n, 0.f)); }
  std::vector<float> get(const float* p, size_t n) {
    std::vector<float> h(n);
    be->download(h.data(), p, n * 4);
    return h;
  }
};

double tolerance(GgmlType t, int64_t n) {
  if (n <= 8 || t == GgmlType::F32) return 1e-9;
  return t == GgmlType::BF16 ? 2e-4 : 2e-5;
}

struct Shape { int64_t rows, cols; };

std::vector<Shape> shapes_for(GgmlType t) {
  const int64_t b = block_size(t);
  if (b == 1) return {{1, 7}, {7, 33}, {33, 100}, {4100, 64}};
  if (b == 32) return {{1, 32}, {7, 96}, {33, 288}, {4097, 64}};
  return {{1, 256}, {7, 512}, {33, 256}, {4099, 256}};
}

const GgmlType kTypes[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q8_0,
                           GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q6_K};
const int64_t kNs[] = {1, 2, 3, 5, 8, 9, 16, 33, 128};

std::string label(GgmlType t, Shape s, int64_t n, const char* op) {
  return std::string(type_name(t)) + " " + std::to_string(s.rows) + "x" + std::to_string(s.cols) +
         " n=" + std::to_string(n) + " " + op;
}

TEST_CASE("cuda matmul: plain, norm, accumulate and swiglu vs the reference") {
  auto be = cuda_or_skip();
  if (!be) return;
  uint32_t seed = 1;
  for (GgmlType t : kTypes) {
    for (Shape s : shapes_for(t)) {
      TestWeight w = make_weight(be.get(), t, s.rows, s.cols, seed++);
      TestWeight w2 = make_weight(be.get(), t, s.rows, s.cols, seed++);
      const auto norm_w = random_floats(static_cast<size_t>(s.cols), seed++, 1.f);
      for (int64_t n : kNs) {
        if (s.rows > 1000 && n > 9 && n != 128) continue;  // keep the reference cheap
        Dev d{be.get(), {}};
        const auto x = random_floats(static_cast<size_t>(n * s.cols), seed++);
        const float* dx = d.put(x);
        const size_t ny = static_cast<size_t>(n * s.rows);

        // plain
        float* dy = d.zeros(ny);
        be->matmul(*w.dev, dx, n, dy);
        const auto ref = ref_matmul(w, x, n);
        const double e_plain = nmse(d.get(dy, ny), ref);
        CHECK_MESSAGE(e_plain <= tolerance(t, n), label(t, s, n, "plain") << " nmse " << e_plain);

        // accumulate (matmul_add): y0 + x·Wᵀ
        const auto y0 = random_floats(ny, seed++);
        float* dacc = d.put(y0);
        float* tmp = d.zeros(ny);
        be->matmul_add(*w.dev, dx, n, dacc, tmp);
        auto ref_acc = ref;
        for (size_t i = 0; i < ny; ++i) ref_acc[i] += y0[i];
        const double e_acc = nmse(d.get(dacc, ny), ref_acc);
        CHECK_MESSAGE(e_acc <= tolerance(t, n), label(t, s, n, "accumulate") << " nmse " << e_acc);

        // norm: rms_norm(x) * norm_w, then two weights in one call
        const float eps = 1e-5f;
        std::vector<float> xn(x.size());
        reference::rms_norm(x.data(), norm_w.data(), xn.data(), n, s.cols, eps);
        const float* dnorm = d.put(norm_w);
        float* dtmp = d.zeros(x.size());
        float* dy1 = d.zeros(ny);
        float* dy2 = d.zeros(ny);
        const Weight* ws[] = {w.dev.get(), w2.dev.get()};
        float* ys[] = {dy1, dy2};
        be->rms_norm_matmul(ws, dx, dnorm, eps, n, dtmp, ys);
        const double e_n1 = nmse(d.get(dy1, ny), ref_matmul(w, xn, n));
        const double e_n2 = nmse(d.get(dy2, ny), ref_matmul(w2, xn, n));
        // the norm adds float rounding of x (~1e-14 nmse) on top of the product
        CHECK_MESSAGE(e_n1 <= tolerance(t, n) * 2, label(t, s, n, "norm [0]") << " nmse " << e_n1);
        CHECK_MESSAGE(e_n2 <= tolerance(t, n) * 2, label(t, s, n, "norm [1]") << " nmse " << e_n2);

        // swiglu: silu(xn·Wgᵀ) * (xn·Wuᵀ)
        float* dg = d.zeros(ny);
        float* du = d.zeros(ny);
        float* dout = d.zeros(ny);
        be->rms_norm_matmul_swiglu(*w.dev, *w2.dev, dx, dnorm, eps, n, dtmp, dg, du, dout);
        const auto g = ref_matmul(w, xn, n), u = ref_matmul(w2, xn, n);
        std::vector<float> ref_sw(ny);
        reference::swiglu(g.data(), u.data(), ref_sw.data(), static_cast<int64_t>(ny));
        const double e_sw = nmse(d.get(dout, ny), ref_sw);
        CHECK_MESSAGE(e_sw <= tolerance(t, n) * 4, label(t, s, n, "swiglu") << " nmse " << e_sw);
      }
    }
  }
}

TEST_CASE("cuda matmul_multi: different row counts and mixed types in one call") {
  auto be = cuda_or_skip();
  if (!be) return;
  const int64_t cols = 512;  // a multiple of every block size
  struct Spec { GgmlType t; int64_t rows; };
  const std::vector<std::vector<Spec>> groups = {
      {{GgmlType::Q8_0, 64}, {GgmlType::Q8_0, 16}, {GgmlType::Q8_0, 16}},          // q, k, v
      {{GgmlType::Q4_K, 96}, {GgmlType::Q6_K, 33}, {GgmlType::Q4_K, 7}},           // mixed
      {{GgmlType::BF16, 5}, {GgmlType::F16, 9}, {GgmlType::F32, 3}, {GgmlType::Q4_0, 40},
       {GgmlType::BF16, 1}, {GgmlType::BF16, 2}, {GgmlType::BF16, 3}, {GgmlType::BF16, 4},
       {GgmlType::BF16, 6}}};  // more same-type weights than one launch takes
  uint32_t seed = 100;
  for (const auto& g : groups) {
    std::vector<TestWeight> tw;
    for (const Spec& s : g) tw.push_back(make_weight(be.get(), s.t, s.rows, cols, seed++));
    for (int64_t n : kNs) {
      Dev d{be.get(), {}};
      const auto x = random_floats(static_cast<size_t>(n * cols), seed++);
      const float* dx = d.put(x);
      std::vector<const Weight*> ws;
      std::vector<float*> ys;
      for (auto& w : tw) {
        ws.push_back(w.dev.get());
        ys.push_back(d.zeros(static_cast<size_t>(n * w.rows)));
      }
      be->matmul_multi(ws, dx, n, ys);
      for (size_t i = 0; i < tw.size(); ++i) {
        const double e = nmse(d.get(ys[i], static_cast<size_t>(n * tw[i].rows)), ref_matmul(tw[i], x, n));
        CHECK_MESSAGE(e <= tolerance(tw[i].type, n),
                      label(tw[i].type, {tw[i].rows, cols}, n, "multi") << " [" << i << "] nmse " << e);
      }
    }
  }
}

TEST_CASE("cuda get_rows: every type, out-of-range ids give zeros") {
  auto be = cuda_or_skip();
  if (!be) return;
  uint32_t seed = 500;
  for (GgmlType t : kTypes) {
    for (Shape s : shapes_for(t)) {
      TestWeight w = make_weight(be.get(), t, s.rows, s.cols, seed++);
      // The last id is out of range: its row must come back as zeros.
      std::vector<int32_t> ids = {0, static_cast<int32_t>(s.rows - 1), static_cast<int32_t>(s.rows / 2), 0,
                                  static_cast<int32_t>(s.rows)};
      const int64_t n = static_cast<int64_t>(ids.size());
      Dev d{be.get(), {}};
      BackendBuffer dids(be.get(), ids.size() * 4);
      REQUIRE(dids.ok());
      be->upload(dids.get(), ids.data(), ids.size() * 4);
      float* out = d.zeros(static_cast<size_t>(n * s.cols));
      be->get_rows(*w.dev, dids.get<int32_t>(), n, out);
      std::vector<float> ref(static_cast<size_t>(n * s.cols));
      reference::get_rows(t, w.bytes.data(), s.rows, s.cols, ids.data(), n - 1, ref.data());
      const auto got = d.get(out, ref.size());
      bool same = true;
      for (size_t i = 0; i < ref.size(); ++i) same = same && got[i] == ref[i];
      CHECK_MESSAGE(same, label(t, s, n, "get_rows (bit-exact)"));
    }
  }
}

TEST_CASE("cuda prepare_weight: a type the kernels do not take is refused by name") {
  auto be = cuda_or_skip();
  if (!be) return;
  std::vector<uint8_t> bytes(row_size(GgmlType::Q5_K, 256) * 2);
  auto w = be->prepare_weight(GgmlType::Q5_K, 2, 256, bytes.data());
  REQUIRE_FALSE(w.is_ok());
  CHECK(w.status().code() == Code::kUnprocessable);
  CHECK(w.status().to_string().find("q5_K") != std::string::npos);
}

}  // namespace
}  // namespace scn::inference
