#include "common/tls/pki.h"

#include <vector>

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <doctest/doctest.h>

#include "common/tls/pki_cli.h"
#include "tests/testing.h"

namespace scn::tls {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

int mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return static_cast<int>(st.st_mode & 0777);
}

constexpr const char* kNode = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b";

TEST_CASE("pki: init and issue produce chains OpenSSL verifies (EC and RSA)") {
  for (KeyType type : {KeyType::kEcP256, KeyType::kRsa2048}) {
    CAPTURE(static_cast<int>(type));
    testing::TempDir dir;
    std::string d = dir.path().string();
    auto ca = init_ca({.dir = d, .key_type = type});
    REQUIRE_MESSAGE(ca.is_ok(), ca.status().to_string());
    CHECK(mode_of(ca->key_path) == 0600);
    // A second init does not overwrite the CA.
    CHECK(init_ca({.dir = d}).status().code() == Code::kConflict);

    auto server = issue_cert({.dir = d, .name = "server", .sans = {"DNS:localhost,IP:127.0.0.1"},
                              .key_type = type});
    REQUIRE_MESSAGE(server.is_ok(), server.status().to_string());
    CHECK(mode_of(server->key_path) == 0600);
    CHECK(verify_cert_file(ca->cert_path, server->cert_path, false).is_ok());
    // A server certificate is not a client certificate.
    CHECK_FALSE(verify_cert_file(ca->cert_path, server->cert_path, true).is_ok());

    auto client = issue_cert({.dir = d, .name = "agent-1", .client = true, .node_id = kNode,
                              .key_type = type});
    REQUIRE_MESSAGE(client.is_ok(), client.status().to_string());
    CHECK(verify_cert_file(ca->cert_path, client->cert_path, true).is_ok());
    auto node = node_id_of_cert_pem(slurp(client->cert_path));
    REQUIRE(node.is_ok());
    CHECK(node->value_or("") == kNode);
    auto none = node_id_of_cert_pem(slurp(server->cert_path));
    REQUIRE(none.is_ok());
    CHECK_FALSE(none->has_value());

    // Also the openssl tool accepts the chain (when installed).
    if (std::system("command -v openssl >/dev/null 2>&1") == 0) {
      std::string cmd = "openssl verify -CAfile " + ca->cert_path + " " + server->cert_path +
                        " >/dev/null 2>&1";
      CHECK(std::system(cmd.c_str()) == 0);
    }
  }
}

TEST_CASE("pki: a certificate from another CA does not verify") {
  testing::TempDir a, b;
  REQUIRE(init_ca({.dir = a.path().string()}).is_ok());
  REQUIRE(init_ca({.dir = b.path().string()}).is_ok());
  auto cert = issue_cert({.dir = b.path().string(), .name = "server", .sans = {"DNS:localhost"}});
  REQUIRE(cert.is_ok());
  Status st = verify_cert_file((a.path() / "ca.crt").string(), cert->cert_path, false);
  CHECK(st.code() == Code::kPermissionDenied);
  CHECK(st.message().find("unable to get local issuer certificate") != std::string::npos);
}

TEST_CASE("pki: bad input is an error, not a crash") {
  testing::TempDir dir;
  std::string d = dir.path().string();
  // No CA yet.
  CHECK(issue_cert({.dir = d, .name = "x"}).status().code() == Code::kNotFound);
  REQUIRE(init_ca({.dir = d}).is_ok());
  struct Case { IssueOptions options; const char* why; };
  Case cases[] = {
      {{.dir = d, .name = ""}, "empty name"},
      {{.dir = d, .name = "../evil"}, "path in name"},
      {{.dir = d, .name = "ca"}, "the CA's own name"},
      {{.dir = d, .name = "x", .sans = {"FOO:bar"}}, "unknown SAN kind"},
      {{.dir = d, .name = "x", .sans = {"IP:999.1.1.1"}}, "bad IP"},
      {{.dir = d, .name = "x", .client = true, .node_id = "not-a-uuid"}, "bad node id"},
      {{.dir = d, .name = "x", .days = 0}, "zero days"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.why);
    CHECK(issue_cert(c.options).status().code() == Code::kInvalidArgument);
  }
  CHECK_FALSE(parse_key_type("dsa").is_ok());
  CHECK(parse_sans(" DNS:a , IP:::1 ").value() == std::vector<std::string>{"DNS:a", "IP:::1"});
  CHECK_FALSE(node_id_of_cert_pem("garbage").is_ok());
}

TEST_CASE("pki: the scn pki command") {
  testing::TempDir dir;
  std::string d = dir.path().string();
  // Runs pki_main in-process with whitespace-separated arguments.
  auto run = [&](const std::string& args) {
    std::vector<std::string> words{"pki"};
    std::istringstream in(args);
    for (std::string w; in >> w;) words.push_back(w);
    std::vector<char*> argv;
    for (auto& w : words) argv.push_back(w.data());
    argv.push_back(nullptr);
    return pki_main(static_cast<int>(words.size()), argv.data());
  };
  CHECK(run("init --dir " + d + " --key-type rsa") == 0);
  CHECK(run("init --dir " + d) == 1);  // exists
  CHECK(run("issue --dir " + d + " --name srv --san DNS:localhost,IP:127.0.0.1") == 0);
  CHECK(run("issue --dir " + d + " --name agent --client --node-id " + kNode) == 0);
  CHECK(run("verify --dir " + d + " --cert " + d + "/srv.crt") == 0);
  CHECK(run("verify --dir " + d + " --cert " + d + "/agent.crt --client") == 0);
  CHECK(run("verify --dir " + d + " --cert " + d + "/srv.crt --client") == 1);
  CHECK(run("issue --dir " + d + " --name bad --san FOO:x") == 2);
  CHECK(run("issue --dir " + d) == 2);  // --name missing
  CHECK(run("bogus") == 2);
  auto node = node_id_of_cert_pem(slurp(d + "/agent.crt"));
  REQUIRE(node.is_ok());
  CHECK(node->value_or("") == kNode);
}

}  // namespace
}  // namespace scn::tls
