#include "broker/up/up_tls.h"

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "common/http/server.h"
#include "common/tls/https_client.h"
#include "common/tls/pki.h"
#include "tests/testing.h"

namespace scn::broker {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

TEST_CASE("up tls: one CA kept across runs, fresh server certificates a client trusts through it") {
  testing::TempDir var;
  auto first = prepare_up_tls(var.path());
  REQUIRE_MESSAGE(first.is_ok(), first.status().to_string());
  CHECK(first->ca == (var.path() / "pki" / "ca.crt").string());
  const std::string ca_pem = slurp(first->ca);
  auto second = prepare_up_tls(var.path());
  REQUIRE(second.is_ok());
  CHECK(slurp(second->ca) == ca_pem);  // the CA is reused: clients keep trusting it
  for (const auto& cert : {second->broker_cert, second->scheduler_cert, second->worker_cert}) {
    CAPTURE(cert);
    CHECK(tls::verify_cert_file(second->ca, cert, false).is_ok());
  }
  // A server with the broker's certificate answers a client trusting the CA.
  http::ServerOptions o;
  o.tls = {second->broker_cert, second->broker_key, ""};
  http::Server server(o);
  server.route("GET", "/health", [](const http::Request&, http::Response& res) { res.set_json(200, "{}"); });
  REQUIRE(server.start().is_ok());
  for (std::string host : {"127.0.0.1", "localhost"}) {
    auto r = tls::https_request({second->ca, "", ""}, "GET",
                                "https://" + host + ":" + std::to_string(server.port()) + "/health");
    REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
    CHECK(r->status == 200);
  }
}

}  // namespace
}  // namespace scn::broker
