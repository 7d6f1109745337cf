// Memory for repacked weights, on transparent huge pages (2 MiB): the decode
// path streams every weight once per token, and on 4 KiB pages that costs a
// TLB walk per page and stops the hardware prefetchers at every page
// boundary (measured: an 896 x 896 Q4_0 weight, 451 KiB, streamed about 20%
// slower per byte than a 2.4 MiB one that had huge pages).
//
// Contract: weight_alloc(bytes) returns 64-byte-aligned zeroed memory or
// nullptr; weight_free releases it (safe from any thread). Weights of up to
// kSlabBytes / 2 share 32 MiB slabs (mmap'd, 32 MiB-aligned, MADV_HUGEPAGE),
// each slab unmapped when its last weight is freed; the slab being filled
// stays mapped for the next allocation (at most one, its untouched pages not
// resident). Larger weights get a slab of their own.
#pragma once

#include <cstddef>

namespace scn::inference::cpu {

inline constexpr size_t kSlabBytes = size_t{32} << 20;

void* weight_alloc(size_t bytes);
void weight_free(void* p);

}  // namespace scn::inference::cpu
