#include "inference/cli/byte_size.h"

#include <cctype>
#include <string>

namespace scn::inference {

Result<int64_t> parse_byte_size(std::string_view text) {
  auto bad = [&] {
    return Status::invalid_argument("'" + std::string(text) +
                                    "' is not a byte size (e.g. 1073741824, 512M, 2G, 1.5GiB)");
  };
  size_t i = 0;
  uint64_t whole = 0;
  int digits = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    if (whole > (uint64_t{1} << 62) / 10) return bad();
    whole = whole * 10 + static_cast<uint64_t>(text[i] - '0');
    ++i;
    ++digits;
  }
  double frac = 0, scale = 0.1;
  if (i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      frac += scale * (text[i] - '0');
      scale /= 10;
      ++i;
      ++digits;
    }
  }
  if (digits == 0) return bad();
  std::string suffix;
  for (; i < text.size(); ++i) suffix += static_cast<char>(std::tolower(static_cast<unsigned char>(text[i])));
  int shift = -1;
  if (suffix.empty() || suffix == "b") shift = 0;
  else if (suffix == "k" || suffix == "kb" || suffix == "kib") shift = 10;
  else if (suffix == "m" || suffix == "mb" || suffix == "mib") shift = 20;
  else if (suffix == "g" || suffix == "gb" || suffix == "gib") shift = 30;
  else if (suffix == "t" || suffix == "tb" || suffix == "tib") shift = 40;
  if (shift < 0) return bad();
  if (shift > 0 && whole >= (uint64_t{1} << (62 - shift))) return bad();
  const uint64_t unit = uint64_t{1} << shift;
  const uint64_t value = whole * unit + static_cast<uint64_t>(frac * static_cast<double>(unit));
  if (value > (uint64_t{1} << 62)) return bad();
  return static_cast<int64_t>(value);
}

}  // namespace scn::inference
