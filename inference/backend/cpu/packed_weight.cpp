#include "inference/backend/cpu/packed_weight.h"

#include <cmath>
#include <cstdlib>
#include <string>

#include "inference/backend/cpu/weight_arena.h"

namespace scn::inference::cpu {

size_t scale_bytes(const QuantFormat& f, int g) {
  switch (f.scales) {
    case ScaleKind::kD: return 2 * static_cast<size_t>(g);
    case ScaleKind::kDM: return 4 * static_cast<size_t>(g);
    case ScaleKind::kK4: return 2 * static_cast<size_t>(g) + static_cast<size_t>(g) / 2;
    case ScaleKind::kK6: return 18;
  }
  return 0;
}

size_t plane0_bytes(const QuantFormat& f, int g) {
  return f.bits == 8 ? static_cast<size_t>(f.bs) * g : static_cast<size_t>(f.bs) * g / 2;
}

size_t plane1_bytes(const QuantFormat& f, int g) {
  if (f.bits == 5) return 8 * static_cast<size_t>(f.chunks());
  if (f.bits == 6) return static_cast<size_t>(f.bs) * g / 4;
  return 0;
}

namespace {

// One row decoded from its GGUF blocks: the unsigned values and, per block,
// the scale fields in their stored form.
struct RowDecode {
  std::vector<uint8_t> u;
  std::vector<uint16_t> d, m;     // kD/kDM: per block
  std::vector<uint8_t> sc, mn;    // kK4: per 32-block; kK6: sc per 16-block (s8)
  std::vector<uint16_t> sd, sdm;  // kK4/kK6: per super-block
};

void k4_scale_min(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

void decode_row(GgmlType type, const uint8_t* src, int64_t cols, RowDecode* r) {
  r->u.assign(cols, 0);
  uint8_t* u = r->u.data();
  const int64_t nb = cols / block_size(type);
  r->d.clear(); r->m.clear(); r->sc.clear(); r->mn.clear(); r->sd.clear(); r->sdm.clear();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* x = src + b * type_size(type);
    switch (type) {
      case GgmlType::Q8_0:
        r->d.push_back(load_u16(x));
        for (int i = 0; i < 32; ++i) u[b * 32 + i] = x[2 + i] ^ 0x80;
        break;
      case GgmlType::Q4_0:
      case GgmlType::Q4_1: {
        const int h = type == GgmlType::Q4_0 ? 2 : 4;
        r->d.push_back(load_u16(x));
        if (type == GgmlType::Q4_1) r->m.push_back(load_u16(x + 2));
        for (int i = 0; i < 16; ++i) {
          u[b * 32 + i] = x[h + i] & 0xF;
          u[b * 32 + 16 + i] = x[h + i] >> 4;
        }
        break;
      }
      case GgmlType::Q5_0:
      case GgmlType::Q5_1: {
        const int h = type == GgmlType::Q5_0 ? 2 : 4;
        r->d.push_back(load_u16(x));
        if (type == GgmlType::Q5_1) r->m.push_back(load_u16(x + 2));
        uint32_t qh;
        std::memcpy(&qh, x + h, 4);
        const uint8_t* qs = x + h + 4;
        for (int i = 0; i < 16; ++i) {
          u[b * 32 + i] = (qs[i] & 0xF) | (((qh >> i) & 1) << 4);
          u[b * 32 + 16 + i] = (qs[i] >> 4) | (((qh >> (i + 16)) & 1) << 4);
        }
        break;
      }
      case GgmlType::Q4_K:
      case GgmlType::Q5_K: {
        const bool five = type == GgmlType::Q5_K;
        r->sd.push_back(load_u16(x));
        r->sdm.push_back(load_u16(x + 2));
        const uint8_t* scales = x + 4;
        const uint8_t* qh = x + 16;
        const uint8_t* ql = x + (five ? 48 : 16);
        for (int j = 0; j < 8; ++j) {
          uint8_t s, m;
          k4_scale_min(j, scales, &s, &m);
          r->sc.push_back(s);
          r->mn.push_back(m);
        }
        uint8_t* y = u + b * 256;
        for (int j = 0; j < 4; ++j) {
          for (int l = 0; l < 32; ++l) {
            uint8_t lo = ql[l] & 0xF, hi = ql[l] >> 4;
            if (five) {
              lo |= ((qh[l] >> (2 * j)) & 1) << 4;
              hi |= ((qh[l] >> (2 * j + 1)) & 1) << 4;
            }
            y[l] = lo;
            y[32 + l] = hi;
          }
          y += 64;
          ql += 32;
        }
        break;
      }
      case GgmlType::Q6_K: {
        const uint8_t* ql = x;
        const uint8_t* qh = x + 128;
        const uint8_t* scales = x + 192;
        r->sd.push_back(load_u16(x + 208));
        for (int i = 0; i < 16; ++i) r->sc.push_back(scales[i]);
        uint8_t* y = u + b * 256;
        for (int n = 0; n < 2; ++n) {
          for (int l = 0; l < 32; ++l) {
            y[l] = (ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4);
            y[l + 32] = (ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4);
            y[l + 64] = (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4);
            y[l + 96] = (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4);
          }
          y += 128;
          ql += 64;
          qh += 32;
        }
        break;
      }
      default:
        break;
    }
  }
}

void put_u16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }

void write_group(const QuantFormat& f, const RowDecode& r, const Group& grp, uint8_t* out) {
  const int g = grp.g, bs = f.bs, nc = f.chunks();
  const int64_t b0 = grp.block0;
  auto value = [&](int j, int c, int b) { return r.u[(b0 + j) * bs + 4 * c + b]; };
  uint8_t* p = out;
  switch (f.scales) {
    case ScaleKind::kD:
      for (int j = 0; j < g; ++j) put_u16(p + 2 * j, r.d[b0 + j]);
      break;
    case ScaleKind::kDM:
      for (int j = 0; j < g; ++j) put_u16(p + 2 * j, r.d[b0 + j]);
      for (int j = 0; j < g; ++j) put_u16(p + 2 * g + 2 * j, r.m[b0 + j]);
      break;
    case ScaleKind::kK4:
      for (int j = 0; j < g; ++j) p[j] = r.sc[b0 + j];
      for (int j = 0; j < g; ++j) p[g + j] = r.mn[b0 + j];
      for (int s = 0; s < g / 8; ++s) {
        put_u16(p + 2 * g + 2 * s, r.sd[b0 / 8 + s]);
        put_u16(p + 2 * g + g / 4 + 2 * s, r.sdm[b0 / 8 + s]);
      }
      break;
    case ScaleKind::kK6:
      for (int j = 0; j < 16; ++j) p[j] = r.sc[b0 + j];
      put_u16(p + 16, r.sd[b0 / 16]);
      break;
  }
  p += scale_bytes(f, g);
  if (f.bits == 8) {
    for (int c = 0; c < nc; ++c)
      for (int j = 0; j < g; ++j)
        for (int b = 0; b < 4; ++b) p[c * 4 * g + 4 * j + b] = value(j, c, b);
    return;
  }
  for (int pr = 0; pr < nc / 2; ++pr)
    for (int j = 0; j < g; ++j)
      for (int b = 0; b < 4; ++b)
        p[pr * 4 * g + 4 * j + b] =
            (value(j, 2 * pr, b) & 0xF) | ((value(j, 2 * pr + 1, b) & 0xF) << 4);
  p += plane0_bytes(f, g);
  if (f.bits == 5) {
    for (int c = 0; c < nc; ++c) {
      uint64_t bits = 0;
      for (int j = 0; j < g; ++j)
        for (int b = 0; b < 4; ++b)
          bits |= static_cast<uint64_t>((value(j, c, b) >> 4) & 1) << (4 * j + b);
      std::memcpy(p + 8 * c, &bits, 8);
    }
  } else if (f.bits == 6) {
    for (int q = 0; q < nc / 4; ++q)
      for (int j = 0; j < g; ++j)
        for (int b = 0; b < 4; ++b) {
          uint8_t v = 0;
          for (int i = 0; i < 4; ++i) v |= ((value(j, 4 * q + i, b) >> 4) & 3) << (2 * i);
          p[q * 4 * g + 4 * j + b] = v;
        }
  }
}

bool quant_format(GgmlType type, QuantFormat* f) {
  switch (type) {
    case GgmlType::Q8_0: *f = {32, 8, 128, ScaleKind::kD}; return true;
    case GgmlType::Q4_0: *f = {32, 4, 8, ScaleKind::kD}; return true;
    case GgmlType::Q4_1: *f = {32, 4, 0, ScaleKind::kDM}; return true;
    case GgmlType::Q5_0: *f = {32, 5, 16, ScaleKind::kD}; return true;
    case GgmlType::Q5_1: *f = {32, 5, 0, ScaleKind::kDM}; return true;
    case GgmlType::Q4_K: *f = {32, 4, 0, ScaleKind::kK4}; return true;
    case GgmlType::Q5_K: *f = {32, 5, 0, ScaleKind::kK4}; return true;
    case GgmlType::Q6_K: *f = {16, 6, 32, ScaleKind::kK6}; return true;
    default: return false;
  }
}

}  // namespace

Result<std::unique_ptr<PackedWeight>> pack_weight(GgmlType type, int64_t rows, int64_t cols,
                                                  const void* data) {
  if (rows <= 0 || cols <= 0 || data == nullptr)
    return Status::invalid_argument("pack_weight: empty weight");
  auto w = std::make_unique<PackedWeight>(type, rows, cols);
  w->original_ = data;
  switch (type) {
    case GgmlType::F32:
    case GgmlType::F16:
    case GgmlType::BF16:
      w->kind_ = type == GgmlType::F32 ? PackKind::kF32
                 : type == GgmlType::F16 ? PackKind::kF16 : PackKind::kBF16;
      w->data_ = static_cast<const uint8_t*>(data);
      w->row_bytes_ = row_size(type, cols);
      return w;
    default:
      break;
  }
  QuantFormat f;
  if (!quant_format(type, &f))
    return Status::unprocessable(
                  "the CPU backend cannot compute with weights of type " +
                      std::string(type_name(type)));
  if (cols % block_size(type) != 0)
    return Status::invalid_argument("pack_weight: " + std::to_string(cols) +
                                                    " columns is not a multiple of the " +
                                                    std::string(type_name(type)) + " block");
  w->kind_ = PackKind::kQuant;
  w->fmt_ = f;
  const int64_t nb = cols / f.bs;
  int64_t off = 0;
  for (int64_t b = 0; b < nb; b += 16) {
    const int g = static_cast<int>(std::min<int64_t>(16, nb - b));
    w->groups_.push_back({g, static_cast<int32_t>(b), off});
    off += static_cast<int64_t>(scale_bytes(f, g) + plane0_bytes(f, g) + plane1_bytes(f, g));
  }
  w->row_bytes_ = static_cast<size_t>(off);
  const size_t total = w->row_bytes_ * static_cast<size_t>(rows);
  // On huge pages (weight_arena.h); 64 bytes of slack for whole-vector reads.
  void* mem = weight_alloc(total + 64);
  if (mem == nullptr) return Status::internal("pack_weight: out of memory");
  w->storage_ = std::unique_ptr<uint8_t, void (*)(void*)>(static_cast<uint8_t*>(mem), weight_free);
  uint8_t* out = w->storage_.get();
  w->data_ = out;
  const uint8_t* src = static_cast<const uint8_t*>(data);
  const size_t src_row = row_size(type, cols);
  RowDecode rd;
  for (int64_t r = 0; r < rows; ++r) {
    decode_row(type, src + src_row * r, cols, &rd);
    for (const Group& grp : w->groups_) write_group(f, rd, grp, out + w->row_bytes_ * r + grp.offset);
  }
  return w;
}

void resize_act(const PackedWeight& w, int64_t n, ActQ* a) {
  a->n = n;
  a->q_stride = (w.cols() + 127) / 64 * 64;  // SIMD kernels read up to 64 bytes past a chunk
  a->f_stride = static_cast<int64_t>(w.groups().size()) * 16;
  if (static_cast<int64_t>(a->q.size()) < n * a->q_stride) a->q.resize(n * a->q_stride);
  if (static_cast<int64_t>(a->d.size()) < n * a->f_stride) {
    a->d.resize(n * a->f_stride);
    a->s.resize(n * a->f_stride);
  }
}

void quantize_act_scalar(const PackedWeight& w, const float* x, int64_t t0, int64_t t1,
                         ActQ* a) {
  const int bs = w.format().bs;
  const int64_t cols = w.cols();
  for (int64_t t = t0; t < t1; ++t) {
    const float* xr = x + t * cols;
    int8_t* q = a->q.data() + t * a->q_stride;
    float* d = a->d.data() + t * a->f_stride;
    float* s = a->s.data() + t * a->f_stride;
    int gi = 0;
    for (const Group& grp : w.groups()) {
      const int g = grp.g;
      int8_t* qg = q + static_cast<int64_t>(grp.block0) * bs;
      for (int j = 0; j < 16; ++j) {
        if (j >= g) {
          d[gi * 16 + j] = 0.f;
          s[gi * 16 + j] = 0.f;
          continue;
        }
        const float* xb = xr + (static_cast<int64_t>(grp.block0) + j) * bs;
        float amax = 0.f;
        for (int i = 0; i < bs; ++i) amax = std::max(amax, std::fabs(xb[i]));
        const float dd = amax / 127.f, id = amax > 0.f ? 127.f / amax : 0.f;
        int sum = 0;
        for (int i = 0; i < bs; ++i) {
          const int v = static_cast<int>(std::nearbyint(xb[i] * id));
          sum += v;
          qg[(i / 4) * 4 * g + 4 * j + (i % 4)] = static_cast<int8_t>(v);
        }
        d[gi * 16 + j] = dd;
        s[gi * 16 + j] = dd * static_cast<float>(sum);
      }
      ++gi;
    }
  }
}

}  // namespace scn::inference::cpu
