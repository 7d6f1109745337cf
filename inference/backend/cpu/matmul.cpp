#include "inference/backend/cpu/matmul.h"

#include <algorithm>
#include <atomic>

namespace scn::inference::cpu {

const Kernels& kernels_for(Isa isa) {
  switch (isa) {
    case Isa::kAvx512: return avx512_kernels();
    case Isa::kAvx2: return avx2_kernels();
    case Isa::kScalar: break;
  }
  return scalar_kernels();
}

MatmulRunner::MatmulRunner(ThreadPool& pool, Isa isa, bool allow_amx)
    : pool_(pool), isa_(isa), k_(&kernels_for(isa)),
      amx_(allow_amx && isa == Isa::kAvx512 && amx_usable()) {}

namespace {

constexpr int64_t kPanelRows = 64;     // rows whose weights stay in L2 ...
constexpr int64_t kTokenBlock = 96;    // ... while this many tokens pass over them
constexpr int64_t kRowAlign = 16;      // thread row ranges start at multiples of this
constexpr int64_t kStreamBytes = 65536;  // least weight bytes of a matrix-vector chunk

// Rows per dynamically scheduled chunk: about 8 chunks per thread (so the
// imbalance at the end stays small), a multiple of align.
int64_t chunk_rows(int64_t rows, int nth, int64_t align) {
  const int64_t want = (rows + 8 * nth - 1) / (8 * nth);
  return std::max<int64_t>(align, (want + align - 1) / align * align);
}

// Matrix-vector chunks: as chunk_rows, but at least kStreamBytes of weight
// (small chunks are short streams that the prefetchers never get ahead of)
// unless that would leave a thread without rows, and at most 4 kStreamBytes
// (ChunkQueue keeps a thread's pieces adjacent, so shorter pieces cost no
// stream restarts; a 76 MB output projection cut 8 ways per thread had left
// one thread up to 4.8 MB behind the other).
int64_t stream_chunk_rows(int64_t rows, size_t row_bytes, int nth) {
  const int64_t base = chunk_rows(rows, nth, kRowAlign);
  const int64_t rb = std::max<int64_t>(1, static_cast<int64_t>(row_bytes));
  auto rows_for = [&](int64_t bytes) {
    return ((bytes + rb - 1) / rb + kRowAlign - 1) / kRowAlign * kRowAlign;
  };
  const int64_t cap = ((rows + nth - 1) / nth + kRowAlign - 1) / kRowAlign * kRowAlign;
  const int64_t c = std::clamp(base, rows_for(kStreamBytes), rows_for(4 * kStreamBytes));
  return std::max(kRowAlign, std::min(c, cap));
}

// ChunkQueue piece bounds for a matrix-vector product on w, in units of
// kRowAlign rows: at most stream_chunk_rows (long streams while much is
// left), at least kMinPieceBytes of weight (a piece's fixed cost stays small).
constexpr int64_t kMinPieceBytes = 8192;
void stream_piece_units(const PackedWeight& w, int nth, int64_t* lo, int64_t* hi) {
  const int64_t rb = std::max<int64_t>(1, static_cast<int64_t>(w.row_bytes()));
  *hi = stream_chunk_rows(w.rows(), w.row_bytes(), nth) / kRowAlign;
  *lo = std::min(*hi, (kMinPieceBytes + rb * kRowAlign - 1) / (rb * kRowAlign));
}

// Whether two quantized weights take the same quantized activations (the
// int8 order and the per-group scales follow bs and the group cuts).
bool same_act_layout(const PackedWeight& a, const PackedWeight& b) {
  if (a.cols() != b.cols() || a.format().bs != b.format().bs) return false;
  const std::vector<Group>& ga = a.groups();
  const std::vector<Group>& gb = b.groups();
  if (ga.size() != gb.size()) return false;
  for (size_t i = 0; i < ga.size(); ++i)
    if (ga[i].g != gb[i].g || ga[i].block0 != gb[i].block0) return false;
  return true;
}

}  // namespace

void ChunkQueue::reset(int64_t total, int nth, int64_t min_units, int64_t max_units) {
  if (static_cast<int>(ranges_.size()) < nth) ranges_ = std::vector<Range>(nth);
  nth_ = nth;
  min_units_ = std::max<int64_t>(1, min_units);
  max_units_ = std::max(min_units_, max_units);
  for (int i = 0; i < nth; ++i) {
    int64_t b, e;
    ThreadPool::split(total, i, nth, &b, &e);
    ranges_[i].fb.store(static_cast<uint64_t>(b) | static_cast<uint64_t>(e) << 32,
                        std::memory_order_relaxed);
  }
}

int64_t ChunkQueue::piece(int64_t left) const {
  return std::min(left, std::clamp(left / 2, min_units_, max_units_));
}

bool ChunkQueue::next(int ith, int64_t* begin, int64_t* end) {
  // Own range: from the front.
  std::atomic<uint64_t>& own = ranges_[ith].fb;
  for (uint64_t s = own.load(std::memory_order_relaxed);;) {
    const uint64_t front = s & 0xFFFFFFFFu, back = s >> 32;
    if (front >= back) break;
    const auto n = static_cast<uint64_t>(piece(static_cast<int64_t>(back - front)));
    if (own.compare_exchange_weak(s, (front + n) | back << 32, std::memory_order_relaxed)) {
      *begin = static_cast<int64_t>(front);
      *end = static_cast<int64_t>(front + n);
      return true;
    }
  }
  // The others' ranges: from the back.
  for (int k = 1; k < nth_; ++k) {
    std::atomic<uint64_t>& other = ranges_[(ith + k) % nth_].fb;
    for (uint64_t s = other.load(std::memory_order_relaxed);;) {
      const uint64_t front = s & 0xFFFFFFFFu, back = s >> 32;
      if (front >= back) break;
      const auto n = static_cast<uint64_t>(piece(static_cast<int64_t>(back - front)));
      if (other.compare_exchange_weak(s, front | (back - n) << 32, std::memory_order_relaxed)) {
        *begin = static_cast<int64_t>(back - n);
        *end = static_cast<int64_t>(back);
        return true;
      }
    }
  }
  return false;
}

bool MatmulRunner::amx_applies(std::span<const PackedWeight* const> ws, int64_t n) const {
  if (!amx_ || n < kAmxMinTokens || ws.empty()) return false;
  for (const PackedWeight* w : ws)
    if (w->kind() != PackKind::kQuant || amx_col_order(*w) != amx_col_order(*ws[0]) ||
        (amx_col_order(*w) == AmxColOrder::kPacked && !same_act_layout(*w, *ws[0])) ||
        w->cols() != ws[0]->cols())
      return false;
  return true;
}

void MatmulRunner::amx_pack(const PackedWeight& w, const float* x, int64_t n) {
  amx_prepare_act(w, n, &amx_act_);
  pool_.run([&](int ith, int nth) {
    int64_t b, e;
    ThreadPool::split(amx_act_.tiles, ith, nth, &b, &e);
    if (b < e) amx_pack_act(x, b, e, &amx_act_);
  });
}

bool MatmulRunner::matmul_swiglu(const PackedWeight& gate, const PackedWeight& up, const float* x,
                                 int64_t n, float* out) {
  const PackedWeight* ws[] = {&gate, &up};
  if (gate.rows() != up.rows() || !amx_applies(ws, n)) return false;
  amx_pack(gate, x, n);
  // Chunks of 16-row tiles of both weights (about 4 per thread), handed out
  // as threads come free; amx_rows_swiglu walks a chunk in panels of 64.
  const int64_t rows = gate.rows();
  const int64_t chunk = 16 * std::max<int64_t>(1, (rows + 15) / 16 / (4 * pool_.size()));
  std::atomic<int64_t> next{0};
  pool_.run([&](int, int) {
    for (int64_t r0; (r0 = next.fetch_add(chunk, std::memory_order_relaxed)) < rows;)
      amx_rows_swiglu(gate, up, amx_act_, r0, std::min(rows, r0 + chunk), out, rows);
  });
  return true;
}

bool MatmulRunner::amx_multi(std::span<const PackedWeight* const> ws, const float* x, int64_t n,
                             std::span<float* const> ys) {
  constexpr size_t kMaxWeights = 8;
  if (ws.size() > kMaxWeights || !amx_applies(ws, n)) return false;
  // The activations packed once for all the weights.
  amx_pack(*ws[0], x, n);
  // Chunks of rows of each weight in turn (whole pairs of 16-row tiles,
  // about 4 per thread and weight) handed out in order as threads come
  // free, so a thread slowed by other work on its core does not hold up
  // the rest; amx_rows walks a chunk in panels of up to 128 rows.
  int64_t chunk[kMaxWeights], first[kMaxWeights + 1];
  first[0] = 0;
  for (size_t i = 0; i < ws.size(); ++i) {
    const int64_t pairs = (ws[i]->rows() + 31) / 32;
    chunk[i] = 32 * std::max<int64_t>(1, pairs / (4 * pool_.size()));
    first[i + 1] = first[i] + (ws[i]->rows() + chunk[i] - 1) / chunk[i];
  }
  std::atomic<int64_t> next{0};
  pool_.run([&](int, int) {
    for (int64_t c; (c = next.fetch_add(1, std::memory_order_relaxed)) < first[ws.size()];) {
      size_t i = 0;
      while (c >= first[i + 1]) ++i;
      const int64_t rows = ws[i]->rows(), r0 = (c - first[i]) * chunk[i];
      amx_rows(*ws[i], amx_act_, r0, std::min(rows, r0 + chunk[i]), ys[i], rows);
    }
  });
  return true;
}

void MatmulRunner::matmul_multi(std::span<const PackedWeight* const> ws, const float* x,
                                int64_t n, std::span<float* const> ys) {
  constexpr size_t kMaxWeights = 8;
  if (n != 1 || ws.size() > kMaxWeights) {
    if (amx_multi(ws, x, n, ys)) return;
    for (size_t i = 0; i < ws.size(); ++i) matmul(*ws[i], x, n, ys[i]);
    return;
  }
  // Per weight: its tile arguments (activations quantized once per layout),
  // its chunk size and the index of its first chunk in the shared sequence.
  TileArgs args[kMaxWeights];
  int64_t first[kMaxWeights + 1];
  const size_t nw = ws.size();
  if (multi_act_.size() < nw) multi_act_.resize(nw);
  first[0] = 0;
  for (size_t i = 0; i < nw; ++i) {
    const PackedWeight& w = *ws[i];
    args[i] = TileArgs{&w, nullptr, x, ys[i], w.rows()};
    if (w.kind() == PackKind::kQuant) {
      for (size_t j = 0; j < i && !args[i].a; ++j)
        if (ws[j]->kind() == PackKind::kQuant && same_act_layout(*ws[j], w)) args[i].a = args[j].a;
      if (!args[i].a) {
        resize_act(w, 1, &multi_act_[i]);
        k_->quantize_act(w, x, 0, 1, &multi_act_[i]);
        args[i].a = &multi_act_[i];
      }
    }
    first[i + 1] = first[i] + (w.rows() + kRowAlign - 1) / kRowAlign;
  }
  // Units of kRowAlign rows of all the weights in turn; a piece may span two.
  int64_t lo, hi;
  stream_piece_units(*ws[0], pool_.size(), &lo, &hi);
  queue_.reset(first[nw], pool_.size(), lo, hi);
  pool_.run([&](int ith, int) {
    for (int64_t b, e; queue_.next(ith, &b, &e);) {
      size_t i = 0;
      while (b >= first[i + 1]) ++i;
      for (; b < e; ++i) {
        const PackedWeight& w = *ws[i];
        const int64_t u1 = std::min(e, first[i + 1]);
        auto tile = w.kind() == PackKind::kQuant ? k_->quant_tile : k_->float_tile;
        tile(args[i], (b - first[i]) * kRowAlign, std::min(w.rows(), (u1 - first[i]) * kRowAlign), 0, 1);
        b = u1;
      }
    }
  });
}

void MatmulRunner::matmul(const PackedWeight& w, const float* x, int64_t n, float* y) {
  if (n <= 0) return;
  const int64_t rows = w.rows();
  TileArgs args{&w, nullptr, x, y, rows};
  if (amx_ && w.kind() == PackKind::kQuant && amx_i8_preferred(w, n)) {
    amx_i8_prepare_act(w, n, &amx_i8_act_);
    if (n < 4 || pool_.size() == 1) {
      amx_i8_quantize_act(x, 0, n, &amx_i8_act_);
    } else {
      pool_.run([&](int ith, int nth) {
        int64_t b, e;
        ThreadPool::split(n, ith, nth, &b, &e);
        if (b < e) amx_i8_quantize_act(x, b, e, &amx_i8_act_);
      });
    }
    // Panels of 16 rows in chunks handed out as threads come free: for a
    // few tokens (decode) chunks of at least kStreamBytes of weight, for
    // prompts about 8 per thread.
    const int64_t chunk = n < kAmxMinTokens
                              ? stream_chunk_rows(rows, w.row_bytes(), pool_.size())
                              : chunk_rows(rows, pool_.size(), 16);
    std::atomic<int64_t> next{0};
    pool_.run([&](int, int) {
      for (int64_t r0; (r0 = next.fetch_add(chunk, std::memory_order_relaxed)) < rows;)
        amx_i8_rows(w, amx_i8_act_, r0, std::min(rows, r0 + chunk), y, rows);
    });
    return;
  }
  const PackedWeight* one = &w;
  if (amx_multi(std::span<const PackedWeight* const>(&one, 1), x, n,
                std::span<float* const>(&y, 1)))
    return;
  if (amx_ && amx_q8_applicable(w, n)) {
    amx_q8_prepare_act(n, w.cols(), &amx_q8_act_);
    amx_q8_quantize_act(x, 0, n, &amx_q8_act_);
    // Panels of 16 rows in chunks handed out as threads come free.
    const int64_t chunk = stream_chunk_rows(rows, w.row_bytes(), pool_.size());
    std::atomic<int64_t> next{0};
    pool_.run([&](int, int) {
      for (int64_t r0; (r0 = next.fetch_add(chunk, std::memory_order_relaxed)) < rows;)
        amx_q8_rows(w, amx_q8_act_, r0, std::min(rows, r0 + chunk), y, rows);
    });
    return;
  }
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
  if (n == 1) {
    // Matrix-vector: pieces of kRowAlign-row units from the queue.
    int64_t lo, hi;
    stream_piece_units(w, pool_.size(), &lo, &hi);
    queue_.reset((rows + kRowAlign - 1) / kRowAlign, pool_.size(), lo, hi);
    pool_.run([&](int ith, int) {
      for (int64_t b, e; queue_.next(ith, &b, &e);)
        tile(args, b * kRowAlign, std::min(rows, e * kRowAlign), 0, 1);
    });
    return;
  }
  pool_.run([&](int ith, int nth) {
    // Contiguous row ranges, aligned so that tiles do not straddle threads.
    const int64_t units = (rows + kRowAlign - 1) / kRowAlign;
    int64_t ub, ue;
    ThreadPool::split(units, ith, nth, &ub, &ue);
    const int64_t rb = ub * kRowAlign, re = std::min(rows, ue * kRowAlign);
    if (rb >= re) return;
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
