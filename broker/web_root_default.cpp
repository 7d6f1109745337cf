// default_web_root(): compiled with SCN_SOURCE_ROOT (broker/CMakeLists.txt),
// the source tree this binary was built from.
#include <filesystem>
#include <system_error>

#include "broker/static_files.h"

#ifndef SCN_SOURCE_ROOT
#define SCN_SOURCE_ROOT ""
#endif

namespace scn::broker {

std::string default_web_root() {
  const std::filesystem::path source = SCN_SOURCE_ROOT;
  if (source.empty()) return "";
  std::error_code ec;
  const auto dist = source / "web" / "dist";
  return std::filesystem::is_regular_file(dist / "index.html", ec) ? dist.string() : "";
}

}  // namespace scn::broker
