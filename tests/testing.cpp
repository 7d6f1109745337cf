#include "tests/testing.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <random>

namespace scn::testing {

std::filesystem::path shared_dir() {
  if (const char* d = std::getenv("SCN_SHARED_DIR"); d && *d) return d;
  if (const char* s = std::getenv("SCN_SOURCE_DIR"); s && *s)
    return std::filesystem::path(s) / ".." / "shared";
  return std::filesystem::path("..") / "shared";
}

std::string shared_path(const std::string& rel) { return (shared_dir() / rel).string(); }

std::string scn_binary() {
  if (const char* b = std::getenv("SCN_BINARY"); b && *b) return b;
  return "scn";
}

bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) == "true";
}

TempDir::TempDir() {
  std::random_device rd;
  for (;;) {
    auto p = std::filesystem::temp_directory_path() /
             ("scn-test-" + std::to_string(rd()) + std::to_string(rd()));
    if (std::filesystem::create_directory(p)) {
      path_ = p;
      return;
    }
  }
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

}  // namespace scn::testing
