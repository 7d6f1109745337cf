// The gateway against real PostgreSQL, Redis and two real `scn infer`
// workers of stories260K, through a real http::Server.
#include "broker/gateway/gateway.h"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include "broker/gateway/gateway_test_fixture.h"
#include "broker/gateway/route_table.h"
#include "common/db/test_db.h"
#include "common/http/client.h"
#include "common/json.h"
#include "common/redis/redis.h"
#include "common/redis/test_redis.h"
#include "inference/server/infer_process_test_util.h"

namespace scn::broker {
namespace {

using namespace scn::broker::testing;
using namespace std::chrono_literals;
using inference::testutil::InferProcess;

constexpr const char* kKeyA = "scn-key-tenant-a-secret";
constexpr const char* kKeyB = "scn-key-tenant-b-secret";

// Two workers serving stories260K as "chat", started once for the file.
std::vector<std::unique_ptr<InferProcess>>& workers() {
  static std::vector<std::unique_ptr<InferProcess>> w = [] {
    std::vector<std::unique_ptr<InferProcess>> out;
    for (int i = 0; i < 2; ++i) {
      out.push_back(std::make_unique<InferProcess>(
          scn::testing::shared_path("models/stories260K.gguf"),
          std::vector<std::string>{"--alias", "chat", "--ctx", "256", "--threads", "1"}));
    }
    for (auto& p : out) {
      REQUIRE(p->spawned());
      REQUIRE_MESSAGE(p->wait_ready(), p->stderr_text());
    }
    return out;
  }();
  return w;
}

struct Platform {
  std::optional<db::testing::TestDatabase> db;
  std::string redis_url;
  std::unique_ptr<redis::RedisClient> redis;
  std::unique_ptr<BrokerContext> ctx;
  std::unique_ptr<Gateway> gateway;
  std::unique_ptr<http::Server> server;
  std::string tenant_a, tenant_b, key_a, key_b, node, chat, empty;

  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(server->port()) + path;
  }
  ~Platform() {
    if (server) {
      server->stop();
      server->wait();
    }
    if (gateway) gateway->stop();
    if (redis && !chat.empty()) (void)redis->del({routes_key(chat), routes_key(empty)});
  }
};

std::unique_ptr<Platform> make_platform(GatewayOptions options = {}) {
  auto db = db::testing::make_test_database();
  if (!db) return nullptr;
  auto redis_url = redis::testing::redis_url_for_tests();
  if (!redis_url) return nullptr;
  auto p = std::make_unique<Platform>();
  p->db.emplace(std::move(*db));
  p->redis_url = *redis_url;
  auto redis = redis::RedisClient::connect(*redis_url);
  REQUIRE(redis.is_ok());
  p->redis = std::move(*redis);
  p->ctx = std::make_unique<BrokerContext>(BrokerContext{*p->db->pool, *p->redis, *redis_url, {}});
  db::PgPool& pg = *p->db->pool;
  p->tenant_a = add_tenant(pg, "tenant-a");
  p->tenant_b = add_tenant(pg, "tenant-b");
  p->key_a = add_api_key(pg, p->tenant_a, kKeyA);
  p->key_b = add_api_key(pg, p->tenant_b, kKeyB);
  p->node = add_node(pg, "n1");
  p->chat = add_service(pg, p->tenant_a, "chat");
  p->empty = add_service(pg, p->tenant_a, "empty");
  for (auto& w : workers()) add_replica(pg, p->chat, p->node, w->port());

  if (options.model_store_dir.empty()) options.model_store_dir = scn::testing::shared_path("models");
  p->gateway = std::make_unique<Gateway>(*p->ctx, options);
  REQUIRE(p->gateway->start().is_ok());
  p->server = std::make_unique<http::Server>();
  p->gateway->add_routes(*p->server);
  REQUIRE(p->server->start().is_ok());
  return p;
}

GatewayOptions fast_options() {
  GatewayOptions o;
  o.usage_flush = 60s;  // the tests flush themselves
  o.route_ttl = 200ms;
  o.api_key_ttl = 200ms;
  o.route_wait = 300ms;
  return o;
}

struct Answer {
  int status = 0;
  http::Headers headers;
  std::string body;
  boost::json::object json;
};

Answer call(const std::string& method, const std::string& url, const std::string& body,
            const std::string& key = kKeyA) {
  http::Headers h{{"Content-Type", "application/json"}};
  if (!key.empty()) h.set("Authorization", "Bearer " + key);
  auto r = http::request(method, url, body, h, 60s);
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  Answer a{r->status, r->headers, r->body, {}};
  auto parsed = common::parse_json_object(a.body);
  if (parsed.is_ok()) a.json = std::move(*parsed);
  return a;
}

std::string error_code_of(const Answer& a) {
  const auto* e = a.json.if_contains("error");
  if (e == nullptr || !e->is_object()) return "<no error>";
  const auto* c = e->as_object().if_contains("code");
  return c != nullptr && c->is_string() ? std::string(c->as_string()) : "";
}

struct Streamed {
  int status = 0;
  std::string content_type;
  std::string text;  // choices[0].text or delta.content, joined
  int usage_chunks = 0;
  std::int64_t completion_tokens = -1;
  bool done = false;
};

Streamed stream(const std::string& url, const std::string& body, const std::string& key = kKeyA) {
  Streamed s;
  http::SseDecoder decoder;
  auto r = http::request_stream(
      "POST", url, body, {{"Content-Type", "application/json"}, {"Authorization", "Bearer " + key}},
      [&](int status, const http::Headers& h) {
        s.status = status;
        s.content_type = h.get_or("Content-Type", "");
        return true;
      },
      [&](std::string_view bytes) {
        decoder.feed(bytes, [&](std::string_view data) {
          if (data == "[DONE]") {
            s.done = true;
            return;
          }
          auto obj = common::parse_json_object(data);
          REQUIRE(obj.is_ok());
          const auto& choices = obj->at("choices").as_array();
          if (choices.empty()) {
            ++s.usage_chunks;
            s.completion_tokens = obj->at("usage").at("completion_tokens").as_int64();
            return;
          }
          const auto& c = choices[0].as_object();
          if (const auto* t = c.if_contains("text"); t && t->is_string()) s.text += t->as_string();
          if (const auto* d = c.if_contains("delta")) {
            if (const auto* t = d->as_object().if_contains("content"); t && t->is_string()) s.text += t->as_string();
          }
        });
        return true;
      },
      60s);
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  return s;
}

// Sends raw bytes and returns the status of the answer (0 when none).
int raw_status(int port, const std::string& bytes) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int status = 0;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size())) {
    char buf[256];
    const ssize_t n = ::recv(fd, buf, sizeof buf - 1, 0);
    if (n > 12) status = std::atoi(std::string(buf + 9, 3).c_str());
  }
  ::close(fd);
  return status;
}

boost::json::object golden_prompt() {
  std::ifstream in(scn::testing::shared_path("golden/stories260K-prompts.json"));
  std::stringstream ss;
  ss << in.rdbuf();
  auto v = common::parse_json(ss.str());
  REQUIRE(v.is_ok());
  return v->as_array().at(0).as_object();
}

std::string chat_body(bool stream = false) {
  return std::string(R"({"model":"chat","messages":[{"role":"user","content":"Once upon a time"}],)") +
         R"("max_tokens":24,"temperature":0)" + (stream ? R"(,"stream":true})" : "}");
}

}  // namespace

TEST_CASE("gateway: completions through the broker equal the worker's and the golden tokens; usage") {
  auto p = make_platform(fast_options());
  if (!p) return;
  auto& w = workers();
  const auto golden = golden_prompt();
  const std::string greedy_text(golden.at("greedy_text").as_string());
  const auto n_greedy = static_cast<std::int64_t>(golden.at("greedy_tokens").as_array().size());
  const auto n_prompt = static_cast<std::int64_t>(golden.at("prompt_tokens_with_bos").as_array().size());
  const std::string completion = R"({"model":"chat","prompt":")" + std::string(golden.at("prompt").as_string()) +
                                 R"(","max_tokens":)" + std::to_string(n_greedy) + R"(,"temperature":0)";

  // Chat completion: the same as asking the worker directly.
  Answer direct = call("POST", w[0]->url("/v1/chat/completions"), chat_body(), "");
  REQUIRE(direct.status == 200);
  Answer via = call("POST", p->url("/v1/chat/completions"), chat_body());
  REQUIRE_MESSAGE(via.status == 200, via.body);
  const auto content = [](const Answer& a) {
    return std::string(a.json.at("choices").at(0).at("message").at("content").as_string());
  };
  CHECK(content(via) == content(direct));
  CHECK(via.json.at("model").as_string() == "chat");
  const auto chat_usage = via.json.at("usage").as_object();

  // Completion of the golden prompt: greedy tokens as the reference.
  Answer golden_answer = call("POST", p->url("/v1/completions"), completion + "}");
  REQUIRE_MESSAGE(golden_answer.status == 200, golden_answer.body);
  CHECK(golden_answer.json.at("choices").at(0).at("text").as_string() == greedy_text);
  CHECK(golden_answer.json.at("usage").at("prompt_tokens").as_int64() == n_prompt);
  CHECK(golden_answer.json.at("usage").at("completion_tokens").as_int64() == n_greedy);

  // Streamed completion: the same text; no usage chunk unless asked for.
  Streamed s = stream(p->url("/v1/completions"), completion + R"(,"stream":true})");
  CHECK(s.status == 200);
  CHECK(s.content_type.find("text/event-stream") == 0);
  CHECK(s.text == greedy_text);
  CHECK(s.done);
  CHECK(s.usage_chunks == 0);
  Streamed su = stream(p->url("/v1/completions"),
                       completion + R"(,"stream":true,"stream_options":{"include_usage":true}})");
  CHECK(su.text == greedy_text);
  CHECK(su.usage_chunks == 1);
  CHECK(su.completion_tokens == n_greedy);
  // Streamed chat equals the complete chat answer.
  Streamed sc = stream(p->url("/v1/chat/completions"), chat_body(true));
  CHECK(sc.text == content(direct));

  // A worker's own error passes through.
  Answer worker_error = call("POST", p->url("/v1/completions"), R"({"model":"chat","prompt":"x","max_tokens":-5})");
  CHECK(worker_error.status == 400);

  // Usage: 6 answered requests of tenant A with key A.
  REQUIRE(p->gateway->flush_usage().is_ok());
  db::PgPool& pg = *p->db->pool;
  const std::int64_t chat_prompt = chat_usage.at("prompt_tokens").as_int64();
  const std::int64_t chat_completion = chat_usage.at("completion_tokens").as_int64();
  CHECK(sql_one(pg, "SELECT sum(requests) FROM usage_records WHERE tenant_id = " + quote(p->tenant_a) +
                        " AND service_id = " + quote(p->chat) + " AND api_key_id = " + quote(p->key_a)) == "6");
  CHECK(sql_one(pg, "SELECT sum(prompt_tokens) FROM usage_records") ==
        std::to_string(2 * chat_prompt + 3 * n_prompt));
  CHECK(sql_one(pg, "SELECT sum(completion_tokens) FROM usage_records") ==
        std::to_string(2 * chat_completion + 3 * n_greedy));
  CHECK(sql_one(pg, "SELECT count(*) FROM usage_records") == "1");
}

TEST_CASE("gateway: a dead replica is retried elsewhere; 503 without ready replicas") {
  auto p = make_platform(fast_options());
  if (!p) return;
  db::PgPool& pg = *p->db->pool;
  // A third "ready" replica whose port nobody listens on.
  const std::string dead_node = add_node(pg, "n-dead");
  add_replica(pg, p->chat, dead_node, scn::testing::free_port());
  for (int i = 0; i < 6; ++i) {
    Answer a = call("POST", p->url("/v1/completions"), R"({"model":"chat","prompt":"Once","max_tokens":3,"temperature":0})");
    CHECK_MESSAGE(a.status == 200, a.body);
  }
  Streamed s = stream(p->url("/v1/completions"), R"({"model":"chat","prompt":"Once","max_tokens":3,"stream":true})");
  CHECK(s.status == 200);
  CHECK(s.done);

  // Only dead replicas: every try fails -> 503.
  sql_one(pg, "UPDATE replicas SET state = 'stopped' WHERE node_id = " + quote(p->node) + " RETURNING 1");
  std::this_thread::sleep_for(300ms);  // route_ttl
  Answer none_answered = call("POST", p->url("/v1/completions"), R"({"model":"chat","prompt":"Once","max_tokens":1})");
  CHECK(none_answered.status == 503);
  CHECK(none_answered.headers.get_or("Retry-After", "") == "2");

  Answer a = call("POST", p->url("/v1/chat/completions"), R"({"model":"empty","messages":[]})");
  CHECK(a.status == 503);
  CHECK(a.headers.get_or("Retry-After", "") == "2");
  CHECK(a.json.at("error").at("type").as_string() == "unavailable_error");
}

TEST_CASE("gateway: authentication, tenant isolation, bad requests") {
  auto p = make_platform(fast_options());
  if (!p) return;
  const std::string ok_body = R"({"model":"chat","prompt":"Once","max_tokens":1})";

  // Tenant B cannot see or call tenant A's service.
  Answer b = call("POST", p->url("/v1/completions"), ok_body, kKeyB);
  CHECK(b.status == 404);
  CHECK(error_code_of(b) == "model_not_found");
  Answer models_b = call("GET", p->url("/v1/models"), "", kKeyB);
  CHECK(models_b.status == 200);
  CHECK(models_b.json.at("data").as_array().empty());
  Answer models_a = call("GET", p->url("/v1/models"), "");
  REQUIRE(models_a.status == 200);
  const auto& data = models_a.json.at("data").as_array();
  REQUIRE(data.size() == 2);
  CHECK(data[0].at("id").as_string() == "chat");
  CHECK(data[0].at("owned_by").as_string() == "tenant-a");
  CHECK(data[0].at("status").as_string() == "ready");
  CHECK(data[1].at("id").as_string() == "empty");

  struct Case {
    const char* body;
    const char* key;
    int status;
    const char* code;
  };
  const Case cases[] = {
      {R"({"model":"chat","prompt":"x","max_tokens":1})", "", 401, "invalid_api_key"},
      {R"({"model":"chat","prompt":"x","max_tokens":1})", "scn-key-unknown", 401, "invalid_api_key"},
      {R"({"model":"chat",)", kKeyA, 400, ""},
      {R"([1,2])", kKeyA, 400, ""},
      {R"({"prompt":"x"})", kKeyA, 400, ""},
      {R"({"model":7})", kKeyA, 400, ""},
      {"\xff\xfe", kKeyA, 400, ""},
      {R"({"model":"nope","prompt":"x"})", kKeyA, 404, "model_not_found"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.body);
    CAPTURE(c.key);
    Answer a = call("POST", p->url("/v1/completions"), c.body, c.key);
    CHECK(a.status == c.status);
    if (*c.code != '\0') CHECK(error_code_of(a) == c.code);
    CHECK(a.json.contains("error"));
  }
  CHECK(call("GET", p->url("/v1/models"), "", "").status == 401);

  // Over the body limit: 413 from the server (answered on the header alone).
  CHECK(raw_status(p->server->port(), "POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                                          std::string(kKeyA) + "\r\nContent-Length: 9437184\r\n\r\n") == 413);

  // A suspended tenant's key is 403 tenant_suspended once the key's cache
  // entry expires (1 s); reinstating works at once (refusals are not cached).
  auto set_status = [&](const char* status) {
    sql_one(*p->db->pool, std::string("UPDATE tenants SET status = '") + status + "' WHERE id = " +
                              quote(p->tenant_a) + " RETURNING id");
  };
  set_status("suspended");
  std::this_thread::sleep_for(1200ms);
  Answer suspended = call("POST", p->url("/v1/completions"), ok_body);
  CHECK(suspended.status == 403);
  CHECK(suspended.json.at("error").at("type").as_string() == "tenant_suspended");
  CHECK(error_code_of(suspended) == "tenant_suspended");
  set_status("active");

  // A revoked key stops working within the cache TTL.
  CHECK(call("POST", p->url("/v1/completions"), ok_body).status == 200);
  revoke_api_key(*p->db->pool, p->key_a);
  std::this_thread::sleep_for(300ms);
  Answer revoked = call("POST", p->url("/v1/completions"), ok_body);
  CHECK(revoked.status == 401);
  CHECK(revoked.json.at("error").at("message").as_string() == "API key revoked");
}

TEST_CASE("gateway: routes come from Redis and are invalidated through pub/sub") {
  GatewayOptions o = fast_options();
  o.route_ttl = 60s;  // only invalidation refreshes the cache
  auto p = make_platform(o);
  if (!p) return;
  const std::string body = R"({"model":"chat","prompt":"Once","max_tokens":1})";
  CHECK(call("POST", p->url("/v1/completions"), body).status == 200);  // PostgreSQL, cached
  // The scheduler says: no endpoint. Cached until the notice.
  REQUIRE(p->redis->set(routes_key(p->chat), R"({"service_id":")" + p->chat + R"(","endpoints":[]})").is_ok());
  CHECK(call("POST", p->url("/v1/completions"), body).status == 200);
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    REQUIRE(p->redis->publish(kRoutesChannel, p->chat).is_ok());
    status = call("POST", p->url("/v1/completions"), body).status;
    if (status == 503) break;
    std::this_thread::sleep_for(50ms);
  }
  CHECK(status == 503);
  // The scheduler publishes one endpoint (a worker's URL).
  const std::string ep = "http://127.0.0.1:" + std::to_string(workers()[1]->port());
  REQUIRE(p->redis->set(routes_key(p->chat), R"({"endpoints":[{"replica_id":"r","url":")" + ep + R"("}]})").is_ok());
  REQUIRE(p->redis->publish(kRoutesChannel, p->chat).is_ok());
  const auto deadline2 = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline2 &&
         (status = call("POST", p->url("/v1/completions"), body).status) != 200) {
    std::this_thread::sleep_for(50ms);
  }
  CHECK(status == 200);
}

TEST_CASE("gateway: a client that leaves a stream stops the upstream read") {
  auto p = make_platform(fast_options());
  if (!p) return;
  // A replica that streams slowly until its client goes away.
  std::atomic<bool> upstream_saw_gone{false};
  std::atomic<int> events_sent{0};
  http::Server slow;
  slow.route("POST", "/v1/completions", [&](const http::Request&, http::Response& rs) {
    if (!rs.start_stream(200, {{"Content-Type", "text/event-stream"}})) return;
    for (int i = 0; i < 200; ++i) {
      if (!rs.write(R"(data: {"choices":[{"index":0,"text":"x"}]})" "\n\n") || rs.client_gone()) {
        upstream_saw_gone = true;
        return;
      }
      ++events_sent;
      std::this_thread::sleep_for(20ms);
    }
  });
  REQUIRE(slow.start().is_ok());
  const std::string svc = add_service(*p->db->pool, p->tenant_a, "slow");
  add_replica(*p->db->pool, svc, p->node, slow.port());

  int events = 0;
  auto r = http::request_stream(
      "POST", p->url("/v1/completions"), R"({"model":"slow","prompt":"x","stream":true})",
      {{"Content-Type", "application/json"}, {"Authorization", std::string("Bearer ") + kKeyA}},
      [&](std::string_view) { return ++events < 2; }, 10s);
  REQUIRE(r.is_ok());
  CHECK(r->status == 200);
  const auto deadline = std::chrono::steady_clock::now() + 3s;
  while (!upstream_saw_gone && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  CHECK(upstream_saw_gone);
  CHECK(events_sent < 150);
  slow.stop();
  slow.wait();
}

TEST_CASE("gateway: a client that leaves before a complete answer cancels the upstream request") {
  auto p = make_platform(fast_options());
  if (!p) return;
  // A replica that works for up to 5 s on a complete (non-streamed) answer,
  // giving up when its client goes away.
  std::atomic<bool> upstream_saw_gone{false};
  std::atomic<bool> upstream_started{false};
  http::Server slow;
  slow.route("POST", "/v1/completions", [&](const http::Request&, http::Response& rs) {
    upstream_started = true;
    const auto until = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < until) {
      if (rs.client_gone()) {
        upstream_saw_gone = true;
        return;
      }
      std::this_thread::sleep_for(5ms);
    }
    rs.set_json(200, R"({"choices":[{"index":0,"text":"late"}],"usage":{"prompt_tokens":1,"completion_tokens":1}})");
  });
  REQUIRE(slow.start().is_ok());
  const std::string svc = add_service(*p->db->pool, p->tenant_a, "slow");
  add_replica(*p->db->pool, svc, p->node, slow.port());

  // The client gives up after 400 ms (its connection is closed).
  const auto since = std::chrono::steady_clock::now();
  auto r = http::request("POST", p->url("/v1/completions"), R"({"model":"slow","prompt":"x"})",
                         {{"Content-Type", "application/json"}, {"Authorization", std::string("Bearer ") + kKeyA}},
                         400ms);
  CHECK_FALSE(r.is_ok());
  CHECK(upstream_started);
  const auto deadline = std::chrono::steady_clock::now() + 3s;
  while (!upstream_saw_gone && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  CHECK(upstream_saw_gone);
  CHECK(std::chrono::steady_clock::now() - since < 2500ms);  // long before the replica's 5 s
  // Logged as 499 (the client left), once the handler has returned.
  std::string status;
  const auto logged_by = std::chrono::steady_clock::now() + 3s;
  while (status.empty() && std::chrono::steady_clock::now() < logged_by) {
    REQUIRE(p->gateway->flush_request_log().is_ok());
    status = sql_one(*p->db->pool, "SELECT status FROM request_log WHERE service_id = " + quote(svc) +
                                       " ORDER BY id DESC LIMIT 1");
    if (status.empty()) std::this_thread::sleep_for(20ms);
  }
  CHECK(status == "499");
  slow.stop();
  slow.wait();
}

TEST_CASE("gateway: model store over HTTP") {
  auto p = make_platform(fast_options());
  if (!p) return;
  auto whole = http::request("GET", p->url("/store/stories260K.gguf"));
  REQUIRE(whole.is_ok());
  CHECK(whole->status == 200);
  CHECK(whole->body.substr(0, 4) == "GGUF");
  CHECK(whole->headers.get_or("Content-Length", "") == std::to_string(whole->body.size()));
  const std::string etag(whole->headers.get("ETag").value_or(""));
  CHECK_FALSE(etag.empty());

  auto part = http::request("GET", p->url("/store/stories260K.gguf"), {}, {{"Range", "bytes=1-3"}});
  REQUIRE(part.is_ok());
  CHECK(part->status == 206);
  CHECK(part->body == "GUF");
  CHECK(part->headers.get_or("Content-Range", "") ==
        "bytes 1-3/" + std::to_string(whole->body.size()));
  auto beyond = http::request("GET", p->url("/store/stories260K.gguf"), {},
                              {{"Range", "bytes=" + std::to_string(whole->body.size()) + "-"}});
  REQUIRE(beyond.is_ok());
  CHECK(beyond->status == 416);
  for (const char* path : {"/store/..%2Fgolden%2Fstories260K.txt", "/store/%2E%2E", "/store/missing.gguf",
                           "/store/../golden/stories260K.txt"}) {
    CAPTURE(path);
    auto r = http::request("GET", p->url(path));
    REQUIRE(r.is_ok());
    CHECK(r->status == 404);
  }
}

}  // namespace scn::broker
