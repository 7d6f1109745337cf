// The paged-KV ops (kv_store, paged_attention, gather_rows, argmax) and the
// host backend memory of the CPU backend (1, 2 and 3 threads) against the
// scalar reference (backend/reference.h), table-driven.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "inference/backend/backend.h"
#include "inference/backend/backend_test_util.h"
#include "inference/backend/reference.h"

namespace scn::inference {
namespace {

using testing::check_close;
using testing::cpu_backends;
using testing::random_floats;

// ---- paged attention: kv_store, paged_attention, gather_rows, argmax -----------

// A paged step: S sequences with random block tables in a pool of n_blocks
// blocks; chunk s has n_rows[s] new rows after pos0[s] cached positions.
struct PagedCase {
  int64_t n_heads, n_kv_heads, head_dim;
  int32_t block_tokens;
  std::vector<int32_t> pos0, n_rows;
};

struct PagedStep {
  int32_t max_blocks = 0, n_blocks = 0;
  std::vector<int32_t> row_pos, row_seq, row_slot, seq_row0, seq_n_rows, seq_pos0, seq_blocks;
  PagedBatch batch() const {
    PagedBatch b;
    b.n_rows = static_cast<int32_t>(row_pos.size());
    b.n_seqs = static_cast<int32_t>(seq_row0.size());
    b.max_blocks = max_blocks;
    for (size_t s = 0; s < seq_pos0.size(); ++s) {
      b.max_len = std::max(b.max_len, seq_pos0[s] + seq_n_rows[s]);
      b.max_rows = std::max(b.max_rows, seq_n_rows[s]);
    }
    b.row_pos = row_pos.data();
    b.row_seq = row_seq.data();
    b.row_slot = row_slot.data();
    b.seq_row0 = seq_row0.data();
    b.seq_n_rows = seq_n_rows.data();
    b.seq_pos0 = seq_pos0.data();
    b.seq_blocks = seq_blocks.data();
    return b;
  }
};

PagedStep make_step(const PagedCase& c, uint32_t seed) {
  PagedStep st;
  const int32_t bt = c.block_tokens;
  int32_t need = 0;
  for (size_t s = 0; s < c.pos0.size(); ++s) {
    const int32_t nb = (c.pos0[s] + c.n_rows[s] + bt - 1) / bt;
    st.max_blocks = std::max(st.max_blocks, nb);
    need += nb;
  }
  st.n_blocks = need + 3;
  std::vector<int32_t> ids(static_cast<size_t>(st.n_blocks));
  for (int32_t i = 0; i < st.n_blocks; ++i) ids[static_cast<size_t>(i)] = i;
  std::shuffle(ids.begin(), ids.end(), std::mt19937(seed));
  st.seq_blocks.assign(c.pos0.size() * static_cast<size_t>(st.max_blocks), -1);
  size_t next = 0;
  int32_t row = 0;
  for (size_t s = 0; s < c.pos0.size(); ++s) {
    const int32_t len = c.pos0[s] + c.n_rows[s];
    int32_t* table = st.seq_blocks.data() + s * static_cast<size_t>(st.max_blocks);
    for (int32_t i = 0; i < (len + bt - 1) / bt; ++i) table[i] = ids[next++];
    st.seq_row0.push_back(row);
    st.seq_n_rows.push_back(c.n_rows[s]);
    st.seq_pos0.push_back(c.pos0[s]);
    for (int32_t i = 0; i < c.n_rows[s]; ++i, ++row) {
      const int32_t p = c.pos0[s] + i;
      st.row_pos.push_back(p);
      st.row_seq.push_back(static_cast<int32_t>(s));
      st.row_slot.push_back(table[p / bt] * bt + p % bt);
    }
  }
  return st;
}

const PagedCase kPagedCases[] = {
    {8, 4, 8, 16, {0}, {1}},                            // first token
    {8, 4, 8, 4, {0, 7, 30}, {5, 1, 1}},                // stories260K, mixed prefill/decode
    {14, 2, 64, 16, {100, 0, 517, 31}, {1, 33, 1, 9}},  // Qwen2.5-0.5B shapes
    {12, 2, 128, 16, {1000, 5, 1500}, {1, 1, 1}},       // decode, long contexts
    {6, 2, 80, 7, {40, 3}, {17, 2}},                    // odd head size and block size
    {32, 8, 96, 32, {2, 64, 65}, {3, 64, 1}},
};

TEST_CASE("kv_store and paged_attention match the reference (atol 1e-5)") {
  auto backends = cpu_backends();
  backends.push_back(make_cpu_backend(3));
  for (auto& be : backends) {
    for (const PagedCase& c : kPagedCases) {
      const PagedStep st = make_step(c, 60);
      const PagedBatch b = st.batch();
      const int64_t kvd = c.n_kv_heads * c.head_dim, qd = c.n_heads * c.head_dim;
      const int64_t block_floats = int64_t{c.block_tokens} * kvd;
      // Two layers, as in the pool: block stride 2 layers * (K + V).
      const int64_t stride = 2 * 2 * block_floats;
      const size_t pool_floats = static_cast<size_t>(st.n_blocks * stride);
      auto want_pool = random_floats(pool_floats, 61);  // the cached positions
      BackendBuffer pool(be.get(), pool_floats * sizeof(float));
      REQUIRE(pool.ok());
      be->upload(pool.get(), want_pool.data(), pool_floats * sizeof(float));
      const auto k = random_floats(b.n_rows * kvd, 62), v = random_floats(b.n_rows * kvd, 63);
      const auto q = random_floats(b.n_rows * qd, 64, -3.f, 3.f);
      // Layer 1 of the pool.
      KvLayer ref_kv{want_pool.data() + 2 * block_floats, want_pool.data() + 3 * block_floats,
                     stride, c.block_tokens, kvd};
      KvLayer kv{pool.get<float>() + 2 * block_floats, pool.get<float>() + 3 * block_floats,
                 stride, c.block_tokens, kvd};
      reference::kv_store(ref_kv, k.data(), v.data(), b);
      be->kv_store(kv, k.data(), v.data(), b);
      std::vector<float> got_pool(pool_floats);
      be->download(got_pool.data(), pool.get(), pool_floats * sizeof(float));
      INFO("heads " << c.n_heads << "/" << c.n_kv_heads << " hd " << c.head_dim << " bt "
                    << c.block_tokens << " rows " << b.n_rows << " threads " << be->n_threads());
      CHECK(got_pool == want_pool);

      AttentionParams p;
      p.n_heads = c.n_heads;
      p.n_kv_heads = c.n_kv_heads;
      p.head_dim = c.head_dim;
      p.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
      std::vector<float> want(q.size()), got(q.size(), std::nanf(""));
      reference::paged_attention(q.data(), ref_kv, want.data(), b, p);
      be->paged_attention(q.data(), kv, got.data(), b, p);
      check_close(got.data(), want.data(), got.size(), 1e-5, 0, "paged_attention");
    }
  }
}

TEST_CASE("paged_attention over blocks equals attention over the same rows laid out contiguously") {
  auto be = make_cpu_backend(2);
  const PagedCase c{8, 2, 64, 16, {37}, {4}};
  const PagedStep st = make_step(c, 70);
  const PagedBatch b = st.batch();
  const int64_t kvd = 128, len = 41;
  const int64_t stride = 2 * 16 * kvd;
  const auto pool = random_floats(static_cast<size_t>(st.n_blocks * stride), 71);
  std::vector<float> kc(len * kvd), vc(len * kvd);
  for (int64_t pos = 0; pos < len; ++pos) {
    const int64_t blk = st.seq_blocks[static_cast<size_t>(pos / 16)];
    std::memcpy(&kc[pos * kvd], &pool[blk * stride + (pos % 16) * kvd], kvd * sizeof(float));
    std::memcpy(&vc[pos * kvd], &pool[blk * stride + 16 * kvd + (pos % 16) * kvd], kvd * sizeof(float));
  }
  const auto q = random_floats(4 * 8 * 64, 72, -3.f, 3.f);
  AttentionParams p{.n_tokens = 4, .pos0 = 37, .n_heads = 8, .n_kv_heads = 2, .head_dim = 64,
                    .scale = 0.125f, .kv_stride = kvd};
  std::vector<float> want(q.size()), got(q.size());
  be->attention(q.data(), kc.data(), vc.data(), want.data(), p);
  KvLayer kv{const_cast<float*>(pool.data()), const_cast<float*>(pool.data()) + 16 * kvd, stride,
             16, kvd};
  be->paged_attention(q.data(), kv, got.data(), b, p);
  CHECK(got == want);  // the CPU backend gathers and runs the same kernel
}

TEST_CASE("gather_rows and argmax equal the reference exactly") {
  std::vector<std::unique_ptr<Backend>> backends = cpu_backends();
  backends.push_back(make_reference_backend());
  for (auto& be : backends) {
    const auto x = random_floats(9 * 33, 80);
    const int32_t rows[] = {8, 0, 3, 3};
    std::vector<float> want(4 * 33), got(4 * 33);
    reference::gather_rows(x.data(), rows, 4, 33, want.data());
    be->gather_rows(x.data(), rows, 4, 33, got.data());
    CHECK(got == want);
    CHECK(std::equal(got.begin(), got.begin() + 33, x.begin() + 8 * 33));

    // Rows: random; a tie (lowest id wins); NaN (never wins); all -inf/NaN (0).
    const int64_t nv = 1000;
    auto l = random_floats(5 * nv, 81, -5.f, 5.f);
    l[nv + 10] = l[nv + 700] = 9.f;
    l[2 * nv + 3] = std::nanf("");
    l[2 * nv + 4] = 8.f;
    l[2 * nv] = std::nanf("");
    for (int64_t j = 0; j < nv; ++j) l[3 * nv + j] = j % 2 ? -INFINITY : std::nanf("");
    l[4 * nv + nv - 1] = 7.f;
    std::vector<int32_t> want_ids(5), got_ids(5, -1);
    reference::argmax(l.data(), 5, nv, want_ids.data());
    be->argmax(l.data(), 5, nv, got_ids.data());
    INFO(be->name() << " threads " << be->n_threads());
    CHECK(got_ids == want_ids);
    CHECK(want_ids[0] == static_cast<int32_t>(std::max_element(l.begin(), l.begin() + nv) - l.begin()));
    CHECK(want_ids[1] == 10);
    CHECK(want_ids[2] == 4);
    CHECK(want_ids[3] == 0);
    CHECK(want_ids[4] == nv - 1);
  }
}

TEST_CASE("host backends: alloc gives zeroed aligned memory; upload/download copy") {
  std::vector<std::unique_ptr<Backend>> backends = cpu_backends();
  backends.push_back(make_reference_backend());
  for (auto& be : backends) {
    for (size_t bytes : {size_t{1}, size_t{100}, size_t{1} << 20}) {
      BackendBuffer buf(be.get(), bytes);
      REQUIRE(buf.ok());
      CHECK(reinterpret_cast<uintptr_t>(buf.get()) % 64 == 0);
      std::vector<uint8_t> back(bytes, 0xff);
      be->download(back.data(), buf.get(), bytes);
      CHECK(std::all_of(back.begin(), back.end(), [](uint8_t c) { return c == 0; }));
      std::vector<uint8_t> data(bytes);
      for (size_t i = 0; i < bytes; ++i) data[i] = static_cast<uint8_t>(i * 7);
      be->upload(buf.get(), data.data(), bytes);
      be->synchronize();
      be->download(back.data(), buf.get(), bytes);
      CHECK(back == data);
    }
    const float v[3] = {1, 2, 3};
    auto pv = be->prepare_vector(v, 3);
    REQUIRE(pv.is_ok());
    CHECK(*pv == v);  // host backends use the vector in place
    CHECK(!be->describe().empty());
  }
}

}  // namespace
}  // namespace scn::inference
