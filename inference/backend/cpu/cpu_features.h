// Run-time choice of the instruction set the CPU kernels use.
//
// Contract: detected_isa() is the best path this CPU (and OS) supports, by
// cpuid/xgetbv: kAvx512 needs AVX-512 F/BW/VL/DQ and VNNI, kAvx2 needs AVX2,
// FMA and F16C. active_isa() is what the backend uses: detected_isa(), or the
// path named by the environment variable SCN_CPU_ISA=scalar|avx2|avx512 when
// that is supported here (an unsupported or unknown value is ignored with a
// note on stderr). Both are computed once and cached; thread-safe.
// amx_usable(): the CPU has AMX-TILE, AMX-BF16 and AVX512-VBMI (every AMX
// CPU has it; the bf16 tile path uses it) beside the AVX-512 path,
// the OS enables tile state and granted this process the tile data
// permission (Linux arch_prctl ARCH_REQ_XCOMP_PERM), and the environment
// does not say SCN_CPU_AMX=0 or pick a narrower SCN_CPU_ISA. Cached.
// amx_int8_usable(): amx_usable() and the CPU has AMX-INT8 (TDPBSSD).
#pragma once

#include <optional>
#include <string_view>
#include <vector>

namespace scn::inference::cpu {

enum class Isa { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

Isa detected_isa();
Isa active_isa();
// Every path this CPU can run, scalar first (for tests that try them all).
std::vector<Isa> supported_isas();
std::string_view isa_name(Isa isa);
bool amx_usable();
bool amx_int8_usable();
std::optional<Isa> parse_isa(std::string_view s);

}  // namespace scn::inference::cpu
