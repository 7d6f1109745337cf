#include "inference/cli/byte_size.h"

#include <doctest/doctest.h>

#include <string>

namespace scn::inference {
namespace {

TEST_CASE("parse_byte_size: numbers and binary suffixes") {
  struct Case {
    const char* text;
    int64_t bytes;
  };
  for (const Case c : {Case{"0", 0}, Case{"1073741824", 1073741824}, Case{"10b", 10}, Case{"1K", 1024},
                       Case{"2kb", 2048}, Case{"3KiB", 3072}, Case{"512M", int64_t{512} << 20},
                       Case{"512mib", int64_t{512} << 20}, Case{"2G", int64_t{2} << 30},
                       Case{"1.5GiB", int64_t{3} << 29}, Case{"1T", int64_t{1} << 40},
                       Case{"0.5k", 512}}) {
    CAPTURE(c.text);
    auto r = parse_byte_size(c.text);
    REQUIRE(r.is_ok());
    CHECK(*r == c.bytes);
  }
}

TEST_CASE("parse_byte_size: rejects what is not a size") {
  for (const char* text : {"", "M", "-1", "1X", "1 G", " 1G", "1GG", ".", "99999999999999999999",
                           "8388608T", "1e9"}) {
    CAPTURE(text);
    auto r = parse_byte_size(text);
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
  }
}

}  // namespace
}  // namespace scn::inference
