// Small helpers for the benchmarks' raw HTTP/1.1 text (the load generator
// and the canned upstream parse heads themselves, to stay cheap).
#pragma once

#include <cctype>
#include <string_view>

namespace scn::bench {

// Whether `s` starts with `lower_prefix` (given in lower case), ignoring
// ASCII case: a header line against "content-length:".
inline bool iprefix(std::string_view s, std::string_view lower_prefix) {
  if (s.size() < lower_prefix.size()) return false;
  for (std::size_t i = 0; i < lower_prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != lower_prefix[i]) return false;
  }
  return true;
}

}  // namespace scn::bench
