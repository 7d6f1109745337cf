#include "node-agent/protocol.h"

#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <fstream>

#include "common/json.h"
#include "tests/testing.h"

namespace scn::node_agent {
namespace {

namespace json = boost::json;

TEST_CASE("heartbeat body: the documented fields") {
  std::vector<FileReport> models = {{"mf-1", FileState::kPresent, 1000, ""},
                                    {"mf-2", FileState::kFailed, 0, "sha256 mismatch: x"}};
  std::vector<ReplicaReport> replicas = {{"r-1", ReplicaState::kReady, 21001, "", 2, 0},
                                         {"r-2", ReplicaState::kStarting, std::nullopt, "fetching model file", 0, 0}};
  auto o = common::parse_json_object(heartbeat_body("n-1", 3, 4096, models, replicas)).value();
  CHECK(o.at("node_id").as_string() == "n-1");
  CHECK(o.at("free").as_object().at("cpu_cores").as_int64() == 3);
  CHECK(o.at("free").as_object().at("ram_bytes").as_int64() == 4096);
  const auto& m = o.at("models").as_array();
  REQUIRE(m.size() == 2);
  CHECK(m[0].as_object().at("state").as_string() == "present");
  CHECK(m[0].as_object().at("bytes_present").as_int64() == 1000);
  CHECK(m[1].as_object().at("state").as_string() == "failed");
  CHECK(m[1].as_object().at("reason").as_string() == "sha256 mismatch: x");
  const auto& r = o.at("replicas").as_array();
  REQUIRE(r.size() == 2);
  CHECK(r[0].as_object().at("state").as_string() == "ready");
  CHECK(r[0].as_object().at("port").as_int64() == 21001);
  CHECK(r[0].as_object().at("restarts").as_int64() == 2);
  CHECK(r[0].as_object().at("outstanding").as_int64() == 0);
  CHECK(r[1].as_object().at("port").is_null());
  CHECK(r[1].as_object().at("reason").as_string() == "fetching model file");
}

TEST_CASE("heartbeat answer: parsed, and malformed ones refused") {
  const std::string good = R"({"heartbeat_ms":1500,"node_status":"draining","replicas":[
    {"replica_id":"r-1","service_id":"s-1","service_name":"stories","port":null,"cpu_threads":2,
     "gpu_indices":[0,1],"memory_bytes":1048576,"context_length":256,
     "model":{"model_file_id":"mf","file_name":"m.gguf","uri":"http://b/store/m.gguf",
              "sha256":"00","size_bytes":10}},
    {"replica_id":"r-2","port":21005,"model":{"model_file_id":"mf","file_name":"m.gguf",
     "uri":"file:///m.gguf","sha256":"00"}}]})";
  auto a = parse_heartbeat_answer(good);
  REQUIRE_MESSAGE(a.is_ok(), a.status().to_string());
  CHECK(a->heartbeat_ms == 1500);
  CHECK(a->node_status == "draining");
  REQUIRE(a->replicas.size() == 2);
  const auto& r = a->replicas[0];
  CHECK(r.replica_id == "r-1");
  CHECK(r.service_name == "stories");
  CHECK_FALSE(r.port.has_value());
  CHECK(r.cpu_threads == 2);
  CHECK(r.gpu_indices == std::vector<int>{0, 1});
  CHECK(r.context_length == 256);
  CHECK(r.model.uri == "http://b/store/m.gguf");
  CHECK(r.model.size_bytes == 10);
  CHECK(a->replicas[1].port == 21005);
  CHECK(parse_heartbeat_answer(R"({"replicas":[]})").value().heartbeat_ms == 2000);

  struct Case {
    std::string body;
    std::string message_part;
  };
  const Case bad[] = {
      {"not json", "invalid JSON"},
      {"[]", "JSON object"},
      {R"({"heartbeat_ms":1000})", "'replicas'"},
      {R"({"replicas":[1]})", "replicas[0] must be an object"},
      {R"({"replicas":[{"model":{}}]})", "'replica_id'"},
      {R"({"replicas":[{"replica_id":"r","port":70000,"model":{}}]})", "'port' out of range"},
      {R"({"replicas":[{"replica_id":"r"}]})", "'model'"},
      {R"({"replicas":[{"replica_id":"r","model":{"model_file_id":"m"}}]})", "model: field 'file_name'"},
      {R"({"replicas":[{"replica_id":"r","gpu_indices":["a"],"model":{}}]})", "gpu_indices"},
      {R"({"heartbeat_ms":0,"replicas":[]})", "heartbeat_ms"},
  };
  for (const auto& c : bad) {
    CAPTURE(c.body);
    auto r = parse_heartbeat_answer(c.body);
    REQUIRE_FALSE(r.is_ok());
    CHECK_MESSAGE(r.status().message().find(c.message_part) != std::string::npos, r.status().message());
  }
}

TEST_CASE("register body and answer") {
  Capacity cap;
  cap.cpu_cores = 4;
  cap.ram_bytes = 1 << 30;
  cap.cpu_model = "Xeon";
  cap.gpus = {{"gpu", "A100", 80LL << 30, 4}};
  cap.simulated = true;
  auto o = common::parse_json_object(
               register_body("scn-join-x", {"n", "10.0.0.5", {{"zone", "a"}}}, cap))
               .value();
  CHECK(o.at("join_token").as_string() == "scn-join-x");
  CHECK(o.at("address").as_string() == "10.0.0.5");
  CHECK(o.at("simulated").as_bool());
  CHECK(o.at("labels").as_object().at("zone").as_string() == "a");
  CHECK(o.at("devices").as_array().size() == 2);
  CHECK(o.at("devices").as_array()[0].as_object().at("count").as_int64() == 4);

  auto a = parse_register_answer(R"({"node_id":"n1","node_secret":"s","center_id":"c","heartbeat_ms":500})");
  REQUIRE(a.is_ok());
  CHECK(a->credentials.node_id == "n1");
  CHECK(a->heartbeat_ms == 500);
  CHECK_FALSE(parse_register_answer(R"({"node_id":"n1"})").is_ok());
  CHECK_FALSE(parse_register_answer(R"({"node_id":"","node_secret":"s"})").is_ok());
}

TEST_CASE("credentials file") {
  testing::TempDir dir;
  std::string path = dir.file("sub/agent.json");
  CHECK(load_credentials(path).status().code() == Code::kNotFound);
  REQUIRE(save_credentials(path, {"n", "s", "c"}).is_ok());
  auto c = load_credentials(path);
  REQUIRE(c.is_ok());
  CHECK(c->node_id == "n");
  CHECK(c->node_secret == "s");
  CHECK(c->center_id == "c");
  std::ofstream(path) << "{\"node_id\":1}";
  CHECK_FALSE(load_credentials(path).is_ok());
  CHECK(error_message(R"({"error":{"type":"x","message":"nope"}})") == "nope");
  CHECK(error_message("plain") == "plain");
}

}  // namespace
}  // namespace scn::node_agent
