#include "inference/backend/cpu/matmul.h"

#include <algorithm>

namespace scn::inference::cpu {

const Kernels& kernels_for(Isa isa) {
  switch (isa) {
    case Isa::kAvx512: return avx512_kernels();
    case Isa::kAvx2: return avx2_kernels();
    case Isa::kScalar: break;
  }
  return scalar_kernels();
}

MatmulRunner::MatmulRunner(ThreadPool& pool, Isa isa)
    : pool_(pool), isa_(isa), k_(&kernels_for(isa)) {}

namespace {

constexpr int64_t kPanelRows = 64;     // rows whose weights stay in L2 ...
constexpr int64_t kTokenBlock = 96;    // ... while this many tokens pass over them
constexpr int64_t kRowAlign = 16;      // thread row ranges start at multiples of this

}  // namespace

void MatmulRunner::matmul(const PackedWeight& w, const float* x, int64_t n, float* y) {
  if (n <= 0) return;
  const int64_t rows = w.rows();
  TileArgs args{&w, nullptr, x, y, rows};
  if (w.kind() == PackKind::kQuant) {
    resize_act(w, n, &act_);
    if (n < 4 || pool_.size() == 1) {
      k_->quantize_act(w, x, 0, n, &act_);
    } else {
      pool_.run([&](int ith, int nth) {
        int64_t b, e;
        ThreadPool::split(n, ith, nth, &b, &e);
        if (b < e) k_->quantize_act(w, x, b, e, &act_);
      });
    }
    args.a = &act_;
  }
  auto tile = w.kind() == PackKind::kQuant ? k_->quant_tile : k_->float_tile;
  pool_.run([&](int ith, int nth) {
    // Contiguous row ranges, aligned so that tiles do not straddle threads.
    const int64_t units = (rows + kRowAlign - 1) / kRowAlign;
    int64_t ub, ue;
    ThreadPool::split(units, ith, nth, &ub, &ue);
    const int64_t rb = ub * kRowAlign, re = std::min(rows, ue * kRowAlign);
    if (rb >= re) return;
    if (n == 1) {
      tile(args, rb, re, 0, 1);
      return;
    }
    for (int64_t t0 = 0; t0 < n; t0 += kTokenBlock) {
      const int64_t t1 = std::min(n, t0 + kTokenBlock);
      for (int64_t r0 = rb; r0 < re; r0 += kPanelRows) tile(args, r0, std::min(re, r0 + kPanelRows), t0, t1);
    }
  });
}

void MatmulRunner::get_rows(const PackedWeight& w, const int32_t* ids, int64_t n, float* out) {
  const int64_t cols = w.cols();
  for (int64_t i = 0; i < n; ++i) {
    float* o = out + i * cols;
    const uint8_t* row = w.row(ids[i]);
    switch (w.kind()) {
      case PackKind::kF32:
        std::memcpy(o, row, cols * sizeof(float));
        break;
      case PackKind::kF16:
        for (int64_t c = 0; c < cols; ++c) o[c] = half_to_float(load_u16(row + 2 * c));
        break;
      case PackKind::kBF16:
        for (int64_t c = 0; c < cols; ++c) o[c] = bf16_to_float(load_u16(row + 2 * c));
        break;
      case PackKind::kQuant: {
        const QuantFormat& f = w.format();
        uint8_t u[16 * 32];
        float d[16], c[16], m[16];
        for (const Group& grp : w.groups()) {
          const uint8_t* gp = row + grp.offset;
          group_lane_scales(f, gp, grp.g, d, c, m);
          group_values(f, gp, grp.g, u);
          float* og = o + static_cast<int64_t>(grp.block0) * f.bs;
          for (int j = 0; j < grp.g; ++j)
            for (int e = 0; e < f.bs; ++e)
              og[j * f.bs + e] =
                  d[j] * static_cast<float>(static_cast<int>(u[j * f.bs + e]) - f.offset) + m[j];
        }
        break;
      }
    }
  }
}

}  // namespace scn::inference::cpu
