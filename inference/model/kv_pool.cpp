// KvPool: block storage, reference counts, the prefix index and its LRU
// (see kv_pool.h).
#include "inference/model/kv_pool.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

namespace scn::inference {

KvPool::KvPool(Backend& backend, int64_t n_layer, int64_t kv_dim, int block_tokens,
               int n_blocks)
    : backend_(backend), n_layer_(n_layer), kv_dim_(kv_dim), block_tokens_(block_tokens),
      n_blocks_(n_blocks) {
  data_ = BackendBuffer(&backend, std::max<size_t>(sizeof(float), bytes()));
  if (!data_.ok()) throw std::bad_alloc();
  blocks_.resize(static_cast<size_t>(n_blocks));
  free_.reserve(static_cast<size_t>(n_blocks));
  for (int b = n_blocks - 1; b >= 0; --b) free_.push_back(b);  // block 0 first
}

int KvPool::allocate() {
  int b = -1;
  if (!free_.empty()) {
    b = free_.back();
    free_.pop_back();
  } else if (!lru_.empty()) {
    b = lru_.front();
    lru_.pop_front();
    unindex(b);
    ++evictions_;
  } else {
    return -1;
  }
  blocks_[b].refs = 1;
  ++used_;
  return b;
}

void KvPool::retain(int block) {
  Block& blk = blocks_[block];
  if (blk.refs == 0) {
    // Only a cached block can be revived from 0 references.
    lru_.erase(blk.lru_it);
    ++used_;
  }
  ++blk.refs;
}

void KvPool::release(int block) {
  Block& blk = blocks_[block];
  if (blk.refs <= 0) return;
  if (--blk.refs > 0) return;
  --used_;
  if (blk.indexed) {
    lru_.push_back(block);
    blk.lru_it = std::prev(lru_.end());
  } else {
    free_.push_back(block);
  }
}

uint64_t KvPool::chain_hash(uint64_t prev_hash, std::span<const int32_t> tokens) {
  // FNV-1a over the previous hash and the token ids, then a final mix
  // (splitmix64) so that nearby inputs spread over the whole key space.
  uint64_t h = kRootHash;
  auto feed = [&h](uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      h ^= (v >> (8 * i)) & 0xff;
      h *= 0x100000001b3ull;
    }
  };
  feed(prev_hash);
  for (int32_t t : tokens) feed(static_cast<uint32_t>(t));
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h;
}

uint64_t KvPool::publish(int block, uint64_t prev_hash, std::span<const int32_t> tokens) {
  const uint64_t h = chain_hash(prev_hash, tokens);
  Block& blk = blocks_[block];
  if (blk.indexed) return h;
  auto [lo, hi] = index_.equal_range(h);
  for (auto it = lo; it != hi; ++it) {
    const Block& other = blocks_[it->second];
    if (other.prev == prev_hash && std::ranges::equal(other.tokens, tokens)) return h;
  }
  blk.indexed = true;
  blk.hash = h;
  blk.prev = prev_hash;
  blk.tokens.assign(tokens.begin(), tokens.end());
  index_.emplace(h, block);
  if (blk.refs == 0) {  // published after its last reference went away
    lru_.push_back(block);
    blk.lru_it = std::prev(lru_.end());
  }
  return h;
}

int KvPool::lookup(uint64_t prev_hash, std::span<const int32_t> tokens) {
  const uint64_t h = chain_hash(prev_hash, tokens);
  auto [lo, hi] = index_.equal_range(h);
  for (auto it = lo; it != hi; ++it) {
    const int b = it->second;
    const Block& blk = blocks_[b];
    if (blk.prev != prev_hash || !std::ranges::equal(blk.tokens, tokens)) continue;
    retain(b);  // leaves the LRU list while referenced
    return b;
  }
  return -1;
}

void KvPool::unindex(int block) {
  Block& blk = blocks_[block];
  if (!blk.indexed) return;
  auto [lo, hi] = index_.equal_range(blk.hash);
  for (auto it = lo; it != hi; ++it) {
    if (it->second == block) {
      index_.erase(it);
      break;
    }
  }
  blk.indexed = false;
  blk.tokens.clear();
}

}  // namespace scn::inference
