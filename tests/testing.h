// Helpers shared by the tests: where ../shared and the scn binary are, and
// scratch directories that are removed afterwards.
#pragma once

#include <filesystem>
#include <string>

namespace scn::testing {

// The shared data folder (SCN_SHARED_DIR, else <source>/../shared).
std::filesystem::path shared_dir();
// A file below shared_dir(), e.g. shared_path("models/stories260K.gguf").
std::string shared_path(const std::string& rel);
// The built `scn` binary (SCN_BINARY).
std::string scn_binary();
// True when CI=true: tests that need a server or file must fail, not skip.
bool in_ci();

// A fresh directory under the system temp dir, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
int free_port();

}  // namespace scn::testing
