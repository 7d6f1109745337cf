// KvPool: block allocation, reference counts, the chain-hashed prefix index
// and LRU eviction of unreferenced cached blocks only.
#include "inference/model/kv_pool.h"

#include <doctest/doctest.h>

#include <set>
#include <vector>

namespace scn::inference {
namespace {

std::vector<int32_t> toks(int32_t first, int n) {
  std::vector<int32_t> t;
  for (int i = 0; i < n; ++i) t.push_back(first + i);
  return t;
}

TEST_CASE("kv pool: blocks are distinct storage and come back when released") {
  KvPool pool(3, 8, 4, 5);
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
  pool.k(4, 2)[4 * 8 - 1] = 1.f;  // the last float of the pool is writable

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
  KvPool pool(1, 2, 4, 4);
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
  KvPool pool(1, 2, 2, 3);
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

}  // namespace
}  // namespace scn::inference
