// The CUDA backend's element-wise and glue ops against the scalar reference
// (backend/reference.h) or an exact host computation, on random inputs of
// many shapes (odd sizes, tails, unaligned rows). Each case prints its NMSE.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "inference/backend/reference.h"
#include "tests/gpu/gpu_test_util.h"

namespace scn::inference::gpu_test {
namespace {

void report(const std::string& what, double e, double tol = kTolF32) {
  std::printf("  %-58s nmse %.3g\n", what.c_str(), e);
  CHECK_MESSAGE(e <= tol, what << ": nmse " << e << " > " << tol);
}

TEST_CASE("cuda backend: memory, uploads through the staging buffer, vectors") {
  Backend& be = cuda();
  std::printf("  %s\n", be.describe().c_str());
  CHECK(be.name() == "cuda");
  CHECK(be.describe().rfind("cuda:0 ", 0) == 0);
  std::mt19937 rng(7);
  // alloc() zeroes; uploads larger than one staging half (2 MiB) arrive whole,
  // also when queued back to back before any download.
  const size_t n = (5u << 20) / sizeof(float) + 3;
  BackendBuffer zero(&be, n * sizeof(float));
  REQUIRE(zero.ok());
  std::vector<float> zeros(n, 1.f);
  be.download(zeros.data(), zero.get(), n * sizeof(float));
  CHECK(std::all_of(zeros.begin(), zeros.end(), [](float x) { return x == 0.f; }));
  const auto a = random_floats(rng, n), b = random_floats(rng, n);
  BackendBuffer buf(&be, n * sizeof(float)), buf2(&be, 16 * sizeof(float));
  REQUIRE(buf.ok());
  be.upload(buf.get(), a.data(), n * sizeof(float));
  be.upload(buf2.get(), b.data(), 16 * sizeof(float));
  be.upload(buf.get<float>() + 1, b.data(), 1000 * sizeof(float));  // overwrites in order
  std::vector<float> got(n), want = a;
  std::copy_n(b.begin(), 1000, want.begin() + 1);
  be.download(got.data(), buf.get(), n * sizeof(float));
  CHECK(got == want);
  be.synchronize();
  auto vec = be.prepare_vector(b.data(), 100);
  REQUIRE(vec.is_ok());
  std::vector<float> v(100);
  be.download(v.data(), vec.value(), 100 * sizeof(float));
  CHECK(std::equal(v.begin(), v.end(), b.begin()));
}

TEST_CASE("cuda ops: rms_norm") {
  std::mt19937 rng(1);
  struct Case { int64_t n, dim; int64_t offset; };  // offset: floats, to misalign rows
  for (const Case c : {Case{1, 64, 0}, Case{3, 100, 0}, Case{7, 4096, 0}, Case{2, 16384, 0},
                       Case{5, 17, 0}, Case{4, 20000, 0}, Case{3, 64, 1}, Case{9, 896, 3}}) {
    const auto x = random_floats(rng, c.n * c.dim + c.offset, -3.f, 3.f);
    const auto w = random_floats(rng, c.dim + c.offset, 0.5f, 1.5f);
    std::vector<float> want(c.n * c.dim);
    reference::rms_norm(x.data() + c.offset, w.data() + c.offset, want.data(), c.n, c.dim, 1e-5f);
    Dev<float> dx(x), dw(w), dy(c.n * c.dim + c.offset);
    cuda().rms_norm(dx.get() + c.offset, dw.get() + c.offset, dy.get() + c.offset, c.n, c.dim,
                    1e-5f);
    auto got = dy.host();
    got.erase(got.begin(), got.begin() + c.offset);
    report("rms_norm n=" + std::to_string(c.n) + " dim=" + std::to_string(c.dim) +
               " offset=" + std::to_string(c.offset),
           nmse(got, want));
  }
}

TEST_CASE("cuda ops: swiglu, add, add_bias") {
  std::mt19937 rng(2);
  for (const int64_t count : {1, 31, 1000, 1000003}) {
    const auto g = random_floats(rng, count, -8.f, 8.f), u = random_floats(rng, count);
    std::vector<float> want(count);
    reference::swiglu(g.data(), u.data(), want.data(), count);
    Dev<float> dg(g), du(u), dout(count);
    cuda().swiglu(dg.get(), du.get(), dout.get(), count);
    report("swiglu count=" + std::to_string(count), nmse(dout.host(), want));
    cuda().swiglu(dg.get(), du.get(), dg.get(), count);  // in place
    report("swiglu in place count=" + std::to_string(count), nmse(dg.host(), want));

    auto x = random_floats(rng, count);
    const auto y = random_floats(rng, count);
    Dev<float> dx(x), dy(y);
    reference::add(x.data(), y.data(), count);
    cuda().add(dx.get(), dy.get(), count);
    report("add count=" + std::to_string(count), nmse(dx.host(), x));
  }
  for (const auto& [n, dim] : {std::pair<int64_t, int64_t>{1, 7}, {33, 4096}, {5, 100}, {70000, 3}}) {
    auto y = random_floats(rng, n * dim);
    const auto b = random_floats(rng, dim);
    Dev<float> dy(y), db(b);
    reference::add_bias(y.data(), b.data(), n, dim);
    cuda().add_bias(dy.get(), db.get(), n, dim);
    report("add_bias n=" + std::to_string(n) + " dim=" + std::to_string(dim), nmse(dy.host(), y));
  }
}

struct RopeCase {
  int64_t n, n_heads, head_dim, n_dims;
  bool neox;
  float freq_scale;
  bool factors;
  int32_t max_pos;
};

const RopeCase kRopeCases[] = {
    {5, 8, 8, 8, false, 1.f, false, 100},        {3, 32, 128, 128, true, 1.f, false, 4096},
    {4, 7, 64, 32, false, 0.25f, true, 100000},  {2, 4, 80, 80, true, 1.f, true, 2048},
    {6, 2, 256, 256, false, 1.f, false, 131072}, {3, 3, 10, 7, true, 1.f, false, 50},
    {3, 3, 10, 7, false, 0.5f, true, 50},        {40, 12, 128, 128, true, 1.f, false, 32768},
};

std::string rope_name(const RopeCase& c) {
  return "n=" + std::to_string(c.n) + " heads=" + std::to_string(c.n_heads) +
         " hd=" + std::to_string(c.head_dim) + " dims=" + std::to_string(c.n_dims) +
         (c.neox ? " neox" : " norm") + (c.factors ? " factors" : "") +
         " scale=" + std::to_string(c.freq_scale).substr(0, 4);
}

TEST_CASE("cuda ops: rope") {
  std::mt19937 rng(3);
  for (const RopeCase& c : kRopeCases) {
    auto x = random_floats(rng, c.n * c.n_heads * c.head_dim);
    std::vector<int32_t> pos(c.n);
    std::uniform_int_distribution<int32_t> pd(0, c.max_pos);
    for (auto& p : pos) p = pd(rng);
    pos[0] = c.max_pos;
    const auto ff = random_floats(rng, c.n_dims / 2 + 1, 1.f, 8.f);
    Dev<float> dx(x), dff(ff);
    Dev<int32_t> dpos(pos);
    RopeParams p;
    p.n_dims = c.n_dims;
    p.freq_base = c.head_dim == 128 ? 1000000.f : 10000.f;
    p.freq_scale = c.freq_scale;
    p.neox = c.neox;
    RopeParams hp = p;
    if (c.factors) {
      p.freq_factors = dff.get();
      hp.freq_factors = ff.data();
    }
    reference::rope(x.data(), c.n, c.n_heads, c.head_dim, pos.data(), hp);
    cuda().rope(dx.get(), c.n, c.n_heads, c.head_dim, dpos.get(), p);
    report("rope " + rope_name(c), nmse(dx.host(), x));
  }
}

// A paged KV layer and the row arrays of a batch, in host and device memory.
struct KvFixture {
  int32_t bt, n_blocks;
  int64_t kv_dim, block_stride;
  std::vector<float> k, v;       // [n_blocks * block_stride]
  std::vector<int32_t> slot;     // [N]
  std::vector<int32_t> pos;      // [N]
  KvFixture(std::mt19937& rng, int32_t bt_, int32_t n_blocks_, int64_t kv_dim_, int n_rows)
      : bt(bt_), n_blocks(n_blocks_), kv_dim(kv_dim_), block_stride(bt_ * kv_dim_ + 3) {
    k = random_floats(rng, n_blocks * block_stride);
    v = random_floats(rng, n_blocks * block_stride);
    // distinct random slots, random positions
    std::vector<int32_t> all(static_cast<size_t>(n_blocks) * bt);
    for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int32_t>(i);
    std::shuffle(all.begin(), all.end(), rng);
    slot.assign(all.begin(), all.begin() + n_rows);
    if (n_rows > 2) slot[1] = -1;  // a row whose K/V is not stored
    std::uniform_int_distribution<int32_t> pd(0, 5000);
    pos.resize(n_rows);
    for (auto& p : pos) p = pd(rng);
  }
  float* at(std::vector<float>& base, int32_t s) const {
    return base.data() + static_cast<int64_t>(s / bt) * block_stride +
           static_cast<int64_t>(s % bt) * kv_dim;
  }
};

TEST_CASE("cuda ops: kv_store, gather_rows") {
  std::mt19937 rng(4);
  for (const auto& [bt, kv_dim, n] : {std::tuple<int32_t, int64_t, int>{16, 256, 5},
                                     {32, 1024, 37}, {16, 8 * 4, 1}, {32, 130, 64}}) {
    KvFixture f(rng, bt, 6, kv_dim, n);
    const auto k = random_floats(rng, n * kv_dim), v = random_floats(rng, n * kv_dim);
    Dev<float> dkc(f.k), dvc(f.v), dk(k), dv(v);
    Dev<int32_t> dslot(f.slot);
    KvLayer kv{dkc.get(), dvc.get(), f.block_stride, bt, kv_dim};
    PagedBatch b;
    b.n_rows = n;
    b.row_slot = dslot.get();
    cuda().kv_store(kv, dk.get(), dv.get(), b);
    for (int r = 0; r < n; ++r) {
      if (f.slot[r] < 0) continue;
      std::copy_n(k.data() + r * kv_dim, kv_dim, f.at(f.k, f.slot[r]));
      std::copy_n(v.data() + r * kv_dim, kv_dim, f.at(f.v, f.slot[r]));
    }
    CHECK(dkc.host() == f.k);
    CHECK(dvc.host() == f.v);

    std::vector<int32_t> rows(n);
    std::uniform_int_distribution<int32_t> rd(0, n - 1);
    for (auto& r : rows) r = rd(rng);
    Dev<int32_t> drows(rows);
    Dev<float> dout(n * kv_dim);
    cuda().gather_rows(dk.get(), drows.get(), n, kv_dim, dout.get());
    std::vector<float> want(n * kv_dim);
    for (int i = 0; i < n; ++i) std::copy_n(k.data() + rows[i] * kv_dim, kv_dim, want.data() + i * kv_dim);
    CHECK(dout.host() == want);
  }
}

TEST_CASE("cuda ops: qkv_rope_store") {
  std::mt19937 rng(5);
  for (const bool bias : {false, true}) {
    for (const RopeCase& c : {kRopeCases[0], kRopeCases[2], kRopeCases[5], kRopeCases[7]}) {
      const int64_t n_kv = std::max<int64_t>(1, c.n_heads / (c.n_heads % 4 == 0 ? 4 : 1));
      const int64_t qd = c.n_heads * c.head_dim, kd = n_kv * c.head_dim;
      const int n = static_cast<int>(c.n);
      KvFixture f(rng, 16, (n + 15) / 16 + 2, kd, n);
      auto q = random_floats(rng, n * qd), k = random_floats(rng, n * kd),
           v = random_floats(rng, n * kd);
      const auto bq = random_floats(rng, qd), bk = random_floats(rng, kd),
                 bv = random_floats(rng, kd);
      Dev<float> dq(q), dk(k), dv(v), dbq(bq), dbk(bk), dbv(bv), dkc(f.k), dvc(f.v);
      Dev<int32_t> dslot(f.slot), dpos(f.pos);
      RopeParams p;
      p.n_dims = c.n_dims;
      p.freq_scale = c.freq_scale;
      p.neox = c.neox;
      KvLayer kv{dkc.get(), dvc.get(), f.block_stride, f.bt, kd};
      PagedBatch b;
      b.n_rows = n;
      b.row_slot = dslot.get();
      b.row_pos = dpos.get();
      cuda().qkv_rope_store(dq.get(), dk.get(), dv.get(), bias ? dbq.get() : nullptr,
                            bias ? dbk.get() : nullptr, bias ? dbv.get() : nullptr, c.n_heads,
                            n_kv, c.head_dim, p, kv, b);
      if (bias) {
        reference::add_bias(q.data(), bq.data(), n, qd);
        reference::add_bias(k.data(), bk.data(), n, kd);
        reference::add_bias(v.data(), bv.data(), n, kd);
      }
      reference::rope(q.data(), n, c.n_heads, c.head_dim, f.pos.data(), p);
      reference::rope(k.data(), n, n_kv, c.head_dim, f.pos.data(), p);
      for (int r = 0; r < n; ++r) {
        if (f.slot[r] < 0) continue;
        std::copy_n(k.data() + r * kd, kd, f.at(f.k, f.slot[r]));
        std::copy_n(v.data() + r * kd, kd, f.at(f.v, f.slot[r]));
      }
      const std::string name = std::string("qkv_rope_store") + (bias ? " bias " : " ") +
                               rope_name(c) + " kv_heads=" + std::to_string(n_kv);
      report(name + " q", nmse(dq.host(), q));
      report(name + " k", nmse(dk.host(), k));
      report(name + " v", nmse(dv.host(), v));
      report(name + " K cache", nmse(dkc.host(), f.k));
      report(name + " V cache", nmse(dvc.host(), f.v));
    }
  }
}

TEST_CASE("cuda ops: argmax (lowest id on ties)") {
  std::mt19937 rng(6);
  for (const auto& [n, vocab] : {std::pair<int64_t, int64_t>{4, 151936}, {1, 7}, {3, 262144},
                                {8, 512}, {2, 1}}) {
    auto logits = random_floats(rng, n * vocab, -20.f, 20.f);
    std::uniform_int_distribution<int64_t> vd(0, vocab - 1);
    for (int64_t i = 0; i < n; ++i) {
      float* row = logits.data() + i * vocab;
      if (i % 2 == 0) {  // a tie of the maximum at two places
        const int64_t a = vd(rng), b2 = vd(rng);
        row[a] = 50.f;
        row[b2] = 50.f;
      }
      if (i == 2) std::fill(row, row + vocab, -INFINITY);
      if (i == 3) row[vd(rng)] = NAN;
      if (i == 1 && vocab > 2) {  // NaN first, then -inf only: NaN counts as -inf, id 0 wins
        std::fill(row, row + vocab, -INFINITY);
        row[0] = NAN;
      }
    }
    std::vector<int32_t> want(n);
    for (int64_t i = 0; i < n; ++i) {
      const float* row = logits.data() + i * vocab;
      auto val = [&](int64_t j) { return std::isnan(row[j]) ? -INFINITY : row[j]; };  // NaN = -inf
      int64_t best = 0;
      for (int64_t j = 1; j < vocab; ++j)
        if (val(j) > val(best)) best = j;
      want[i] = static_cast<int32_t>(best);
    }
    Dev<float> dl(logits);
    Dev<int32_t> dids(n);
    cuda().argmax(dl.get(), n, vocab, dids.get());
    CAPTURE(vocab);
    CHECK(dids.host() == want);
  }
}

}  // namespace
}  // namespace scn::inference::gpu_test
