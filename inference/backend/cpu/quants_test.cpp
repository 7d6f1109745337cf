// Reference quantization: fp16/bf16 conversion, hand-built blocks of every
// layout, round-trip error bounds per type, and dequantize of a real file.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <immintrin.h>
#include <random>
#include <vector>

#include "inference/backend/cpu/quants.h"
#include "inference/gguf/gguf.h"
#include "tests/testing.h"

namespace scn::inference {
namespace {

uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

TEST_CASE("fp16: known values") {
  struct Case { float f; uint16_t h; };
  const Case cases[] = {
      {0.0f, 0x0000},        {-0.0f, 0x8000},        {1.0f, 0x3C00},
      {-2.0f, 0xC000},       {0.5f, 0x3800},         {65504.0f, 0x7BFF},
      {0.099975586f, 0x2E66}, {std::ldexp(1.0f, -14), 0x0400},  // smallest normal
      {std::ldexp(1.0f, -24), 0x0001},                          // smallest subnormal
      {std::ldexp(1023.0f, -24), 0x03FF},                       // largest subnormal
      {INFINITY, 0x7C00},    {-INFINITY, 0xFC00},
  };
  for (const auto& c : cases) {
    CAPTURE(c.f);
    CHECK(fp32_to_fp16(c.f) == c.h);
    CHECK(bits_of(fp16_to_fp32(c.h)) == bits_of(c.f));
  }
  // Rounding: to nearest, ties to even; overflow to inf; underflow to zero.
  CHECK(fp32_to_fp16(0.1f) == 0x2E66);
  CHECK(fp32_to_fp16(1.0f + std::ldexp(1.0f, -11)) == 0x3C00);           // tie -> even
  CHECK(fp32_to_fp16(1.0f + 3 * std::ldexp(1.0f, -11)) == 0x3C02);       // tie -> even (up)
  CHECK(fp32_to_fp16(1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -20)) == 0x3C01);
  CHECK(fp32_to_fp16(65519.0f) == 0x7BFF);
  CHECK(fp32_to_fp16(65520.0f) == 0x7C00);
  CHECK(fp32_to_fp16(1e10f) == 0x7C00);
  CHECK(fp32_to_fp16(std::ldexp(1.0f, -25)) == 0x0000);                  // tie -> even (0)
  CHECK(fp32_to_fp16(std::ldexp(1.5f, -25)) == 0x0001);
  CHECK(fp32_to_fp16(std::ldexp(3.0f, -25)) == 0x0002);                  // 1.5 ulp tie -> 2
  CHECK(fp32_to_fp16(1e-10f) == 0x0000);
  CHECK(std::isnan(fp16_to_fp32(fp32_to_fp16(NAN))));
}

TEST_CASE("fp16: every half value round-trips through fp32") {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    float f = fp16_to_fp32(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      CHECK(((h & 0x7C00) == 0x7C00 && (h & 0x3FF) != 0));
      continue;
    }
    if (fp32_to_fp16(f) != h) FAIL("half ", h, " -> ", f, " -> ", fp32_to_fp16(f));
  }
}

__attribute__((target("f16c"))) uint16_t hw_fp16(float f) {
  return _cvtss_sh(f, 0);
}

TEST_CASE("fp16: conversion agrees with the F16C instruction") {
  if (!__builtin_cpu_supports("f16c")) return;
  std::mt19937 rng(7);
  std::uniform_int_distribution<uint32_t> any;
  for (int i = 0; i < 200000; ++i) {
    uint32_t u = any(rng);
    // Bias towards the half range: exponents 100..150.
    if (i % 2) u = (u & 0x807FFFFF) | ((100 + (u >> 8) % 50) << 23);
    float f;
    std::memcpy(&f, &u, 4);
    if (std::isnan(f)) continue;
    if (fp32_to_fp16(f) != hw_fp16(f)) FAIL("fp32 bits ", u, ": ", fp32_to_fp16(f), " vs ", hw_fp16(f));
  }
}

TEST_CASE("bf16") {
  CHECK(fp32_to_bf16(1.0f) == 0x3F80);
  CHECK(fp32_to_bf16(-2.0f) == 0xC000);
  CHECK(bf16_to_fp32(0x3F80) == 1.0f);
  CHECK(fp32_to_bf16(1.0f + std::ldexp(1.0f, -8)) == 0x3F80);             // tie -> even
  CHECK(fp32_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)) == 0x3F82);         // tie -> even (up)
  CHECK(fp32_to_bf16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)) == 0x3F81);
  CHECK(std::isnan(bf16_to_fp32(fp32_to_bf16(NAN))));
  for (uint32_t h = 0; h < 0x10000; h += 7) {
    float f = bf16_to_fp32(static_cast<uint16_t>(h));
    if (!std::isnan(f)) CHECK(fp32_to_bf16(f) == h);
  }
}

// ---- hand-built blocks ---------------------------------------------------------

std::vector<float> dequant(GgmlType t, const std::vector<uint8_t>& block, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n));
  REQUIRE(block.size() == row_size(t, n));
  REQUIRE(dequantize_row(t, block.data(), out.data(), n).is_ok());
  return out;
}

void put16(std::vector<uint8_t>& b, size_t at, uint16_t v) { std::memcpy(b.data() + at, &v, 2); }

TEST_CASE("known blocks: q4_0, q4_1, q5_0, q5_1, q8_0") {
  {  // q4_0 {half d; u8 qs[16]}: element j low nibble, j+16 high nibble, value (q-8)*d
    std::vector<uint8_t> b(18);
    put16(b, 0, 0x4000);  // d = 2
    for (int j = 0; j < 16; ++j) b[2 + j] = static_cast<uint8_t>(j | ((15 - j) << 4));
    auto y = dequant(GgmlType::Q4_0, b, 32);
    for (int j = 0; j < 16; ++j) {
      CHECK(y[j] == 2.0f * (j - 8));
      CHECK(y[j + 16] == 2.0f * (7 - j));
    }
  }
  {  // q4_1 {half d, m; u8 qs[16]}: q*d + m
    std::vector<uint8_t> b(20);
    put16(b, 0, 0x3800);  // d = 0.5
    put16(b, 2, 0xBC00);  // m = -1
    for (int j = 0; j < 16; ++j) b[4 + j] = static_cast<uint8_t>(j | (3 << 4));
    auto y = dequant(GgmlType::Q4_1, b, 32);
    for (int j = 0; j < 16; ++j) {
      CHECK(y[j] == 0.5f * j - 1);
      CHECK(y[j + 16] == 0.5f);
    }
  }
  {  // q5_0 {half d; u8 qh[4]; u8 qs[16]}: fifth bit of element j is qh bit j
    std::vector<uint8_t> b(22);
    put16(b, 0, 0x3C00);  // d = 1
    uint32_t qh = 0x80000001u;  // elements 0 and 31 get +16
    std::memcpy(b.data() + 2, &qh, 4);
    for (int j = 0; j < 16; ++j) b[6 + j] = static_cast<uint8_t>(j | (j << 4));
    auto y = dequant(GgmlType::Q5_0, b, 32);
    CHECK(y[0] == 0.0f);           // 0 + 16 - 16
    CHECK(y[1] == -15.0f);         // 1 - 16
    CHECK(y[15] == -1.0f);
    CHECK(y[16] == -16.0f);        // 0 - 16
    CHECK(y[31] == 15.0f);         // 15 + 16 - 16
  }
  {  // q5_1 {half d, m; u8 qh[4]; u8 qs[16]}
    std::vector<uint8_t> b(24);
    put16(b, 0, 0x3C00);
    put16(b, 2, 0x4000);  // m = 2
    uint32_t qh = 0x00010000u;  // element 16
    std::memcpy(b.data() + 4, &qh, 4);
    auto y = dequant(GgmlType::Q5_1, b, 32);
    CHECK(y[0] == 2.0f);
    CHECK(y[16] == 18.0f);
  }
  {  // q8_0 {half d; i8 qs[32]}
    std::vector<uint8_t> b(34);
    put16(b, 0, 0x3400);  // d = 0.25
    for (int j = 0; j < 32; ++j) b[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(j * 8 - 128));
    auto y = dequant(GgmlType::Q8_0, b, 32);
    for (int j = 0; j < 32; ++j) CHECK(y[j] == 0.25f * (j * 8 - 128));
  }
}

TEST_CASE("known blocks: q4_K, q5_K, q6_K") {
  {  // q4_K {half d, dmin; u8 scales[12]; u8 qs[128]}
    std::vector<uint8_t> b(144);
    put16(b, 0, 0x3C00);  // d = 1
    put16(b, 2, 0x3800);  // dmin = 0.5
    // Sub-block j: scale j+1 (6 bits), min 2j. j < 4: scales[j], scales[j+4];
    // j >= 4: low nibbles in scales[j+4], high two bits in the top of scales[j-4] / scales[j].
    uint8_t* s = b.data() + 4;
    for (int j = 0; j < 8; ++j) {
      int sc = j + 1 + (j >= 6 ? 40 : 0), mn = 2 * j + (j == 7 ? 48 : 0);
      if (j < 4) {
        s[j] = static_cast<uint8_t>(sc);
        s[j + 4] = static_cast<uint8_t>(mn);
      } else {
        s[j + 4] = static_cast<uint8_t>((sc & 0xF) | ((mn & 0xF) << 4));
        s[j - 4] |= static_cast<uint8_t>((sc >> 4) << 6);
        s[j] |= static_cast<uint8_t>((mn >> 4) << 6);
      }
    }
    // 64-element groups: 32 bytes, low nibbles = sub-block 2g, high = 2g+1.
    for (int g = 0; g < 4; ++g)
      for (int l = 0; l < 32; ++l) b[16 + 32 * g + l] = static_cast<uint8_t>((l % 16) | ((15 - l % 16) << 4));
    auto y = dequant(GgmlType::Q4_K, b, 256);
    for (int j = 0; j < 8; ++j) {
      int sc = j + 1 + (j >= 6 ? 40 : 0), mn = 2 * j + (j == 7 ? 48 : 0);
      for (int l = 0; l < 32; ++l) {
        int q = j % 2 == 0 ? l % 16 : 15 - l % 16;
        CHECK(y[32 * j + l] == static_cast<float>(sc * q) - 0.5f * mn);
      }
    }
  }
  {  // q5_K {half d, dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]}: fifth bit of
     // sub-block j, element l is bit j of qh[l].
    std::vector<uint8_t> b(176);
    put16(b, 0, 0x3C00);
    put16(b, 2, 0x0000);
    for (int j = 0; j < 4; ++j) b[4 + j] = 1;        // scales of sub-blocks 0..3
    for (int j = 4; j < 8; ++j) b[4 + j + 4] = 1;    // sub-blocks 4..7 (low nibble)
    for (int l = 0; l < 32; ++l) b[16 + l] = static_cast<uint8_t>(l % 2 ? 0xAA : 0x55);
    for (int i = 0; i < 128; ++i) b[48 + i] = 0x53;  // low nibble 3, high 5
    auto y = dequant(GgmlType::Q5_K, b, 256);
    for (int j = 0; j < 8; ++j)
      for (int l = 0; l < 32; ++l) {
        bool hi = ((l % 2 ? 0xAA : 0x55) >> j) & 1;
        CHECK(y[32 * j + l] == static_cast<float>((j % 2 ? 5 : 3) + (hi ? 16 : 0)));
      }
  }
  {  // q6_K {u8 ql[128]; u8 qh[64]; i8 scales[16]; half d}: value (q - 32) * d * scale
    std::vector<uint8_t> b(210);
    for (int i = 0; i < 128; ++i) b[i] = 0x21;        // low nibble 1, high nibble 2
    for (int i = 0; i < 64; ++i) b[128 + i] = 0xE4;   // 2-bit fields 0,1,2,3
    for (int i = 0; i < 16; ++i) b[192 + i] = static_cast<uint8_t>(static_cast<int8_t>(i - 8));
    put16(b, 208, 0x3800);  // d = 0.5
    auto y = dequant(GgmlType::Q6_K, b, 256);
    // In each 128-half, element l+32k: ql nibble (k<2: low, else high) of
    // ql[l + 32*(k%2)], two bits k of qh[l], scale index 8*half + l/16 + 2k.
    for (int half = 0; half < 2; ++half)
      for (int k = 0; k < 4; ++k)
        for (int l = 0; l < 32; ++l) {
          int q = (k < 2 ? 1 : 2) | (k << 4);
          int sc = 8 * half + l / 16 + 2 * k - 8;
          CHECK(y[128 * half + 32 * k + l] == 0.5f * sc * (q - 32));
        }
  }
}

TEST_CASE("known quantization output: q8_0 and q4_0 bytes") {
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j - 16);  // amax 16 at j=0
  std::vector<uint8_t> q8(34);
  REQUIRE(quantize_row(GgmlType::Q8_0, x.data(), q8.data(), 32).is_ok());
  uint16_t d;
  std::memcpy(&d, q8.data(), 2);
  CHECK(d == fp32_to_fp16(16.0f / 127));
  for (int j = 0; j < 32; ++j)
    CHECK(static_cast<int8_t>(q8[2 + j]) == static_cast<int>(std::round((j - 16) * (127.0f / 16))));
  std::vector<uint8_t> q4(18);
  REQUIRE(quantize_row(GgmlType::Q4_0, x.data(), q4.data(), 32).is_ok());
  std::memcpy(&d, q4.data(), 2);
  CHECK(d == fp32_to_fp16(2.0f));  // max is -16: d = -16 / -8
  // x/d + 8.5 truncated: j-16 -> (j-16)/2 + 8.5 -> j/2 + 0.5 -> floor; clamped at 15.
  for (int j = 0; j < 16; ++j) {
    CHECK((q4[2 + j] & 0xF) == std::min(15, static_cast<int>(j / 2.0f + 0.5f)));
    CHECK((q4[2 + j] >> 4) == std::min(15, static_cast<int>((j + 16) / 2.0f + 0.5f)));
  }
}

// ---- round trips on random data -------------------------------------------------

struct Tolerance {
  GgmlType type;
  double max_rel_rmse;  // RMS error / RMS of the data
};

TEST_CASE("quantize -> dequantize round trip error per type") {
  const Tolerance table[] = {
      {GgmlType::F32, 0.0},      {GgmlType::F16, 0.0005},   {GgmlType::BF16, 0.004},
      {GgmlType::Q8_0, 0.006},   {GgmlType::Q6_K, 0.025},   {GgmlType::Q5_0, 0.045},
      {GgmlType::Q5_1, 0.04},    {GgmlType::Q5_K, 0.045},   {GgmlType::Q4_0, 0.1},
      {GgmlType::Q4_1, 0.085},   {GgmlType::Q4_K, 0.09},
  };
  std::mt19937 rng(1234);
  const int64_t n = 4096;
  for (int dist = 0; dist < 3; ++dist) {
    std::vector<float> x(n);
    std::normal_distribution<float> normal(0.0f, 0.02f);
    std::uniform_real_distribution<float> uni(0.5f, 3.0f);
    for (int64_t i = 0; i < n; ++i) {
      if (dist == 0) x[i] = normal(rng);
      else if (dist == 1) x[i] = uni(rng);                         // all positive, offset
      else x[i] = normal(rng) * (1 + static_cast<float>(i / 256)); // scale varies by block
    }
    double rms = 0;
    for (float v : x) rms += static_cast<double>(v) * v;
    rms = std::sqrt(rms / n);
    for (const auto& t : table) {
      CAPTURE(type_name(t.type));
      CAPTURE(dist);
      REQUIRE(can_quantize(t.type, n));
      std::vector<uint8_t> q(row_size(t.type, n));
      std::vector<float> y(n);
      REQUIRE(quantize_row(t.type, x.data(), q.data(), n).is_ok());
      REQUIRE(dequantize_row(t.type, q.data(), y.data(), n).is_ok());
      double err = 0;
      for (int64_t i = 0; i < n; ++i) err += (static_cast<double>(y[i]) - x[i]) * (y[i] - x[i]);
      double rel = std::sqrt(err / n) / rms;
      CHECK(rel <= t.max_rel_rmse);
      // Quantizing the dequantized values again reproduces them (the grid is a fixed point)
      // for the symmetric legacy types.
      if (t.type == GgmlType::Q8_0 || t.type == GgmlType::F16 || t.type == GgmlType::BF16) {
        std::vector<uint8_t> q2(q.size());
        REQUIRE(quantize_row(t.type, y.data(), q2.data(), n).is_ok());
        CHECK(q2 == q);
      }
    }
  }
}

TEST_CASE("all-zero input gives zero blocks and zero output") {
  for (GgmlType t : {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0,
                     GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K}) {
    CAPTURE(type_name(t));
    std::vector<float> x(256, 0.0f), y(256, 1.0f);
    std::vector<uint8_t> q(row_size(t, 256), 0xAB);
    REQUIRE(quantize_row(t, x.data(), q.data(), 256).is_ok());
    REQUIRE(dequantize_row(t, q.data(), y.data(), 256).is_ok());
    for (float v : y) CHECK(v == 0.0f);
  }
}

TEST_CASE("bad arguments") {
  std::vector<float> x(64);
  std::vector<uint8_t> q(1024);
  CHECK(!can_quantize(GgmlType::Q8_0, 33));
  CHECK(!can_quantize(GgmlType::Q4_K, 128));
  CHECK(can_quantize(GgmlType::F16, 3));
  CHECK(!can_quantize(GgmlType::Q2_K, 256));
  CHECK(quantize_row(GgmlType::Q8_0, x.data(), q.data(), 48).code() == Code::kInvalidArgument);
  CHECK(quantize_row(GgmlType::Q4_K, x.data(), q.data(), 64).code() == Code::kInvalidArgument);
  CHECK(quantize_row(GgmlType::Q2_K, x.data(), q.data(), 256).code() == Code::kUnprocessable);
  CHECK(dequantize_row(static_cast<GgmlType>(16) /* iq2_xxs */, q.data(), x.data(), 32).code() == Code::kUnprocessable);
}

TEST_CASE("dequantize of stories260K's F32 tensors is the identity") {
  auto f = GgufFile::open(testing::shared_path("models/stories260K.gguf"));
  REQUIRE_MESSAGE(f.is_ok(), f.status().to_string());
  for (const auto& t : (*f)->tensors()) {
    CAPTURE(t.name);
    REQUIRE(t.type == GgmlType::F32);
    std::vector<float> y(static_cast<size_t>(t.n_elements()));
    REQUIRE(dequantize_row(GgmlType::F32, t.data, y.data(), t.n_elements()).is_ok());
    CHECK(std::memcmp(y.data(), t.data, t.nbytes) == 0);
    // F32 -> F16 -> F32 stays within half precision.
    std::vector<uint16_t> h(y.size());
    REQUIRE(quantize_row(GgmlType::F16, y.data(), h.data(), t.n_elements()).is_ok());
    for (size_t i = 0; i < y.size(); i += 97)
      CHECK(std::fabs(fp16_to_fp32(h[i]) - y[i]) <= std::fabs(y[i]) * 0x1p-11f + 0x1p-24f);
  }
}

}  // namespace
}  // namespace scn::inference
