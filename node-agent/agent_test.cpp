#include "node-agent/agent.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <thread>

#include "common/http/client.h"
#include "common/http/server.h"
#include "common/json.h"
#include "node-agent/test_util.h"
#include "tests/testing.h"

namespace scn::node_agent {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

json::value desired_json(const DesiredReplica& d) {
  json::object o{
      {"replica_id", d.replica_id},
      {"service_id", d.service_id},
      {"service_name", d.service_name},
      {"port", nullptr},
      {"cpu_threads", d.cpu_threads},
      {"gpu_indices", json::array{0}},
      {"memory_bytes", 1 << 20},
      {"context_length", d.context_length},
      {"model", json::object{{"model_file_id", d.model.model_file_id},
                             {"file_name", d.model.file_name},
                             {"uri", d.model.uri},
                             {"sha256", d.model.sha256},
                             {"size_bytes", d.model.size_bytes}}}};
  if (!d.worker_secret.empty()) o["worker_secret"] = d.worker_secret;
  return o;
}

// A scheduler's agent API per docs/API.md, recording what it receives.
class FakeScheduler {
 public:
  FakeScheduler() {
    server_.route("POST", "/agent/v1/register", [this](const http::Request& req, http::Response& res) {
      std::lock_guard lock(mu_);
      registers_.push_back(req.body);
      auto o = common::parse_json_object(req.body);
      if (!o.is_ok() || common::get_string(o.value(), "join_token", "").value() != "scn-join-good") {
        http::error_response(res, Status::unauthenticated("unknown join token"));
        return;
      }
      res.set_json(201, R"({"node_id":"node-1","node_secret":"scn-node-secret","center_id":"c-1","heartbeat_ms":100})");
    });
    server_.route("POST", "/agent/v1/heartbeat", [this](const http::Request& req, http::Response& res) {
      std::lock_guard lock(mu_);
      heartbeats_.push_back(req.body);
      auths_.push_back(std::string(req.header("Authorization")));
      if (answer_status_ != 200) {
        http::error_response(res, answer_status_, answer_status_ == 410 ? "not_found_error" : "api_error",
                             answer_status_ == 410 ? "node removed" : "scheduler trouble");
        return;
      }
      json::array replicas;
      for (const auto& d : desired_) replicas.push_back(desired_json(d));
      res.set_json(200, json::serialize(json::object{
                            {"heartbeat_ms", 100}, {"node_status", "ready"}, {"replicas", replicas}}));
    });
    REQUIRE(server_.start().is_ok());
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_.port()); }
  void set_desired(std::vector<DesiredReplica> d) {
    std::lock_guard lock(mu_);
    desired_ = std::move(d);
  }
  void set_answer_status(int s) {
    std::lock_guard lock(mu_);
    answer_status_ = s;
  }
  std::vector<std::string> registers() {
    std::lock_guard lock(mu_);
    return registers_;
  }
  size_t heartbeat_count() {
    std::lock_guard lock(mu_);
    return heartbeats_.size();
  }
  std::string last_heartbeat() {
    std::lock_guard lock(mu_);
    return heartbeats_.empty() ? std::string() : heartbeats_.back();
  }
  std::string last_auth() {
    std::lock_guard lock(mu_);
    return auths_.empty() ? std::string() : auths_.back();
  }
  // Waits for a heartbeat whose body satisfies `pred`; returns it parsed.
  std::optional<json::object> wait_heartbeat(const std::function<bool(const json::object&)>& pred,
                                             std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    size_t seen = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      std::vector<std::string> fresh;
      {
        std::lock_guard lock(mu_);
        fresh.assign(heartbeats_.begin() + static_cast<long>(seen), heartbeats_.end());
        seen = heartbeats_.size();
      }
      for (const auto& b : fresh) {
        auto o = common::parse_json_object(b);
        if (o.is_ok() && pred(o.value())) return o.value();
      }
      std::this_thread::sleep_for(10ms);
    }
    return std::nullopt;
  }

 private:
  http::Server server_;
  std::mutex mu_;
  std::vector<std::string> registers_, heartbeats_, auths_;
  std::vector<DesiredReplica> desired_;
  int answer_status_ = 200;
};

// The replica `id` in a heartbeat body, if reported.
std::optional<json::object> replica_in(const json::object& hb, const std::string& id) {
  for (const auto& r : hb.at("replicas").as_array()) {
    if (r.as_object().at("replica_id").as_string() == id) return r.as_object();
  }
  return std::nullopt;
}

bool has_replica_state(const json::object& hb, const std::string& id, const std::string& state) {
  auto r = replica_in(hb, id);
  return r && r->at("state").as_string() == state;
}

AgentOptions options_for(const FakeScheduler& s, const testing::TempDir& dir) {
  AgentOptions o;
  o.scheduler_url = s.url() + "/";
  o.join_token = "scn-join-good";
  o.name = "gpu-a-1";
  o.labels = {{"rack", "r7"}};
  o.simulate = "2xH200-141G";
  o.state_dir = dir.file("state");
  o.port_min = testing::free_port();
  o.port_max = o.port_min + 50;
  o.heartbeat_ms = 100;
  o.infer_binary = testing::scn_binary();
  return o;
}

TEST_CASE("parse_labels and parse_port_range") {
  CHECK(parse_labels("").value().empty());
  auto l = parse_labels("zone=a, gpu=h200");
  REQUIRE(l.is_ok());
  CHECK(l.value() == std::map<std::string, std::string>{{"zone", "a"}, {"gpu", "h200"}});
  CHECK_FALSE(parse_labels("zone").is_ok());
  CHECK_FALSE(parse_labels("=a").is_ok());
  CHECK(parse_port_range("21000-21999").value() == std::make_pair(21000, 21999));
  CHECK_FALSE(parse_port_range("21999-21000").is_ok());
  CHECK_FALSE(parse_port_range("0-10").is_ok());
  CHECK_FALSE(parse_port_range("abc").is_ok());
  CHECK_FALSE(parse_port_range("1-70000").is_ok());
}

TEST_CASE("agent against a fake scheduler: register, persist, ready, converge, 410") {
  if (!testutil::have_model_and_binary()) return;
  testing::TempDir dir;
  FakeScheduler sched;
  auto agent = Agent::create(options_for(sched, dir));
  REQUIRE_MESSAGE(agent.is_ok(), agent.status().to_string());
  Status run_status = Status::internal("not finished");
  std::atomic<bool> finished{false};
  std::thread runner([&] {
    run_status = agent.value()->run();
    finished = true;
  });

  // Registration with the token, the simulated devices and the labels.
  auto hb0 = sched.wait_heartbeat([](const json::object&) { return true; }, 10s);
  REQUIRE(hb0.has_value());
  auto regs = sched.registers();
  REQUIRE(regs.size() == 1);
  auto reg = common::parse_json_object(regs[0]).value();
  CHECK(reg.at("join_token").as_string() == "scn-join-good");
  CHECK(reg.at("name").as_string() == "gpu-a-1");
  CHECK(reg.at("address").as_string() == "127.0.0.1");
  CHECK(reg.at("simulated").as_bool());
  CHECK(reg.at("labels").as_object().at("rack").as_string() == "r7");
  const auto& devices = reg.at("devices").as_array();
  REQUIRE(devices.size() == 2);
  CHECK(devices[0].as_object().at("kind").as_string() == "cpu");
  CHECK(devices[1].as_object().at("model").as_string() == "H200");
  CHECK(devices[1].as_object().at("memory_bytes").as_int64() == 151397597184);
  CHECK(devices[1].as_object().at("count").as_int64() == 2);
  CHECK(hb0->at("node_id").as_string() == "node-1");
  CHECK(hb0->at("free").as_object().at("ram_bytes").as_int64() > 0);
  CHECK(sched.last_auth() == "Bearer scn-node-secret");
  CHECK(agent.value()->node_id() == "node-1");

  // agent.json, 0600.
  const std::string creds = dir.file("state") + "/agent.json";
  REQUIRE(fs::exists(creds));
  struct stat sb {};
  REQUIRE(::stat(creds.c_str(), &sb) == 0);
  CHECK((sb.st_mode & 0777) == 0600);
  CHECK(load_credentials(creds).value().node_secret == "scn-node-secret");

  // Desired: one replica -> reported starting, then ready with a port that serves.
  sched.set_desired({testutil::stories_replica("r-1", "svc-a")});
  auto ready = sched.wait_heartbeat([](const json::object& hb) { return has_replica_state(hb, "r-1", "ready"); }, 30s);
  REQUIRE_MESSAGE(ready.has_value(), sched.last_heartbeat());
  const int port1 = static_cast<int>(replica_in(*ready, "r-1")->at("port").as_int64());
  auto models = http::request("GET", "http://127.0.0.1:" + std::to_string(port1) + "/v1/models");
  REQUIRE(models.is_ok());
  CHECK(models->body.find("\"svc-a\"") != std::string::npos);
  bool model_present = false;
  for (const auto& m : ready->at("models").as_array()) {
    if (m.as_object().at("state").as_string() == "present") model_present = true;
  }
  CHECK(model_present);

  // The desired set changes: r-1 stops, r-2 starts.
  // r-2 has a worker secret (docs/API.md, "Worker authentication").
  DesiredReplica r2 = testutil::stories_replica("r-2", "svc-b");
  r2.worker_secret = "9f2c4e6a8b0d1f3e5a7c9b1d3f5e7a9c0b2d4f6e8a0c2e4f6a8b0d2f4e6a8c0b";
  sched.set_desired({r2});
  auto stopped = sched.wait_heartbeat([](const json::object& hb) { return has_replica_state(hb, "r-1", "stopped"); }, 15s);
  CHECK(stopped.has_value());
  auto ready2 = sched.wait_heartbeat([](const json::object& hb) { return has_replica_state(hb, "r-2", "ready"); }, 30s);
  REQUIRE_MESSAGE(ready2.has_value(), sched.last_heartbeat());
  CHECK_FALSE(replica_in(*ready2, "r-1").has_value());
  const int port2 = static_cast<int>(replica_in(*ready2, "r-2")->at("port").as_int64());
  {
    const std::string base = "http://127.0.0.1:" + std::to_string(port2);
    auto anon = http::request("GET", base + "/v1/models");
    REQUIRE(anon.is_ok());
    CHECK(anon->status == 401);
    auto authed = http::request("GET", base + "/v1/models", {}, {{"Authorization", "Bearer " + r2.worker_secret}});
    REQUIRE(authed.is_ok());
    CHECK(authed->status == 200);
    CHECK(http::request("GET", base + "/health")->status == 200);  // the readiness probe stays open
    std::ifstream log(dir.file("state") + "/logs/r-2.log");
    std::stringstream text;
    text << log.rdbuf();
    CHECK(text.str().find(r2.worker_secret) == std::string::npos);
  }

  // Scheduler trouble (503): replicas keep running.
  sched.set_answer_status(503);
  size_t before = sched.heartbeat_count();
  for (int i = 0; i < 300 && sched.heartbeat_count() < before + 3; ++i) std::this_thread::sleep_for(10ms);
  CHECK(sched.heartbeat_count() >= before + 3);
  CHECK(http::request("GET", "http://127.0.0.1:" + std::to_string(port2) + "/health").is_ok());

  // 410: the node was removed -> replicas stop, agent.json goes, run() returns OK.
  sched.set_answer_status(410);
  for (int i = 0; i < 1000 && !finished; ++i) std::this_thread::sleep_for(10ms);
  REQUIRE(finished.load());
  runner.join();
  CHECK(run_status.is_ok());
  CHECK_FALSE(fs::exists(creds));
  CHECK_FALSE(http::request("GET", "http://127.0.0.1:" + std::to_string(port2) + "/health", {}, {}, 500ms).is_ok());
}

TEST_CASE("agent: credentials from agent.json skip registration; stop() ends run()") {
  if (!testutil::have_model_and_binary()) return;
  testing::TempDir dir;
  FakeScheduler sched;
  AgentOptions o = options_for(sched, dir);
  o.join_token.clear();  // not needed when agent.json exists
  REQUIRE(save_credentials(o.state_dir + "/agent.json", {"node-7", "scn-node-seven", "c-1"}).is_ok());
  sched.set_desired({testutil::stories_replica("r-9", "svc")});
  auto agent = Agent::create(o);
  REQUIRE(agent.is_ok());
  Status run_status = Status::internal("not finished");
  std::thread runner([&] { run_status = agent.value()->run(); });
  auto ready = sched.wait_heartbeat([](const json::object& hb) { return has_replica_state(hb, "r-9", "ready"); }, 30s);
  REQUIRE(ready.has_value());
  CHECK(sched.registers().empty());
  CHECK(ready->at("node_id").as_string() == "node-7");
  CHECK(sched.last_auth() == "Bearer scn-node-seven");
  int port = static_cast<int>(replica_in(*ready, "r-9")->at("port").as_int64());
  agent.value()->stop();
  runner.join();
  CHECK(run_status.is_ok());
  CHECK(fs::exists(o.state_dir + "/agent.json"));  // kept: the node still exists
  CHECK_FALSE(http::request("GET", "http://127.0.0.1:" + std::to_string(port) + "/health", {}, {}, 500ms).is_ok());
}

TEST_CASE("agent: a refused registration ends run() with the reason; bad specs are refused") {
  testing::TempDir dir;
  FakeScheduler sched;
  AgentOptions o = options_for(sched, dir);
  o.join_token = "scn-join-bad";
  auto agent = Agent::create(o);
  REQUIRE(agent.is_ok());
  Status st = agent.value()->run();
  CHECK(st.code() == Code::kUnauthenticated);
  CHECK(st.message().find("unknown join token") != std::string::npos);
  CHECK_FALSE(fs::exists(o.state_dir + "/agent.json"));

  o.simulate = "8xH200";
  CHECK(Agent::create(o).status().code() == Code::kInvalidArgument);
  o.simulate.clear();
  o.scheduler_url.clear();
  CHECK(Agent::create(o).status().code() == Code::kInvalidArgument);
}

TEST_CASE("agent: an unreachable scheduler is retried until it appears") {
  testing::TempDir dir;
  FakeScheduler sched;
  AgentOptions o = options_for(sched, dir);
  o.scheduler_url = "http://127.0.0.1:" + std::to_string(testing::free_port());
  o.heartbeat_ms = 50;
  auto agent = Agent::create(o);
  REQUIRE(agent.is_ok());
  Status run_status = Status::internal("not finished");
  std::thread runner([&] { run_status = agent.value()->run(); });
  std::this_thread::sleep_for(300ms);
  agent.value()->stop();
  runner.join();
  CHECK(run_status.is_ok());  // stopped while waiting: not an error
  CHECK(agent.value()->node_id().empty());
}

}  // namespace
}  // namespace scn::node_agent
