// Byte sizes on the command line: "1073741824", "512M", "2G", "1.5GiB".
//
// Contract:
//  - parse_byte_size() accepts a non-negative decimal number (digits with an
//    optional fraction) followed by an optional suffix, case-insensitive:
//    none or B (bytes), K/KB/KiB, M/MB/MiB, G/GB/GiB, T/TB/TiB — all binary
//    (1K = 1024), as llama.cpp and most CLIs read them for memory sizes.
//    The result is rounded down to whole bytes.
//  - Anything else (empty, negative, unknown suffix, spaces, a value over
//    2^62) is kInvalidArgument naming the text.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/status.h"

namespace scn::inference {

Result<int64_t> parse_byte_size(std::string_view text);

}  // namespace scn::inference
