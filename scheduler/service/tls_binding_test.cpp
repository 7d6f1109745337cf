// The agents' API over TLS (issue 9): a real scheduler serving https with
// client certificates verified against the platform CA, node binding of
// those certificates (node X's certificate with node Y's secret is 403),
// --require-client-cert, and a real `scn agent` process over https.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "common/http/client.h"
#include "common/process/subprocess.h"
#include "common/tls/https_client.h"
#include "common/tls/pki.h"
#include "scheduler/service/scheduler_service.h"
#include "scheduler/service/service_test_util.h"

namespace scn::scheduler {
namespace {

using namespace scn::scheduler::testing;
using std::chrono::milliseconds;

struct Node {
  std::string id, secret;
};

struct Pki {
  scn::testing::TempDir dir;
  std::string d = dir.path().string();
  std::string ca = d + "/ca.crt";
  Pki() {
    REQUIRE(tls::init_ca({.dir = d}).is_ok());
    tls::IssueOptions server;
    server.dir = d;
    server.name = "scheduler";
    server.sans = {"DNS:localhost", "IP:127.0.0.1"};
    REQUIRE(tls::issue_cert(server).is_ok());
  }
  // A client certificate `name`, bound to `node_id` unless it is empty.
  tls::ClientTlsConfig client(const std::string& name, const std::string& node_id) {
    tls::IssueOptions o;
    o.dir = d;
    o.name = name;
    o.client = true;
    o.node_id = node_id;
    REQUIRE(tls::issue_cert(o).is_ok());
    return {ca, d + "/" + name + ".crt", d + "/" + name + ".key"};
  }
  tls::ServerTlsConfig server() const { return {d + "/scheduler.crt", d + "/scheduler.key", ca}; }
};

std::unique_ptr<SchedulerService> start(Env& env, const tls::ServerTlsConfig& tls, bool require,
                                        metrics::Registry& registry) {
  SchedulerOptions o;
  o.pg_url = env.db->db->url();
  o.redis_url = env.redis_server->url();
  o.port = 0;
  o.config.node_ttl = milliseconds(5000);
  o.tls = tls;
  o.require_client_cert = require;
  auto service = SchedulerService::start(o, registry);
  REQUIRE_MESSAGE(service.is_ok(), service.status().to_string());
  return std::move(service).value();
}

Node register_node(const tls::ClientTlsConfig& tls, const std::string& base, const std::string& token,
                   const std::string& name) {
  auto reg = tls::https_request(tls, "POST", base + "/agent/v1/register", register_body(token, name));
  REQUIRE_MESSAGE(reg.is_ok(), reg.status().to_string());
  REQUIRE_MESSAGE(reg->status == 201, reg->body);
  auto body = common::parse_json_object(reg->body);
  REQUIRE(body.is_ok());
  return {std::string(body->at("node_id").as_string()), std::string(body->at("node_secret").as_string())};
}

Result<http::ClientResponse> heartbeat(const tls::ClientTlsConfig& tls, const std::string& base,
                                       const Node& node) {
  return tls::https_request(tls, "POST", base + "/agent/v1/heartbeat",
                            R"({"node_id":")" + node.id + R"("})",
                            {{"Authorization", "Bearer " + node.secret}});
}

TEST_CASE("scheduler over TLS: client certificates bound to nodes; foreign ones are 403") {
  auto env = make_env();
  if (!env) return;
  const std::string center = add_center(env->pool(), "gd-1", "guangdong");
  const std::string token = add_join_token(env->pool(), center);
  Pki pki, other;
  metrics::Registry registry;
  auto service = start(*env, pki.server(), false, registry);
  const std::string base = "https://127.0.0.1:" + std::to_string(service->port());
  const tls::ClientTlsConfig no_cert{pki.ca, "", ""};

  // Registration needs no client certificate (the node has no id yet).
  const Node x = register_node(no_cert, base, token, "node-x");
  const Node y = register_node(no_cert, base, token, "node-y");
  const auto cert_x = pki.client("agent-x", x.id);
  const auto unbound = pki.client("plain", "");

  struct Case {
    const char* what;
    tls::ClientTlsConfig tls;
    Node node;
    int status;
  };
  const Case cases[] = {
      {"node X's certificate, node X's secret", cert_x, x, 200},
      {"node X's certificate, node Y's secret", cert_x, y, 403},
      {"a certificate bound to no node", unbound, x, 403},
      {"no certificate (optional without --require-client-cert)", no_cert, y, 200},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    auto hb = heartbeat(c.tls, base, c.node);
    REQUIRE_MESSAGE(hb.is_ok(), hb.status().to_string());
    CHECK_MESSAGE(hb->status == c.status, hb->body);
    if (c.status == 403) CHECK(hb->body.find("permission_error") != std::string::npos);
  }
  // A certificate of another CA does not get through the handshake.
  tls::ClientTlsConfig foreign = other.client("agent-x", x.id);
  foreign.ca_file = pki.ca;
  CHECK_FALSE(heartbeat(foreign, base, x).is_ok());
  // Plain HTTP to the TLS port: 400, nothing else.
  auto plain = http::request("POST", "http://127.0.0.1:" + std::to_string(service->port()) + "/agent/v1/heartbeat", "{}");
  REQUIRE(plain.is_ok());
  CHECK(plain->status == 400);
  service->stop();
  service->wait();

  // --require-client-cert: heartbeats without a bound certificate are 403.
  metrics::Registry registry2;
  auto strict = start(*env, pki.server(), true, registry2);
  const std::string base2 = "https://127.0.0.1:" + std::to_string(strict->port());
  auto none = heartbeat(no_cert, base2, x);
  REQUIRE(none.is_ok());
  CHECK(none->status == 403);
  auto bound = heartbeat(cert_x, base2, x);
  REQUIRE(bound.is_ok());
  CHECK_MESSAGE(bound->status == 200, bound->body);
  strict->stop();
  strict->wait();
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

TEST_CASE("scheduler over TLS: a real scn agent joins over https; with another node's certificate it is refused") {
  auto env = make_env();
  if (!env) return;
  const std::string center = add_center(env->pool(), "gd-1", "guangdong");
  const std::string token = add_join_token(env->pool(), center);
  Pki pki;
  metrics::Registry registry;
  auto service = start(*env, pki.server(), false, registry);
  const std::string base = "https://127.0.0.1:" + std::to_string(service->port());
  scn::testing::TempDir state;

  auto run_agent = [&](const std::vector<std::string>& extra, const std::string& log) {
    process::SpawnOptions o;
    o.argv = {scn::testing::scn_binary(), "agent", "--scheduler", base, "--join-token", token, "--name",
              "node-a", "--state-dir", state.path().string(), "--ca", pki.ca, "--heartbeat-ms", "200"};
    o.argv.insert(o.argv.end(), extra.begin(), extra.end());
    o.log_path = log;
    auto p = process::Subprocess::spawn(o);
    REQUIRE_MESSAGE(p.is_ok(), p.status().to_string());
    return std::move(p).value();
  };
  const std::string log1 = state.file("agent1.log");
  auto agent = run_agent({}, log1);
  std::string node_id;
  for (int i = 0; i < 150 && node_id.empty(); ++i) {
    node_id = one(env->pool(), "SELECT id::text FROM nodes WHERE name = 'node-a' AND last_heartbeat_at IS NOT NULL");
    std::this_thread::sleep_for(milliseconds(100));
  }
  INFO("agent log:\n", slurp(log1));
  REQUIRE_FALSE(node_id.empty());
  agent->terminate(milliseconds(3000));

  // The same node (its secret in agent.json) with a certificate bound to
  // another node: every heartbeat is refused with 403.
  const std::string before_refused = one(env->pool(), "SELECT now()::text");
  const auto wrong = pki.client("agent-other", "99999999-8888-4777-8666-555555555555");
  const std::string log2 = state.file("agent2.log");
  auto refused = run_agent({"--tls-cert", wrong.cert_file, "--tls-key", wrong.key_file}, log2);
  std::string log;
  for (int i = 0; i < 100 && log.find("HTTP 403") == std::string::npos; ++i) {
    std::this_thread::sleep_for(milliseconds(100));
    log = slurp(log2);
  }
  INFO("agent log:\n", log);
  CHECK(log.find("HTTP 403") != std::string::npos);
  CHECK(log.find("not to node " + node_id) != std::string::npos);
  refused->terminate(milliseconds(3000));
  CHECK(one(env->pool(), "SELECT count(*) FROM nodes WHERE id = '" + node_id +
                             "' AND last_heartbeat_at > '" + before_refused + "'::timestamptz") == "0");

  // With its own certificate it is accepted again.
  const auto right = pki.client("agent-a", node_id);
  const std::string log3 = state.file("agent3.log");
  const std::string before = one(env->pool(), "SELECT now()::text");
  auto accepted = run_agent({"--tls-cert", right.cert_file, "--tls-key", right.key_file}, log3);
  std::string beat;
  for (int i = 0; i < 100 && beat.empty(); ++i) {
    std::this_thread::sleep_for(milliseconds(100));
    beat = one(env->pool(), "SELECT id::text FROM nodes WHERE id = '" + node_id +
                                "' AND last_heartbeat_at > '" + before + "'::timestamptz");
  }
  INFO("agent log:\n", slurp(log3));
  CHECK(beat == node_id);
  accepted->terminate(milliseconds(3000));
  service->stop();
  service->wait();
}

}  // namespace
}  // namespace scn::scheduler
