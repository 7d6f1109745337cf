// AlignedAllocator<T, A>: a std::allocator whose blocks start on A-byte
// boundaries (e.g. 64: whole cache lines per row for SIMD and AMX tile
// loads and stores). Stateless; all instances compare equal.
#pragma once

#include <cstddef>
#include <new>

namespace scn::common {

template <class T, std::size_t A = 64>
struct AlignedAllocator {
  using value_type = T;
  template <class U>
  struct rebind {
    using other = AlignedAllocator<U, A>;
  };
  AlignedAllocator() = default;
  template <class U>
  AlignedAllocator(const AlignedAllocator<U, A>&) {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t{A})); }
  void deallocate(T* p, std::size_t) { ::operator delete(p, std::align_val_t{A}); }
  template <class U>
  bool operator==(const AlignedAllocator<U, A>&) const { return true; }
};

}  // namespace scn::common
