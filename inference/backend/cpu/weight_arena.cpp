#include "inference/backend/cpu/weight_arena.h"

#include <atomic>
#include <cstdint>
#include <mutex>
#include <new>

#include <sys/mman.h>

namespace scn::inference::cpu {
namespace {

constexpr size_t kHeader = 64;  // the slab's header; weights start after it

struct SlabHeader {
  std::atomic<int64_t> refs;  // weights in the slab, plus one while it is being filled
  size_t bytes;               // mapped length
};

// A kSlabBytes-aligned mapping of `bytes` (a multiple of kSlabBytes), with
// its header set and one reference.
uint8_t* map_slab(size_t bytes) {
  void* raw = mmap(nullptr, bytes + kSlabBytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const uintptr_t r = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t a = (r + kSlabBytes - 1) & ~(uintptr_t{kSlabBytes} - 1);
  if (a > r) munmap(raw, a - r);
  if (r + kSlabBytes > a) munmap(reinterpret_cast<void*>(a + bytes), r + kSlabBytes - a);
  auto* slab = reinterpret_cast<uint8_t*>(a);
#ifdef MADV_HUGEPAGE
  madvise(slab, bytes, MADV_HUGEPAGE);
#endif
  auto* h = new (slab) SlabHeader;
  h->refs.store(1, std::memory_order_relaxed);
  h->bytes = bytes;
  return slab;
}

void release(uint8_t* slab) {
  auto* h = reinterpret_cast<SlabHeader*>(slab);
  if (h->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) munmap(slab, h->bytes);
}

std::mutex g_mu;
uint8_t* g_slab = nullptr;  // the slab being filled
size_t g_used = 0;          // its bytes handed out (from its start, header included)

}  // namespace

void* weight_alloc(size_t bytes) {
  const size_t need = (bytes + 63) / 64 * 64;
  if (need > kSlabBytes / 2) {
    uint8_t* slab = map_slab((need + kHeader + kSlabBytes - 1) / kSlabBytes * kSlabBytes);
    return slab ? slab + kHeader : nullptr;
  }
  std::lock_guard<std::mutex> lk(g_mu);
  if (g_slab == nullptr || g_used + need > kSlabBytes) {
    uint8_t* slab = map_slab(kSlabBytes);
    if (slab == nullptr) return nullptr;
    if (g_slab != nullptr) release(g_slab);
    g_slab = slab;
    g_used = kHeader;
  }
  uint8_t* p = g_slab + g_used;
  g_used += need;
  reinterpret_cast<SlabHeader*>(g_slab)->refs.fetch_add(1, std::memory_order_relaxed);
  return p;
}

void weight_free(void* p) {
  if (p == nullptr) return;
  release(reinterpret_cast<uint8_t*>(reinterpret_cast<uintptr_t>(p) & ~(uintptr_t{kSlabBytes} - 1)));
}

}  // namespace scn::inference::cpu
