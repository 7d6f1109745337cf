#include "common/uuid.h"

#include <doctest/doctest.h>

namespace scn::common {

TEST_CASE("is_uuid accepts exactly the canonical form") {
  struct Case {
    const char* text;
    bool ok;
  };
  const Case cases[] = {
      {"6d2c7aa2-0a41-4418-aea6-7de38897d2dc", true},
      {"6D2C7AA2-0A41-4418-AEA6-7DE38897D2DC", true},
      {"00000000-0000-0000-0000-000000000000", true},
      {"", false},
      {"6d2c7aa2-0a41-4418-aea6-7de38897d2d", false},    // short
      {"6d2c7aa2-0a41-4418-aea6-7de38897d2dcc", false},  // long
      {"6d2c7aa20a41-4418-aea6-7de38897d2dc-", false},   // hyphen misplaced
      {"6d2c7aa2-0a41-4418-aea6-7de38897d2dg", false},   // not hex
      {"{6d2c7aa2-0a41-4418-aea6-7de38897d2d}", false},  // braces
      {"6d2c7aa2-0a41-4418-aea6-7de38897d2d\xc3", false},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    CHECK(is_uuid(c.text) == c.ok);
  }
}

}  // namespace scn::common
