#include "common/crypto/crypto.h"

#include <doctest/doctest.h>

#include <set>

namespace scn::crypto {

TEST_CASE("sha256 and hex match the FIPS 180-2 vector") {
  CHECK(to_hex(sha256("abc")) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256("").size() == 32);
}

TEST_CASE("base64url is unpadded and URL-safe") {
  CHECK(base64url("\xfb\xff") == "-_8");
  CHECK(base64url("abc") == "YWJj");
  CHECK(base64url("") == "");
}

TEST_CASE("new_secret: prefix + 43 base64url characters, never repeated") {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    auto s = new_secret("scn-key-");
    REQUIRE(s.is_ok());
    CHECK(s.value().rfind("scn-key-", 0) == 0);
    CHECK(s.value().size() == 8 + 43);
    CHECK(s.value().find_first_of("+/=") == std::string::npos);
    seen.insert(s.value());
  }
  CHECK(seen.size() == 100);
}

TEST_CASE("constant_time_equals") {
  CHECK(constant_time_equals("abc", "abc"));
  CHECK_FALSE(constant_time_equals("abc", "abd"));
  CHECK_FALSE(constant_time_equals("abc", "ab"));
  CHECK(constant_time_equals("", ""));
}

TEST_CASE("hash_password / verify_password") {
  KdfParams cheap{10, 8, 1};
  auto h = hash_password("correct horse", cheap);
  REQUIRE(h.is_ok());
  CHECK(h.value().rfind("scrypt$10$8$1$", 0) == 0);
  CHECK(verify_password("correct horse", h.value()));
  CHECK_FALSE(verify_password("correct horsf", h.value()));
  CHECK_FALSE(verify_password("", h.value()));
  // A second hash of the same password differs (random salt) and verifies.
  auto h2 = hash_password("correct horse", cheap);
  REQUIRE(h2.is_ok());
  CHECK(h2.value() != h.value());
  CHECK(verify_password("correct horse", h2.value()));
}

TEST_CASE("verify_password refuses malformed encodings") {
  for (const char* bad : {"", "scrypt", "scrypt$10$8$1$c2FsdA==", "bcrypt$10$8$1$c2FsdA==$a2V5",
                          "scrypt$x$8$1$c2FsdA==$a2V5", "scrypt$10$8$1$!!!!$a2V5",
                          "scrypt$40$8$1$c2FsdA==$a2V5", "scrypt$10$8$1$c2FsdA==$a2V5"}) {
    CAPTURE(bad);
    CHECK_FALSE(verify_password("pw", bad));
  }
}

TEST_CASE("the default cost is the documented one") {
  auto h = hash_password("pw");
  REQUIRE(h.is_ok());
  CHECK(h.value().rfind("scrypt$15$8$1$", 0) == 0);
  CHECK(verify_password("pw", h.value()));
}

}  // namespace scn::crypto
