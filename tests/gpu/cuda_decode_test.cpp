// The CUDA weight layouts (cuda_weight.h, repack_weight) and their decoders
// (cuda_decode.cuh) run on the host: every element decodes bit-exactly to
// dequantize_row's value, and unit_dot (the matrix-vector inner product, 2
// rows x 3 activation rows) matches the double-precision product within
// float rounding (nmse <= 1e-10). Needs no GPU itself.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "inference/backend/cpu/quants.h"
#include "inference/backend/cuda/cuda_decode.cuh"

namespace scn::inference::cuda {
namespace {

template <class D>
void check_type(GgmlType t, int64_t rows, int64_t cols) {
  CAPTURE(std::string(type_name(t)));
  CAPTURE(rows);
  CAPTURE(cols);
  std::mt19937 rng(static_cast<uint32_t>(rows * 31 + cols));
  std::normal_distribution<float> nd(0, 1);
  std::vector<float> f(static_cast<size_t>(rows * cols));
  for (auto& v : f) v = nd(rng);
  const size_t rs = row_size(t, cols);
  std::vector<uint8_t> bytes(rs * static_cast<size_t>(rows));
  std::vector<float> deq(f.size());
  for (int64_t r = 0; r < rows; ++r) {
    REQUIRE(quantize_row(t, f.data() + r * cols, bytes.data() + r * rs, cols).ok());
    REQUIRE(dequantize_row(t, bytes.data() + r * rs, deq.data() + r * cols, cols).ok());
  }
  HostLayout h;
  WeightView v;
  repack_weight(t, rows, cols, bytes.data(), &h, &v);
  v.q = h.q_direct ? static_cast<const uint8_t*>(h.q_direct) : h.q.data();
  v.s = h.s.empty() ? nullptr : h.s.data();
  v.d = h.d.empty() ? nullptr : reinterpret_cast<const uint16_t*>(h.d.data());
  REQUIRE(v.units * static_cast<int64_t>(unit_elems(t)) >= cols);
  REQUIRE(v.q_stride % 16 == 0);

  // Decoding (get_rows / dequantize kernels): bit-exact, every column once.
  std::vector<float> out(f.size(), NAN);
  for (int64_t r = 0; r < rows; ++r)
    for (int u = 0; u < v.units; ++u) {
      typename D::Raw raw;
      D::load(v, r, u, raw);
      for (int run = 0; run < D::kRuns; ++run) {
        float vals[D::kRunLen];
        D::run_vals(raw, run, vals);
        const int64_t c0 = D::run_col(u, run);
        const float sc = D::run_scale(raw, run), mn = D::run_min(raw, run);
        for (int k = 0; k < D::kRunLen; ++k)
          if (c0 + k < cols) out[static_cast<size_t>(r * cols + c0 + k)] = sc * vals[k] - mn;
      }
    }
  int bad = 0;
  for (size_t i = 0; i < out.size(); ++i) bad += !(out[i] == deq[i]);
  CHECK(bad == 0);

  // unit_dot over row pairs, x padded with zeros to a multiple of 8.
  constexpr int N = 3;
  const int64_t ldx = (cols + 7) / 8 * 8;
  std::vector<float> x(static_cast<size_t>(N * ldx), 0.f);
  for (int t2 = 0; t2 < N; ++t2)
    for (int64_t c = 0; c < cols; ++c) x[static_cast<size_t>(t2 * ldx + c)] = nd(rng);
  double num = 0, den = 0;
  for (int64_t r0 = 0; r0 < rows; r0 += 2) {
    float acc[2][N] = {};
    const bool valid[2] = {true, r0 + 1 < rows};
    for (int u = 0; u < v.units; ++u) {
      typename D::Raw raw[2];
      for (int r = 0; r < 2; ++r) {
        raw[r] = typename D::Raw{};
        if (valid[r]) D::load(v, r0 + r, u, raw[r]);
      }
      unit_dot<D, N, 2>(raw, u, x.data(), ldx, acc);
    }
    for (int r = 0; r < 2; ++r) {
      if (!valid[r]) {
        for (int t2 = 0; t2 < N; ++t2) CHECK(acc[r][t2] == 0.f);  // zero raw adds nothing
        continue;
      }
      for (int t2 = 0; t2 < N; ++t2) {
        double ref = 0;
        for (int64_t c = 0; c < cols; ++c)
          ref += static_cast<double>(deq[static_cast<size_t>((r0 + r) * cols + c)]) *
                 x[static_cast<size_t>(t2 * ldx + c)];
        num += (acc[r][t2] - ref) * (acc[r][t2] - ref);
        den += ref * ref;
      }
    }
  }
  CHECK(num / den <= 1e-10);
}

TEST_CASE("cuda decoders: repacked layouts decode exactly, unit_dot matches (host)") {
  check_type<Dec<GgmlType::F32>>(GgmlType::F32, 5, 7);
  check_type<Dec<GgmlType::F32>>(GgmlType::F32, 6, 64);
  check_type<Dec<GgmlType::F16>>(GgmlType::F16, 5, 33);
  check_type<Dec<GgmlType::BF16>>(GgmlType::BF16, 7, 100);
  check_type<Dec<GgmlType::Q8_0>>(GgmlType::Q8_0, 7, 96);
  check_type<Dec<GgmlType::Q4_0>>(GgmlType::Q4_0, 7, 288);
  check_type<Dec<GgmlType::Q4_K>>(GgmlType::Q4_K, 5, 512);
  check_type<Dec<GgmlType::Q6_K>>(GgmlType::Q6_K, 5, 768);
}

}  // namespace
}  // namespace scn::inference::cuda
