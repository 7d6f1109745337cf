// The AVX-512 matrix-vector kernel (quant_gemv_avx512) against a double
// reference computed from the same quantized activations, so the check is
// tight (only fp32 summation order differs): every quantized type, row
// ranges that start anywhere and end in 1..3-row tails, rows of one block,
// of partial block groups and of several full groups.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

#include "inference/backend/cpu/cpu_features.h"
#include "inference/backend/cpu/matmul_kernels.h"
#include "inference/backend/cpu/quants.h"

namespace scn::inference::cpu {
namespace {

std::vector<float> normal_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  for (size_t i = 0; i < n; i += 61) v[i] *= 6.f;
  return v;
}

void check_gemv(GgmlType type, int64_t rows, int64_t cols) {
  INFO(type_name(type) << " rows " << rows << " cols " << cols);
  const size_t rs = row_size(type, cols);
  std::vector<uint8_t> raw(rs * rows);
  const std::vector<float> wf0 = normal_floats(rows * cols, 17 + rows + cols);
  for (int64_t r = 0; r < rows; ++r)
    REQUIRE(quantize_row(type, wf0.data() + r * cols, raw.data() + r * rs, cols).is_ok());
  std::vector<float> wf(rows * cols);
  for (int64_t r = 0; r < rows; ++r)
    REQUIRE(dequantize_row(type, raw.data() + r * rs, wf.data() + r * cols, cols).is_ok());
  auto packed = pack_weight(type, rows, cols, raw.data());
  REQUIRE(packed.is_ok());
  const PackedWeight& w = **packed;

  const std::vector<float> x = normal_floats(cols, 5 + cols);
  ActQ a;
  resize_act(w, 1, &a);
  quantize_act_scalar(w, x.data(), 0, 1, &a);
  // The activation each weight column meets: d_block * q in packed order.
  std::vector<int32_t> col(cols);
  packed_order_columns(w, col.data());
  std::vector<double> xa(cols);
  const int bs = w.format().bs;
  int64_t gi = 0;
  for (const Group& grp : w.groups()) {
    for (int64_t p = grp.block0 * bs; p < (grp.block0 + grp.g) * bs; ++p) {
      const int64_t j = col[p] / bs - grp.block0;
      xa[col[p]] = static_cast<double>(a.d[gi * 16 + j]) * a.q[p];
    }
    ++gi;
  }

  // Row ranges: all rows, then pieces with odd starts and 1..3-row tails.
  std::vector<std::pair<int64_t, int64_t>> ranges{{0, rows}};
  for (int64_t r0 = 1; r0 < rows; r0 += 5) ranges.push_back({r0, std::min(rows, r0 + 6)});
  for (const auto& [r0, r1] : ranges) {
    INFO("rows [" << r0 << ", " << r1 << ")");
    std::vector<float> y(rows, -7.f);
    quant_gemv_avx512(TileArgs{&w, &a, x.data(), y.data(), rows}, r0, r1);
    for (int64_t r = 0; r < rows; ++r) {
      if (r < r0 || r >= r1) {
        REQUIRE(y[r] == -7.f);  // rows outside the range are not written
        continue;
      }
      double ref = 0, mag = 0;
      for (int64_t c = 0; c < cols; ++c) {
        ref += wf[r * cols + c] * xa[c];
        mag += std::fabs(wf[r * cols + c] * xa[c]);
      }
      INFO("row " << r << " got " << y[r] << " want " << ref);
      REQUIRE(std::fabs(y[r] - ref) <= 2e-6 * mag + 1e-6);
    }
  }
}

TEST_CASE("quant_gemv_avx512: every quantized type, tails and partial groups") {
  if (detected_isa() != Isa::kAvx512) return;
  // Legacy types: one block, a group of 2, 16 + 12 (896), 16 + 1 (544),
  // two full groups (1024). K-quants: 8 + 0, 16 + 8 (768), full (1024).
  const std::vector<int64_t> legacy{32, 64, 544, 896, 1024}, k_quants{256, 768, 1024};
  const GgmlType legacy_types[] = {GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_1,
                                   GgmlType::Q5_0, GgmlType::Q5_1};
  const GgmlType k_types[] = {GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K};
  for (GgmlType t : legacy_types)
    for (int64_t cols : legacy)
      for (int64_t rows : {1, 2, 3, 4, 7, 13}) check_gemv(t, rows, cols);
  for (GgmlType t : k_types)
    for (int64_t cols : k_quants)
      for (int64_t rows : {1, 3, 5, 8, 11}) check_gemv(t, rows, cols);
}

}  // namespace
}  // namespace scn::inference::cpu
