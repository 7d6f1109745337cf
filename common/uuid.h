// UUID text checks, shared by every part that takes ids from the outside.
//
// Contract: is_uuid(text) is true exactly for the canonical 8-4-4-4-12 form
// of hex digits (either case), as PostgreSQL prints uuids; callers check ids
// with it before they reach SQL, so a malformed id is a clean 404/400 and
// never a failed ::uuid cast.
#pragma once

#include <string_view>

namespace scn::common {

bool is_uuid(std::string_view text);

}  // namespace scn::common
