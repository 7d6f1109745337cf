#include "broker/up/up_files.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <fstream>

#include "broker/up/ports.h"
#include "tests/testing.h"

namespace scn::broker {
namespace {

TEST_CASE("scn up: credentials.json round trip, mode 0600") {
  scn::testing::TempDir dir;
  const auto path = dir.path() / "credentials.json";
  auto empty = UpCredentials::load(path);
  REQUIRE(empty.is_ok());
  CHECK(empty->passwords.empty());
  CHECK(empty->api_key.empty());

  UpCredentials c;
  c.passwords["admin"] = "pw-admin-123";
  c.passwords["demo"] = "pw-demo-456";
  c.api_key_id = "0b7c1b7e-0000-4000-8000-000000000001";
  c.api_key = "scn-key-abc";
  REQUIRE(c.save(path).is_ok());
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  auto back = UpCredentials::load(path);
  REQUIRE(back.is_ok());
  CHECK(back->passwords == c.passwords);
  CHECK(back->api_key == "scn-key-abc");
  CHECK(back->api_key_id == c.api_key_id);

  // A broken file is an error, never silently replaced.
  std::ofstream(path) << "{not json";
  auto broken = UpCredentials::load(path);
  CHECK_FALSE(broken.is_ok());
  CHECK(broken.status().code() == Code::kInvalidArgument);
}

TEST_CASE("scn up: tail_file and fresh passwords") {
  scn::testing::TempDir dir;
  std::ofstream(dir.file("log")) << "one\ntwo\nthree\n";
  CHECK(tail_file(dir.file("log"), 2) == "  | two\n  | three\n");
  CHECK(tail_file(dir.file("missing"), 2).empty());
  auto a = new_password(), b = new_password();
  REQUIRE(a.is_ok());
  REQUIRE(b.is_ok());
  CHECK(a->size() == 20);
  CHECK(*a != *b);
}

TEST_CASE("scn up: ports") {
  int p = pick_port();
  REQUIRE(p > 0);
  CHECK(port_free(p));
  CHECK(pick_port(p) == p);
  CHECK_FALSE(port_free(0));
  CHECK_FALSE(port_listening(p));
  CHECK_FALSE(wait_listening(p, std::chrono::milliseconds(100)));
  CHECK_FALSE(wait_listening(p, std::chrono::milliseconds(5000), [] { return false; }));
}

}  // namespace
}  // namespace scn::broker
