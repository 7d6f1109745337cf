// KvPool: block allocation, reference counts, the chain-hashed prefix index
// and LRU eviction of unreferenced cached blocks only.
#include "inference/model/kv_pool.h"

#include <doctest/doctest.h>

#include <set>
#include <vector>

#include "inference/backend/forwarding_backend.h"
#include "inference/backend/reference.h"

namespace scn::inference {
namespace {

std::vector<int32_t> toks(int32_t first, int n) {
  std::vector<int32_t> t;
  for (int i = 0; i < n; ++i) t.push_back(first + i);
  return t;
}

TEST_CASE("kv pool: blocks are distinct storage and come back when released") {
  auto be = make_cpu_backend(1);
  KvPool pool(*be, 3, 8, 4, 5);
  CHECK(pool.bytes() == KvPool::block_bytes(3, 8, 4) * 5);
  std::set<int> got;
  for (int i = 0; i < 5; ++i) {
    const int b = pool.allocate();
    REQUIRE(b >= 0);
    CHECK(pool.refcount(b) == 1);
    got.insert(b);
  }
  CHECK(got.size() == 5);
  CHECK(pool.used() == 5);
  CHECK(pool.available() == 0);
  CHECK(pool.allocate() == -1);
  // K and V of every block and layer do not overlap.
  std::set<const float*> ptrs;
  for (int b : got)
    for (int l = 0; l < 3; ++l) {
      ptrs.insert(pool.k(b, l));
      ptrs.insert(pool.v(b, l));
      CHECK(pool.v(b, l) - pool.k(b, l) == 4 * 8);
    }
  CHECK(ptrs.size() == 5 * 3 * 2);
  // The last float of the pool is backend memory like the rest.
  const float one = 1.f;
  float back = 0.f;
  be->upload(pool.k(4, 2) + 4 * 8 - 1, &one, sizeof one);
  be->download(&back, pool.k(4, 2) + 4 * 8 - 1, sizeof back);
  CHECK(back == 1.f);

  const int b = *got.begin();
  pool.retain(b);
  CHECK(pool.refcount(b) == 2);
  pool.release(b);
  CHECK(pool.used() == 5);
  pool.release(b);
  CHECK(pool.refcount(b) == 0);
  CHECK(pool.used() == 4);
  CHECK(pool.allocate() == b);
}

TEST_CASE("kv pool: chain hashes depend on the tokens, their order and the previous block") {
  const auto a = toks(10, 4), b = toks(20, 4);
  const std::vector<int32_t> a_rev(a.rbegin(), a.rend());
  const uint64_t h1 = KvPool::chain_hash(KvPool::kRootHash, a);
  CHECK(h1 == KvPool::chain_hash(KvPool::kRootHash, a));
  CHECK(h1 != KvPool::chain_hash(KvPool::kRootHash, a_rev));
  CHECK(h1 != KvPool::chain_hash(KvPool::kRootHash, b));
  const uint64_t h2 = KvPool::chain_hash(h1, b);
  CHECK(h2 != KvPool::chain_hash(KvPool::chain_hash(KvPool::kRootHash, b), b));
  CHECK(h2 != KvPool::chain_hash(KvPool::kRootHash, b));
}

TEST_CASE("kv pool: the prefix index finds published blocks and retains them") {
  auto be = make_reference_backend();
  KvPool pool(*be, 1, 2, 4, 4);
  const auto t0 = toks(1, 4), t1 = toks(5, 4);
  const int b0 = pool.allocate(), b1 = pool.allocate();
  const uint64_t h0 = pool.publish(b0, KvPool::kRootHash, t0);
  CHECK(h0 == KvPool::chain_hash(KvPool::kRootHash, t0));
  pool.publish(b1, h0, t1);
  CHECK(pool.cached() == 2);

  CHECK(pool.lookup(KvPool::kRootHash, t0) == b0);
  CHECK(pool.refcount(b0) == 2);
  CHECK(pool.lookup(h0, t1) == b1);
  CHECK(pool.lookup(KvPool::kRootHash, t1) == -1);  // same tokens, other chain
  CHECK(pool.lookup(h0, toks(5, 3)) == -1);         // other tokens
  pool.release(b0);
  pool.release(b1);

  // A second block with the same content is not indexed twice.
  const int b2 = pool.allocate();
  pool.publish(b2, KvPool::kRootHash, t0);
  CHECK(pool.cached() == 2);
  pool.release(b2);
  CHECK(pool.refcount(b2) == 0);
  CHECK(pool.evictable() == 0);  // not cached: simply free

  // Unreferenced cached blocks stay findable until evicted.
  pool.release(b0);
  pool.release(b1);
  CHECK(pool.used() == 0);
  CHECK(pool.evictable() == 2);
  CHECK(pool.lookup(KvPool::kRootHash, t0) == b0);
  CHECK(pool.used() == 1);
  CHECK(pool.evictable() == 1);
  pool.release(b0);
}

TEST_CASE("kv pool: LRU eviction takes only unreferenced cached blocks, oldest first") {
  auto be = make_reference_backend();
  KvPool pool(*be, 1, 2, 2, 3);
  const int a = pool.allocate(), b = pool.allocate(), c = pool.allocate();
  pool.publish(a, KvPool::kRootHash, toks(1, 2));
  pool.publish(b, KvPool::kRootHash, toks(3, 2));
  pool.publish(c, KvPool::kRootHash, toks(5, 2));
  CHECK(pool.allocate() == -1);  // all referenced: nothing to evict
  pool.release(b);               // b becomes unreferenced first
  pool.release(a);
  CHECK(pool.evictable() == 2);
  CHECK(pool.available() == 2);
  const int x = pool.allocate();
  CHECK(x == b);  // least recently used
  CHECK(pool.evictions() == 1);
  CHECK(pool.lookup(KvPool::kRootHash, toks(3, 2)) == -1);  // evicted: gone from the index
  CHECK(pool.lookup(KvPool::kRootHash, toks(1, 2)) == a);   // revived, referenced again
  CHECK(pool.allocate() == -1);  // a and c are referenced; nothing else
  CHECK(pool.lookup(KvPool::kRootHash, toks(5, 2)) == c);
  CHECK(pool.refcount(c) == 2);
  pool.release(x);
  CHECK(pool.allocate() == x);
}

// A backend that hands out counted host memory, to see where the pool lives.
class CountingMemory final : public ForwardingBackend {
 public:
  CountingMemory() : ForwardingBackend(make_reference_backend()) {}
  void* alloc(size_t bytes) override {
    allocated += bytes;
    ++allocs;
    return inner().alloc(bytes);
  }
  void free(void* p) override {
    ++frees;
    inner().free(p);
  }
  size_t allocated = 0;
  int allocs = 0, frees = 0;
};

TEST_CASE("kv pool: storage comes from the backend; layer() describes the block layout") {
  CountingMemory be;
  {
    const int64_t n_layer = 3, kv_dim = 8;
    const int bt = 4, n_blocks = 6;
    KvPool pool(be, n_layer, kv_dim, bt, n_blocks);
    CHECK(be.allocs == 1);
    CHECK(be.allocated == pool.bytes());
    CHECK(&pool.backend() == &be);
    for (int64_t l = 0; l < n_layer; ++l) {
      const KvLayer kv = pool.layer(l);
      CHECK(kv.block_tokens == bt);
      CHECK(kv.kv_dim == kv_dim);
      CHECK(kv.block_stride == n_layer * 2 * bt * kv_dim);
      for (int b = 0; b < n_blocks; ++b) {
        CHECK(kv.k + b * kv.block_stride == pool.k(b, l));
        CHECK(kv.v + b * kv.block_stride == pool.v(b, l));
      }
    }
    // Block b, layer l: K at base + (b * n_layer + l) * 2 * bt * kv_dim.
    CHECK(pool.k(2, 1) - pool.k(0, 0) == (2 * n_layer + 1) * 2 * bt * kv_dim);
    CHECK(pool.v(2, 1) - pool.k(2, 1) == bt * kv_dim);
    // kv_store writes through layer(): position 5 of a sequence with blocks
    // {3, 1} is slot 1 * bt + 1, found again with download.
    std::vector<float> k(kv_dim), v(kv_dim), got(kv_dim);
    for (int i = 0; i < kv_dim; ++i) k[i] = 1.f + i, v[i] = -1.f - i;
    const int32_t slot = 1 * bt + 1;
    const int32_t pos = 5, seq = 0;
    PagedBatch b;
    b.n_rows = 1;
    b.row_slot = &slot;
    b.row_pos = &pos;
    b.row_seq = &seq;
    be.kv_store(pool.layer(2), k.data(), v.data(), b);
    be.download(got.data(), pool.k(1, 2) + 1 * kv_dim, kv_dim * sizeof(float));
    CHECK(got == k);
    be.download(got.data(), pool.v(1, 2) + 1 * kv_dim, kv_dim * sizeof(float));
    CHECK(got == v);
  }
  CHECK(be.frees == 1);
}

}  // namespace
}  // namespace scn::inference
