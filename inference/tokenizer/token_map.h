// Internal: the text -> token id map of a vocabulary, searchable by
// std::string_view without building a std::string.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace scn::inference {

// Deliberately not noexcept: libstdc++ then stores each node's hash, so a
// lookup does not rehash every key it passes in a bucket (3x faster here).
struct StringViewHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

using TokenMap = std::unordered_map<std::string, int32_t, StringViewHash, std::equal_to<>>;

inline int32_t lookup_token(const TokenMap& map, std::string_view text) {
  const auto it = map.find(text);
  return it == map.end() ? -1 : it->second;
}

}  // namespace scn::inference
