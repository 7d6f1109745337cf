#include "common/tls/server_flags.h"

#include <doctest/doctest.h>

#include <cstdlib>

#include "common/config.h"
#include "common/tls/pki.h"
#include "tests/testing.h"

namespace scn::tls {
namespace {

TEST_CASE("server TLS flags: parsed from flags and SCN_TLS_* env, checked before start") {
  testing::TempDir dir;
  const std::string d = dir.path().string();
  REQUIRE(init_ca({.dir = d}).is_ok());
  IssueOptions issue;
  issue.dir = d;
  issue.name = "server";
  issue.sans = {"DNS:localhost"};
  REQUIRE(issue_cert(issue).is_ok());

  {
    ServerTlsConfig c;
    common::OptionSet opts("scn test", "flags");
    add_server_tls_options(opts, &c);
    std::string cert = d + "/server.crt", key = d + "/server.key", ca = d + "/ca.crt";
    const char* argv[] = {"scn test", "--tls-cert", cert.c_str(), "--tls-key", key.c_str(),
                          "--tls-client-ca", ca.c_str()};
    REQUIRE(opts.parse(7, argv).is_ok());
    CHECK(c.cert_file == cert);
    CHECK(c.key_file == key);
    CHECK(c.client_ca_file == ca);
    CHECK(check_server_tls_options(c).is_ok());
  }
  {
    ServerTlsConfig c;
    common::OptionSet opts("scn test", "flags");
    add_server_tls_options(opts, &c);
    ::setenv("SCN_TLS_CERT", (d + "/server.crt").c_str(), 1);
    const char* argv[] = {"scn test"};
    REQUIRE(opts.parse(1, argv).is_ok());
    ::unsetenv("SCN_TLS_CERT");
    CHECK(c.cert_file == d + "/server.crt");
    // A certificate without its key.
    Status st = check_server_tls_options(c);
    CHECK(st.code() == Code::kInvalidArgument);
    CHECK(st.message().find("--tls-key") != std::string::npos);
  }
  // Nothing given: plain, fine. A missing file: named.
  CHECK(check_server_tls_options({}).is_ok());
  Status missing = check_server_tls_options({d + "/nope.crt", d + "/server.key", ""});
  CHECK(missing.message().find("nope.crt") != std::string::npos);
}

}  // namespace
}  // namespace scn::tls
