// Portable kernels: the reference for the packed layout and the fallback
// for CPUs without AVX2.
#include <cmath>
#include <vector>

#include "inference/backend/cpu/matmul_kernels.h"

namespace scn::inference::cpu {

void group_lane_scales(const QuantFormat& f, const uint8_t* gp, int g, float* d, float* c,
                       float* m) {
  float mins[16] = {};
  for (int j = 0; j < 16; ++j) d[j] = c[j] = 0.f;
  switch (f.scales) {
    case ScaleKind::kD:
      for (int j = 0; j < g; ++j) {
        d[j] = half_to_float(load_u16(gp + 2 * j));
        c[j] = -static_cast<float>(f.offset) * d[j];
      }
      break;
    case ScaleKind::kDM:
      for (int j = 0; j < g; ++j) {
        d[j] = half_to_float(load_u16(gp + 2 * j));
        mins[j] = half_to_float(load_u16(gp + 2 * g + 2 * j));
        c[j] = mins[j] - static_cast<float>(f.offset) * d[j];
      }
      break;
    case ScaleKind::kK4:
      for (int j = 0; j < g; ++j) {
        const float sd = half_to_float(load_u16(gp + 2 * g + 2 * (j / 8)));
        const float sm = half_to_float(load_u16(gp + 2 * g + g / 4 + 2 * (j / 8)));
        d[j] = sd * static_cast<float>(gp[j]);
        mins[j] = -(sm * static_cast<float>(gp[g + j]));
        c[j] = mins[j] - static_cast<float>(f.offset) * d[j];
      }
      break;
    case ScaleKind::kK6: {
      const float sd = half_to_float(load_u16(gp + 16));
      for (int j = 0; j < g; ++j) {
        d[j] = sd * static_cast<float>(static_cast<int8_t>(gp[j]));
        c[j] = -static_cast<float>(f.offset) * d[j];
      }
      break;
    }
  }
  if (m != nullptr)
    for (int j = 0; j < 16; ++j) m[j] = mins[j];
}

void packed_order_columns(const PackedWeight& w, int32_t* col) {
  const int bs = w.format().bs;
  for (const Group& grp : w.groups()) {
    const int64_t base = static_cast<int64_t>(grp.block0) * bs;
    for (int j = 0; j < grp.g; ++j)
      for (int e = 0; e < bs; ++e)
        col[base + (e / 4) * 4 * grp.g + 4 * j + e % 4] = static_cast<int32_t>(base + j * bs + e);
  }
}

void group_values(const QuantFormat& f, const uint8_t* gp, int g, uint8_t* u) {
  const int bs = f.bs, nc = f.chunks();
  const uint8_t* p0 = gp + scale_bytes(f, g);
  const uint8_t* p1 = p0 + plane0_bytes(f, g);
  for (int j = 0; j < g; ++j) {
    for (int c = 0; c < nc; ++c) {
      for (int b = 0; b < 4; ++b) {
        uint8_t v;
        if (f.bits == 8) {
          v = p0[c * 4 * g + 4 * j + b];
        } else {
          const uint8_t pair = p0[(c / 2) * 4 * g + 4 * j + b];
          v = (c % 2 == 0) ? (pair & 0xF) : (pair >> 4);
          if (f.bits == 5) {
            uint64_t bits;
            std::memcpy(&bits, p1 + 8 * c, 8);
            v |= static_cast<uint8_t>(((bits >> (4 * j + b)) & 1) << 4);
          } else if (f.bits == 6) {
            const uint8_t hb = p1[(c / 4) * 4 * g + 4 * j + b];
            v |= static_cast<uint8_t>(((hb >> (2 * (c % 4))) & 3) << 4);
          }
        }
        u[j * bs + 4 * c + b] = v;
      }
    }
  }
}

namespace {

void quant_tile(const TileArgs& args, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  const PackedWeight& w = *args.w;
  const ActQ& a = *args.a;
  const QuantFormat& f = w.format();
  const int bs = f.bs;
  std::vector<uint8_t> u(16 * bs);
  std::vector<double> acc(t1 - t0);
  float d[16], c[16];
  for (int64_t r = r0; r < r1; ++r) {
    std::fill(acc.begin(), acc.end(), 0.0);
    int gi = 0;
    for (const Group& grp : w.groups()) {
      const uint8_t* gp = w.row(r) + grp.offset;
      const int g = grp.g;
      group_lane_scales(f, gp, g, d, c);
      group_values(f, gp, g, u.data());
      for (int64_t t = t0; t < t1; ++t) {
        const int8_t* q = a.q_row(t) + static_cast<int64_t>(grp.block0) * bs;
        const float* da = a.d_row(t) + gi * 16;
        const float* sa = a.s_row(t) + gi * 16;
        float sum = 0.f;
        for (int j = 0; j < g; ++j) {
          int32_t dp = 0;
          for (int i = 0; i < bs; ++i)
            dp += static_cast<int32_t>(u[j * bs + i]) * q[(i / 4) * 4 * g + 4 * j + (i % 4)];
          sum += d[j] * da[j] * static_cast<float>(dp) + c[j] * sa[j];
        }
        acc[t - t0] += sum;
      }
      ++gi;
    }
    for (int64_t t = t0; t < t1; ++t) args.y[t * args.ldy + r] = static_cast<float>(acc[t - t0]);
  }
}

float load_float(PackKind k, const uint8_t* row, int64_t i) {
  switch (k) {
    case PackKind::kF16: return half_to_float(load_u16(row + 2 * i));
    case PackKind::kBF16: return bf16_to_float(load_u16(row + 2 * i));
    default: {
      float v;
      std::memcpy(&v, row + 4 * i, 4);
      return v;
    }
  }
}

void float_tile(const TileArgs& args, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  const PackedWeight& w = *args.w;
  const int64_t cols = w.cols();
  std::vector<float> row(cols);
  for (int64_t r = r0; r < r1; ++r) {
    for (int64_t i = 0; i < cols; ++i) row[i] = load_float(w.kind(), w.row(r), i);
    for (int64_t t = t0; t < t1; ++t) {
      const float* x = args.x + t * cols;
      float s = 0.f;
      for (int64_t i = 0; i < cols; ++i) s += row[i] * x[i];
      args.y[t * args.ldy + r] = s;
    }
  }
}

}  // namespace

const Kernels& scalar_kernels() {
  static const Kernels k{quant_tile, float_tile, quantize_act_scalar};
  return k;
}

}  // namespace scn::inference::cpu
