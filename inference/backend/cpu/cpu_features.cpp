#include "inference/backend/cpu/cpu_features.h"

#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace scn::inference::cpu {
namespace {

uint64_t xgetbv0() {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}

Isa detect() {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return Isa::kScalar;
  const bool osxsave = c & (1u << 27), fma = c & (1u << 12), f16c = c & (1u << 29);
  if (!osxsave) return Isa::kScalar;
  const uint64_t xcr0 = xgetbv0();
  const bool os_avx = (xcr0 & 0x6) == 0x6;
  const bool os_avx512 = os_avx && (xcr0 & 0xe0) == 0xe0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return Isa::kScalar;
  const bool avx2 = b & (1u << 5), bmi2 = b & (1u << 8);
  const bool avx512f = b & (1u << 16), avx512dq = b & (1u << 17);
  const bool avx512bw = b & (1u << 30), avx512vl = b & (1u << 31);
  const bool vnni = c & (1u << 11);
  if (os_avx512 && avx512f && avx512dq && avx512bw && avx512vl && vnni && avx2 && fma &&
      f16c && bmi2)
    return Isa::kAvx512;
  if (os_avx && avx2 && fma && f16c) return Isa::kAvx2;
  return Isa::kScalar;
}

Isa choose() {
  const Isa best = detected_isa();
  const char* env = std::getenv("SCN_CPU_ISA");
  if (env == nullptr || *env == '\0') return best;
  const auto want = parse_isa(env);
  if (!want) {
    std::fprintf(stderr, "scn: ignoring unknown SCN_CPU_ISA=%s (scalar|avx2|avx512)\n", env);
    return best;
  }
  if (static_cast<int>(*want) > static_cast<int>(best)) {
    std::fprintf(stderr, "scn: SCN_CPU_ISA=%s is not supported by this CPU, using %s\n", env,
                 isa_name(best).data());
    return best;
  }
  return *want;
}

bool detect_amx() {
  if (detected_isa() != Isa::kAvx512 || active_isa() != Isa::kAvx512) return false;
  const char* env = std::getenv("SCN_CPU_AMX");
  if (env != nullptr && env[0] == '0') return false;
  unsigned a, b, c, d;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  const bool amx_bf16 = d & (1u << 22), amx_tile = d & (1u << 24), vbmi = c & (1u << 1);
  if (!amx_bf16 || !amx_tile || !vbmi) return false;
  if ((xgetbv0() & (3ull << 17)) != (3ull << 17)) return false;  // XTILECFG, XTILEDATA
#if defined(__linux__) && defined(SYS_arch_prctl)
  constexpr int kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
  return false;
#endif
}

}  // namespace

bool amx_usable() {
  static const bool ok = detect_amx();
  return ok;
}

bool amx_int8_usable() {
  static const bool ok = [] {
    unsigned a, b, c, d;
    return amx_usable() && __get_cpuid_count(7, 0, &a, &b, &c, &d) && (d & (1u << 25)) != 0;
  }();
  return ok;
}

Isa detected_isa() {
  static const Isa isa = detect();
  return isa;
}

Isa active_isa() {
  static const Isa isa = choose();
  return isa;
}

std::vector<Isa> supported_isas() {
  std::vector<Isa> out;
  for (int i = 0; i <= static_cast<int>(detected_isa()); ++i) out.push_back(static_cast<Isa>(i));
  return out;
}

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return "scalar";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
  }
  return "?";
}

std::optional<Isa> parse_isa(std::string_view s) {
  if (s == "scalar") return Isa::kScalar;
  if (s == "avx2") return Isa::kAvx2;
  if (s == "avx512") return Isa::kAvx512;
  return std::nullopt;
}

}  // namespace scn::inference::cpu
