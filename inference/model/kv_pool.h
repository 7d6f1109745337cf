// The paged KV cache shared by all sequences of an engine: one pool of
// fixed-size blocks, each holding block_tokens positions of K and V for every
// layer, plus a prefix index that lets sequences share the blocks of a common
// token prefix.
//
// Contract:
//  - Block b's storage is [n_layer][2 (K, V)][block_tokens][kv_dim] float32:
//    layer l's K rows at base + (b * n_layer + l) * 2 * block_tokens * kv_dim
//    floats, its V rows right after. The storage is backend memory, allocated
//    once through the Backend given to the constructor (device memory on a
//    GPU: nothing on the host may dereference k(), v() or layer(); tests read
//    it with Backend::download). layer(l) describes layer l for the paged
//    ops (KvLayer, block_stride = n_layer * 2 * block_tokens * kv_dim).
//    The constructor throws std::bad_alloc when the memory cannot be had.
//    A sequence keeps a block table (vector of block ids); position p lives
//    in block table[p / block_tokens], row p % block_tokens.
//  - Reference counts: allocate() hands out a block with refcount 1; retain()
//    / release() add and drop references. A block whose count drops to 0 is
//    free again — unless it is in the prefix index, in which case it stays
//    cached (evictable) and goes to the back of the LRU list.
//  - allocate() takes a never-cached free block first; otherwise it evicts the
//    least recently used *unreferenced* cached block (removing it from the
//    index); referenced blocks are never evicted. -1 when neither exists.
//  - The prefix index maps the chain hash of a full block — hash(prev block's
//    chain hash, the block's block_tokens token ids) — to a block. publish()
//    enters a full block (no-op when the key is present already, or the block
//    is indexed under another key); lookup() finds the block that continues
//    `prev_hash` with exactly `tokens` (the tokens are compared, so a hash
//    collision cannot return wrong K/V), retains it and returns its id.
//  - Not thread-safe: the engine's compute thread owns the pool; counters are
//    read by others through the engine's own lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "inference/backend/backend.h"

namespace scn::inference {

class KvPool {
 public:
  static constexpr uint64_t kRootHash = 0xcbf29ce484222325ull;  // prev hash of block 0

  // The backend must outlive the pool.
  KvPool(Backend& backend, int64_t n_layer, int64_t kv_dim, int block_tokens, int n_blocks);
  KvPool(const KvPool&) = delete;
  KvPool& operator=(const KvPool&) = delete;

  // Bytes of one block (all layers, K and V).
  static size_t block_bytes(int64_t n_layer, int64_t kv_dim, int block_tokens) {
    return 2 * static_cast<size_t>(n_layer) * static_cast<size_t>(block_tokens) *
           static_cast<size_t>(kv_dim) * sizeof(float);
  }

  int block_tokens() const { return block_tokens_; }
  int n_blocks() const { return n_blocks_; }
  int64_t n_layer() const { return n_layer_; }
  int64_t kv_dim() const { return kv_dim_; }
  size_t bytes() const { return block_bytes(n_layer_, kv_dim_, block_tokens_) * n_blocks_; }

  // Backend pointers to block `block`'s [block_tokens][kv_dim] K / V rows of a layer.
  float* k(int block, int64_t layer) const { return base(block, layer); }
  float* v(int block, int64_t layer) const { return base(block, layer) + block_floats(); }
  KvLayer layer(int64_t layer) const {
    KvLayer kv;
    kv.k = base(0, layer);
    kv.v = kv.k + block_floats();
    kv.block_stride = static_cast<int64_t>(n_layer_) * 2 * static_cast<int64_t>(block_floats());
    kv.block_tokens = block_tokens_;
    kv.kv_dim = kv_dim_;
    return kv;
  }
  Backend& backend() const { return backend_; }

  int allocate();
  void retain(int block);
  void release(int block);
  int refcount(int block) const { return blocks_[block].refs; }

  static uint64_t chain_hash(uint64_t prev_hash, std::span<const int32_t> tokens);
  // Indexes full block `block` holding `tokens` after the chain `prev_hash`;
  // returns its chain hash.
  uint64_t publish(int block, uint64_t prev_hash, std::span<const int32_t> tokens);
  // The cached block continuing prev_hash with `tokens` (retained), or -1.
  int lookup(uint64_t prev_hash, std::span<const int32_t> tokens);

  int used() const { return used_; }                          // blocks with refs > 0
  int cached() const { return static_cast<int>(index_.size()); }  // indexed blocks
  int evictable() const { return static_cast<int>(lru_.size()); }
  // Blocks allocate() can still hand out (free + evictable).
  int available() const { return n_blocks_ - used_; }
  int64_t evictions() const { return evictions_; }

 private:
  struct Block {
    int refs = 0;
    bool indexed = false;
    uint64_t hash = 0, prev = 0;
    std::vector<int32_t> tokens;          // when indexed
    std::list<int>::iterator lru_it;      // when indexed and refs == 0
  };
  size_t block_floats() const { return static_cast<size_t>(block_tokens_) * kv_dim_; }
  float* base(int block, int64_t layer) const {
    return data_.get<float>() + (static_cast<size_t>(block) * n_layer_ + layer) * 2 * block_floats();
  }
  void unindex(int block);

  Backend& backend_;
  int64_t n_layer_, kv_dim_;
  int block_tokens_, n_blocks_;
  BackendBuffer data_;
  std::vector<Block> blocks_;
  std::vector<int> free_;                  // never-cached free blocks (stack)
  std::list<int> lru_;                     // unreferenced cached blocks, oldest first
  std::unordered_multimap<uint64_t, int> index_;
  int used_ = 0;
  int64_t evictions_ = 0;
};

}  // namespace scn::inference
