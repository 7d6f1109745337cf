// The CUDA backend's attention against reference::attention: the contiguous
// op, and paged_attention over random block tables checked against an
// independent host computation (gather each sequence's blocks, then the
// reference) — decode rows with long contexts (split-K), prefill chunks,
// mixed batches, block_tokens 16 and 32, GQA ratios 1 to 16, head_dim 8 to
// 256; and the same through run_graph (CUDA graph capture and replays).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "inference/backend/reference.h"
#include "tests/gpu/gpu_test_util.h"

namespace scn::inference::gpu_test {
namespace {

void report(const std::string& what, double e) {
  std::printf("  %-66s nmse %.3g\n", what.c_str(), e);
  CHECK_MESSAGE(e <= kTolF32, what << ": nmse " << e << " > " << kTolF32);
}

AttentionParams heads(int64_t n_heads, int64_t n_kv, int64_t hd) {
  AttentionParams p;
  p.n_heads = n_heads;
  p.n_kv_heads = n_kv;
  p.head_dim = hd;
  p.scale = 1.f / std::sqrt(static_cast<float>(hd));
  return p;
}

TEST_CASE("cuda ops: attention (contiguous K/V)") {
  std::mt19937 rng(11);
  struct Case { int64_t n_tokens, pos0, n_heads, n_kv, hd, stride_pad; };
  for (const Case c : {Case{1, 0, 8, 4, 8, 0}, Case{7, 5, 8, 8, 64, 0}, Case{1, 4095, 32, 8, 128, 0},
                       Case{33, 100, 28, 4, 128, 0}, Case{16, 0, 4, 1, 256, 8},
                       Case{5, 300, 12, 2, 80, 3}, Case{1, 2000, 14, 2, 64, 0},
                       Case{3, 700, 32, 2, 32, 0}}) {
    AttentionParams p = heads(c.n_heads, c.n_kv, c.hd);
    p.n_tokens = c.n_tokens;
    p.pos0 = c.pos0;
    p.kv_stride = c.n_kv * c.hd + c.stride_pad;
    const int64_t len = c.pos0 + c.n_tokens, qd = c.n_heads * c.hd;
    const auto q = random_floats(rng, c.n_tokens * qd, -2.f, 2.f);
    const auto k = random_floats(rng, len * p.kv_stride, -2.f, 2.f);
    const auto v = random_floats(rng, len * p.kv_stride);
    std::vector<float> want(c.n_tokens * qd);
    reference::attention(q.data(), k.data(), v.data(), want.data(), p);
    Dev<float> dq(q), dk(k), dv(v), dout(want.size());
    cuda().attention(dq.get(), dk.get(), dv.get(), dout.get(), p);
    report("attention tokens=" + std::to_string(c.n_tokens) + " pos0=" + std::to_string(c.pos0) +
               " heads=" + std::to_string(c.n_heads) + "/" + std::to_string(c.n_kv) +
               " hd=" + std::to_string(c.hd) + " stride+" + std::to_string(c.stride_pad),
           nmse(dout.host(), want));
  }
}

struct Chunk { int32_t pos0, n_rows; };

struct PagedCase {
  const char* name;
  int32_t bt;
  int64_t n_heads, n_kv, hd;
  std::vector<Chunk> chunks;
};

// A batch over a paged KV layer: host data, device copies, expected output.
struct PagedFixture {
  PagedBatch b;                   // device arrays
  KvLayer kv;                     // device memory
  AttentionParams p;
  std::vector<float> q, want;     // host
  std::vector<std::unique_ptr<Dev<int32_t>>> arrays;
  std::unique_ptr<Dev<float>> dk, dv, dq, dout;
  std::vector<float> k, v;
  std::vector<std::vector<int32_t>> tables;
  int64_t qd = 0;

  PagedFixture(std::mt19937& rng, const PagedCase& c) {
    p = heads(c.n_heads, c.n_kv, c.hd);
    const int64_t kv_dim = c.n_kv * c.hd;
    qd = c.n_heads * c.hd;
    const int32_t S = static_cast<int32_t>(c.chunks.size());
    int32_t N = 0, max_len = 0, max_rows = 0, max_blocks = 0, total_blocks = 0;
    for (const Chunk& ch : c.chunks) {
      const int32_t len = ch.pos0 + ch.n_rows;
      const int32_t nb = (len + c.bt - 1) / c.bt;
      N += ch.n_rows;
      max_len = std::max(max_len, len);
      max_rows = std::max(max_rows, ch.n_rows);
      max_blocks = std::max(max_blocks, nb);
      total_blocks += nb;
    }
    const int32_t n_blocks = total_blocks + 3;  // a few blocks nobody uses
    const int64_t block_stride = c.bt * kv_dim + 5;
    k = random_floats(rng, n_blocks * block_stride, -2.f, 2.f);
    v = random_floats(rng, n_blocks * block_stride);
    q = random_floats(rng, N * qd, -2.f, 2.f);
    std::vector<int32_t> perm(n_blocks);
    for (int32_t i = 0; i < n_blocks; ++i) perm[i] = i;
    std::shuffle(perm.begin(), perm.end(), rng);
    std::vector<int32_t> row_pos, row_seq, row_slot, seq_row0, seq_n_rows, seq_pos0,
        seq_blocks(static_cast<size_t>(S) * (max_blocks + 1), 0);
    int32_t next_block = 0, row = 0;
    want.assign(N * qd, 0.f);
    for (int32_t s = 0; s < S; ++s) {
      const Chunk ch = c.chunks[s];
      const int32_t len = ch.pos0 + ch.n_rows, nb = (len + c.bt - 1) / c.bt;
      std::vector<int32_t> table(perm.begin() + next_block, perm.begin() + next_block + nb);
      next_block += nb;
      std::copy(table.begin(), table.end(), seq_blocks.begin() + s * (max_blocks + 1));
      seq_row0.push_back(row);
      seq_n_rows.push_back(ch.n_rows);
      seq_pos0.push_back(ch.pos0);
      for (int32_t i = 0; i < ch.n_rows; ++i) {
        const int32_t pos = ch.pos0 + i;
        row_pos.push_back(pos);
        row_seq.push_back(s);
        row_slot.push_back(table[pos / c.bt] * c.bt + pos % c.bt);
      }
      // Expected: gather the sequence's K/V rows, then the reference.
      std::vector<float> kg(len * kv_dim), vg(len * kv_dim);
      for (int32_t j = 0; j < len; ++j) {
        const int64_t off = table[j / c.bt] * block_stride + (j % c.bt) * kv_dim;
        std::copy_n(k.data() + off, kv_dim, kg.data() + j * kv_dim);
        std::copy_n(v.data() + off, kv_dim, vg.data() + j * kv_dim);
      }
      AttentionParams pc = p;
      pc.n_tokens = ch.n_rows;
      pc.pos0 = ch.pos0;
      pc.kv_stride = kv_dim;
      reference::attention(q.data() + row * qd, kg.data(), vg.data(), want.data() + row * qd, pc);
      row += ch.n_rows;
    }
    dk = std::make_unique<Dev<float>>(k);
    dv = std::make_unique<Dev<float>>(v);
    dq = std::make_unique<Dev<float>>(q);
    dout = std::make_unique<Dev<float>>(want.size());
    auto dev = [&](const std::vector<int32_t>& h) {
      arrays.push_back(std::make_unique<Dev<int32_t>>(h));
      return arrays.back()->get();
    };
    b.n_rows = N;
    b.n_seqs = S;
    b.max_blocks = max_blocks + 1;
    b.max_len = max_len;
    b.max_rows = max_rows;
    b.row_pos = dev(row_pos);
    b.row_seq = dev(row_seq);
    b.row_slot = dev(row_slot);
    b.seq_row0 = dev(seq_row0);
    b.seq_n_rows = dev(seq_n_rows);
    b.seq_pos0 = dev(seq_pos0);
    b.seq_blocks = dev(seq_blocks);
    kv = KvLayer{dk->get(), dv->get(), block_stride, c.bt, kv_dim};
  }

  void run() { cuda().paged_attention(dq->get(), kv, dout->get(), b, p); }
};

std::vector<PagedCase> paged_cases() {
  return {
      {"decode, long contexts (split-K)", 16, 32, 8, 128, {{0, 1}, {4095, 1}, {100, 1}, {1023, 1}, {17, 1}}},
      {"decode, one row of 4096", 32, 16, 2, 64, {{4095, 1}}},
      {"mixed, GQA 7", 32, 28, 4, 128, {{0, 40}, {300, 1}, {64, 17}, {1000, 1}}},
      {"prefill, GQA 1", 16, 8, 8, 64, {{0, 100}, {5, 3}}},
      {"stories260K shapes", 16, 8, 4, 8, {{0, 12}, {30, 1}, {7, 1}, {200, 1}}},
      {"head_dim 256", 32, 4, 2, 256, {{2000, 1}, {0, 64}}},
      {"head_dim 80, GQA 16", 16, 32, 2, 80, {{500, 1}, {0, 9}, {3000, 2}}},
      {"one long chunk after a prefix", 32, 12, 2, 128, {{512, 300}}},
      {"GQA 4, head_dim 16, many sequences", 16, 8, 2, 16,
       {{0, 1}, {1, 1}, {2, 1}, {15, 1}, {16, 1}, {31, 1}, {32, 1}, {33, 5}, {47, 2}, {1500, 1}}},
  };
}

std::string case_name(const PagedCase& c) {
  return std::string("paged ") + c.name + " (bt " + std::to_string(c.bt) + ", " +
         std::to_string(c.n_heads) + "/" + std::to_string(c.n_kv) + " heads, hd " +
         std::to_string(c.hd) + ")";
}

TEST_CASE("cuda ops: paged_attention") {
  std::mt19937 rng(12);
  for (const PagedCase& c : paged_cases()) {
    PagedFixture f(rng, c);
    f.run();
    report(case_name(c), nmse(f.dout->host(), f.want));
  }
}

TEST_CASE("cuda ops: paged_attention through run_graph (capture, replay with new data)") {
  std::mt19937 rng(13);
  for (const PagedCase& c : {paged_cases()[0], paged_cases()[2]}) {
    PagedFixture f(rng, c);
    const uint64_t key = 0x5eed0000u + static_cast<uint64_t>(c.n_heads);
    for (int call = 0; call < 5; ++call) {  // eager, eager (scratch grew), capture, replays
      if (call > 0) {  // new queries: the replay must read the buffer's new contents
        PagedCase again = c;
        std::mt19937 rng2(100 + call);
        PagedFixture g(rng2, again);
        // Same shapes and block tables; only the data differs: take g's data
        // and expected output into f's device buffers.
        f.dq->set(g.q);
        f.dk->set(g.k);
        f.dv->set(g.v);
        f.want = g.want;
        // g's block tables came from its own permutation: upload them too.
        cuda().upload(const_cast<int32_t*>(f.b.seq_blocks), g.arrays[6]->host().data(),
                      g.arrays[6]->host().size() * sizeof(int32_t));
      }
      cuda().run_graph(key, [&] { f.run(); });
      report(case_name(c) + " graph call " + std::to_string(call), nmse(f.dout->host(), f.want));
    }
  }
}

}  // namespace
}  // namespace scn::inference::gpu_test
