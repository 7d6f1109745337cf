// `scn infer` as a real child process serving ../shared/models/stories260K.gguf,
// driven over real HTTP: golden outputs, SSE framing, every error case,
// concurrency, disconnects, SIGTERM, and a corrupt model file.
#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/http/client.h"
#include "inference/server/infer_process_test_util.h"
#include "tests/testing.h"

namespace scn::inference {
namespace {
namespace json = boost::json;
using testutil::InferProcess;
using namespace std::chrono_literals;

std::string model_path() { return scn::testing::shared_path("models/stories260K.gguf"); }

const json::object& golden_prompt0() {
  static const json::value golden = [] {
    std::ifstream in(scn::testing::shared_path("golden/stories260K-prompts.json"));
    std::stringstream ss;
    ss << in.rdbuf();
    return json::parse(ss.str());
  }();
  return golden.as_array().at(0).as_object();
}

// The server most tests share: small context (64) and body limit (64 KiB)
// so that the limits are cheap to hit.
InferProcess& shared_server() {
  static std::unique_ptr<InferProcess> p = [] {
    auto s = std::make_unique<InferProcess>(
        model_path(), std::vector<std::string>{"--ctx", "64", "--max-body-bytes", "65536",
                                               "--alias", "stories", "--threads", "1"});
    REQUIRE(s->spawned());
    INFO("stderr: ", s->stderr_text());
    REQUIRE(s->wait_ready());
    return s;
  }();
  return *p;
}

struct Answer {
  int status = 0;
  std::string content_type;
  json::value body;
  std::string raw;
};

Answer call(InferProcess& p, const std::string& method, const std::string& path,
            const std::string& body = {}) {
  auto r = http::request(method, p.url(path), body, {{"Content-Type", "application/json"}}, 30s);
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  Answer a;
  a.status = r->status;
  a.content_type = r->headers.get_or("Content-Type", "");
  a.raw = r->body;
  boost::system::error_code ec;
  a.body = json::parse(r->body, ec);
  return a;
}

// An OpenAI error body: {"error": {"type": str, "message": str, ...}}.
void check_error_shape(const Answer& a, const std::string& param = {}, const std::string& code = {}) {
  INFO("body: ", a.raw);
  REQUIRE(a.body.is_object());
  REQUIRE(a.body.as_object().contains("error"));
  const json::object& e = a.body.at("error").as_object();
  CHECK(e.at("type").is_string());
  CHECK(e.at("message").is_string());
  CHECK_FALSE(e.at("message").as_string().empty());
  if (!param.empty()) CHECK(e.at("param").as_string() == param);
  if (!code.empty()) CHECK(e.at("code").as_string() == code);
}

struct Stream {
  int status = 0;
  std::string content_type;
  std::string raw;
  std::vector<std::string> events;  // payloads of "data: ..." events, in order
};

// A streamed POST; `stop_after` > 0 closes the connection after that many bytes.
Stream stream(InferProcess& p, const std::string& path, const std::string& body, size_t stop_after = 0) {
  Stream s;
  auto r = http::request_stream("POST", p.url(path), body, {{"Content-Type", "application/json"}},
                                [&](std::string_view data) {
                                  s.raw.append(data);
                                  return stop_after == 0 || s.raw.size() < stop_after;
                                });
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  s.status = r->status;
  s.content_type = r->headers.get_or("Content-Type", "");
  if (stop_after == 0) {
    // Exact framing: "data: <payload>\n\n" repeated, nothing else.
    size_t pos = 0;
    while (pos < s.raw.size()) {
      REQUIRE(s.raw.compare(pos, 6, "data: ") == 0);
      size_t end = s.raw.find("\n\n", pos);
      REQUIRE(end != std::string::npos);
      s.events.push_back(s.raw.substr(pos + 6, end - pos - 6));
      pos = end + 2;
    }
  }
  return s;
}

// The golden request: "Once upon a time", greedy, 48 tokens.
std::string completion_body(bool stream_it, const std::string& extra = "",
                            const std::string& model = "stories") {
  return R"({"model": ")" + model + R"(", "prompt": "Once upon a time", "temperature": 0,
             "max_tokens": 48)" +
         (stream_it ? R"(, "stream": true)" : "") + extra + "}";
}

TEST_CASE("scn infer: health, models, metrics") {
  InferProcess& p = shared_server();
  Answer h = call(p, "GET", "/health");
  CHECK(h.status == 200);
  CHECK(h.body.at("status").as_string() == "ready");

  Answer m = call(p, "GET", "/v1/models");
  CHECK(m.status == 200);
  CHECK(m.body.at("object").as_string() == "list");
  CHECK(m.body.at("data").as_array()[0].at("id").as_string() == "stories");

  call(p, "POST", "/v1/completions", R"({"prompt": "x", "max_tokens": 2})");
  auto r = http::request("GET", p.url("/metrics"));
  REQUIRE(r.is_ok());
  CHECK(r->status == 200);
  CHECK(r->headers.get_or("Content-Type", "").find("text/plain") == 0);
  for (const char* name : {"scn_infer_requests_total{endpoint=\"/v1/completions\",status=\"200\"}",
                           "scn_infer_prompt_tokens_total", "scn_infer_completion_tokens_total",
                           "scn_infer_queue_depth", "scn_infer_time_to_first_token_seconds_bucket",
                           "scn_infer_token_latency_seconds_count", "scn_infer_tokens_per_second"}) {
    CAPTURE(name);
    CHECK(r->body.find(name) != std::string::npos);
  }
}

TEST_CASE("scn infer: greedy completion equals the golden text") {
  InferProcess& p = shared_server();
  const json::object& g = golden_prompt0();
  Answer a = call(p, "POST", "/v1/completions", completion_body(false));
  REQUIRE(a.status == 200);
  CHECK(a.content_type == "application/json");
  CHECK(a.body.at("object").as_string() == "text_completion");
  CHECK(a.body.at("model").as_string() == "stories");
  const json::object& c = a.body.at("choices").as_array()[0].as_object();
  CHECK(c.at("text").as_string() == g.at("greedy_text").as_string());
  CHECK(c.at("finish_reason").as_string() == "length");
  CHECK(a.body.at("usage").at("prompt_tokens").as_int64() == 5);
  CHECK(a.body.at("usage").at("completion_tokens").as_int64() == 48);
  CHECK(a.body.at("usage").at("total_tokens").as_int64() == 53);

  // The same prompt given as token ids.
  std::string ids = json::serialize(g.at("prompt_tokens_with_bos"));
  Answer t = call(p, "POST", "/v1/completions",
                  R"({"prompt": )" + ids + R"(, "temperature": 0, "max_tokens": 48})");
  REQUIRE(t.status == 200);
  CHECK(t.body.at("choices").as_array()[0].at("text").as_string() == g.at("greedy_text").as_string());
}

TEST_CASE("scn infer: streamed completion, framing and usage chunk") {
  InferProcess& p = shared_server();
  Stream s = stream(p, "/v1/completions", completion_body(true, R"(, "stream_options": {"include_usage": true})"));
  CHECK(s.status == 200);
  CHECK(s.content_type == "text/event-stream");
  REQUIRE(s.events.size() >= 3);
  CHECK(s.events.back() == "[DONE]");
  std::string text;
  std::string finish;
  for (size_t i = 0; i + 2 < s.events.size(); ++i) {
    json::object o = json::parse(s.events[i]).as_object();
    CHECK(o.at("object").as_string() == "text_completion");
    const json::object& c = o.at("choices").as_array()[0].as_object();
    text += c.at("text").as_string();
    if (!c.at("finish_reason").is_null()) finish = c.at("finish_reason").as_string();
  }
  CHECK(text == golden_prompt0().at("greedy_text").as_string());
  CHECK(finish == "length");
  json::object usage = json::parse(s.events[s.events.size() - 2]).as_object();
  CHECK(usage.at("choices").as_array().empty());
  CHECK(usage.at("usage").at("prompt_tokens").as_int64() == 5);
  CHECK(usage.at("usage").at("completion_tokens").as_int64() == 48);

  Stream no_usage = stream(p, "/v1/completions", completion_body(true));
  REQUIRE(no_usage.events.size() >= 2);
  CHECK(no_usage.events.back() == "[DONE]");
  for (size_t i = 0; i + 1 < no_usage.events.size(); ++i)
    CHECK_FALSE(json::parse(no_usage.events[i]).as_object().contains("usage"));
}

TEST_CASE("scn infer: chat completion through the fallback template") {
  InferProcess& p = shared_server();
  const std::string msgs = R"("messages": [{"role": "system", "content": "Tell a story."},
                                           {"role": "user", "content": [{"type": "text", "text": "Once upon a time"}]}])";
  Answer a = call(p, "POST", "/v1/chat/completions",
                  "{" + msgs + R"(, "temperature": 0, "max_tokens": 16, "model": "stories"})");
  REQUIRE(a.status == 200);
  CHECK(a.body.at("object").as_string() == "chat.completion");
  CHECK(a.body.at("id").as_string().subview(0, 9) == "chatcmpl-");
  const json::object& c = a.body.at("choices").as_array()[0].as_object();
  CHECK(c.at("message").at("role").as_string() == "assistant");
  const std::string content(c.at("message").at("content").as_string());
  CHECK_FALSE(content.empty());
  CHECK(a.body.at("usage").at("completion_tokens").as_int64() <= 16);

  Stream s = stream(p, "/v1/chat/completions",
                    "{" + msgs + R"(, "temperature": 0, "max_tokens": 16, "stream": true,
                                   "stream_options": {"include_usage": true}})");
  CHECK(s.status == 200);
  CHECK(s.content_type == "text/event-stream");
  REQUIRE(s.events.size() >= 4);
  CHECK(s.events.back() == "[DONE]");
  std::string streamed;
  for (size_t i = 0; i + 2 < s.events.size(); ++i) {
    json::object o = json::parse(s.events[i]).as_object();
    CHECK(o.at("object").as_string() == "chat.completion.chunk");
    const json::object& delta = o.at("choices").as_array()[0].at("delta").as_object();
    CHECK(delta.contains("role") == (i == 0));  // role only in the first chunk
    if (delta.contains("content")) streamed += delta.at("content").as_string();
  }
  CHECK(streamed == content);
  json::object usage = json::parse(s.events[s.events.size() - 2]).as_object();
  CHECK(usage.at("choices").as_array().empty());
  CHECK(usage.at("usage").at("total_tokens").as_int64() == a.body.at("usage").at("total_tokens").as_int64());
}

// The golden values come from llama.cpp's F16 flash attention, whose F16
// accumulation puts up to 1.6e-2 of noise into them (see
// inference/model/golden_test.cpp); our float32 engine is compared within 2e-2.
TEST_CASE("scn infer: logprobs match the golden top-5") {
  InferProcess& p = shared_server();
  const json::array& top5 = golden_prompt0().at("top5_logprobs").as_array();
  Answer a = call(p, "POST", "/v1/completions", completion_body(false, R"(, "logprobs": 5)"));
  REQUIRE(a.status == 200);
  const json::object& lp = a.body.at("choices").as_array()[0].at("logprobs").as_object();
  const json::array& chosen = lp.at("token_logprobs").as_array();
  REQUIRE(chosen.size() == 48);
  for (size_t i = 0; i < 48; ++i) {
    CAPTURE(i);
    CHECK(std::fabs(chosen[i].to_number<double>() - top5[i].at(0).at("logprob").to_number<double>()) < 2e-2);
  }
  // First step: the five alternatives' logprobs, best first.
  std::vector<double> got;
  for (const auto& kv : lp.at("top_logprobs").as_array()[0].as_object()) got.push_back(kv.value().to_number<double>());
  std::sort(got.rbegin(), got.rend());
  REQUIRE(got.size() == 5);
  for (size_t k = 0; k < 5; ++k)
    CHECK(std::fabs(got[k] - top5[0].at(k).at("logprob").to_number<double>()) < 2e-2);
  CHECK(lp.at("tokens").as_array()[0].as_string() == ",");
  CHECK(lp.at("text_offset").as_array()[0].as_int64() == 0);

  // Chat shape: content[{token, logprob, bytes, top_logprobs[...]}].
  Answer c = call(p, "POST", "/v1/chat/completions",
                  R"({"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 3,
                      "logprobs": true, "top_logprobs": 2})");
  REQUIRE(c.status == 200);
  const json::array& content = c.body.at("choices").as_array()[0].at("logprobs").at("content").as_array();
  REQUIRE_FALSE(content.empty());
  CHECK(content[0].at("token").is_string());
  CHECK(content[0].at("logprob").is_number());
  CHECK(content[0].at("bytes").is_array());
  CHECK(content[0].at("top_logprobs").as_array().size() == 2);
}

TEST_CASE("scn infer: stop strings, n and seed") {
  InferProcess& p = shared_server();
  Answer a = call(p, "POST", "/v1/completions", completion_body(false, R"(, "stop": ["Lily"])"));
  REQUIRE(a.status == 200);
  const json::object& c = a.body.at("choices").as_array()[0].as_object();
  CHECK(c.at("text").as_string() == ", there was a little girl named ");
  CHECK(c.at("finish_reason").as_string() == "stop");
  CHECK(a.body.at("usage").at("completion_tokens").as_int64() < 48);

  const std::string sampled = R"({"prompt": "Once upon a time", "temperature": 1, "max_tokens": 12,
                                  "seed": 7, "n": 3})";
  Answer s1 = call(p, "POST", "/v1/completions", sampled);
  Answer s2 = call(p, "POST", "/v1/completions", sampled);
  REQUIRE(s1.status == 200);
  REQUIRE(s1.body.at("choices").as_array().size() == 3);
  CHECK(s1.body.at("choices") == s2.body.at("choices"));  // same seed, same output
  CHECK(s1.body.at("usage").at("prompt_tokens").as_int64() == 5);
}

TEST_CASE("scn infer: /tokenize and /detokenize") {
  InferProcess& p = shared_server();
  Answer t = call(p, "POST", "/tokenize", R"({"content": "Once upon a time", "add_special": true})");
  REQUIRE(t.status == 200);
  CHECK(t.body.at("tokens") == golden_prompt0().at("prompt_tokens_with_bos"));
  Answer d = call(p, "POST", "/detokenize", R"({"tokens": [403, 407, 261, 378]})");
  REQUIRE(d.status == 200);
  CHECK(d.body.at("content").as_string() == "Once upon a time");
  Answer bad = call(p, "POST", "/detokenize", R"({"tokens": [1, 512]})");
  CHECK(bad.status == 400);
  check_error_shape(bad, "tokens[1]");
}

TEST_CASE("scn infer: every error case answers an OpenAI error body") {
  InferProcess& p = shared_server();
  struct Case {
    const char* path;
    std::string body;
    int status;
    const char* param;
    const char* code;
  };
  std::string long_prompt = "[1";
  for (int i = 0; i < 80; ++i) long_prompt += ", 403";
  long_prompt += "]";
  const std::vector<Case> cases = {
      {"/v1/completions", "{not json", 400, "", ""},
      {"/v1/completions", "{\"prompt\": \"\xFF\xFE\"}", 400, "", ""},  // invalid UTF-8
      {"/v1/completions", R"({"prompt": "x", "max_tokens": "ten"})", 400, "max_tokens", ""},
      {"/v1/completions", R"({"prompt": 12})", 400, "prompt", ""},
      {"/v1/completions", R"({"prompt": "x", "model": "gpt-4"})", 404, "model", "model_not_found"},
      {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "x"}], "model": "nope"})", 404,
       "model", "model_not_found"},
      {"/v1/completions", R"({"prompt": "x", "n": 0})", 400, "n", ""},
      {"/v1/completions", R"({"prompt": "x", "n": 9})", 422, "n", ""},
      {"/v1/completions", R"({"prompt": "x", "temperature": -1})", 400, "temperature", ""},
      {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function"}]})",
       422, "tools", ""},
      {"/v1/chat/completions",
       R"({"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_object"}})", 422,
       "response_format", ""},
      {"/v1/chat/completions", R"({"messages": "hello"})", 400, "messages", ""},
      {"/v1/completions", R"({"prompt": )" + long_prompt + "}", 400, "prompt", "context_length_exceeded"},
      {"/v1/completions", R"({"prompt": [1, 99999]})", 400, "prompt", ""},
      {"/v1/completions", "{\"prompt\": \"" + std::string(70000, 'a') + "\"}", 413, "", ""},
  };
  for (const auto& c : cases) {
    CAPTURE(c.path);
    CAPTURE(c.body.substr(0, 120));
    Answer a = call(p, "POST", c.path, c.body);
    CHECK(a.status == c.status);
    CHECK(a.content_type == "application/json");
    check_error_shape(a, c.param, c.code);
  }
  // Still healthy afterwards.
  CHECK(call(p, "GET", "/health").status == 200);
}

TEST_CASE("scn infer: two concurrent requests both complete") {
  InferProcess& p = shared_server();
  Answer a, b;
  std::thread t1([&] { a = call(p, "POST", "/v1/completions", completion_body(false)); });
  std::thread t2([&] { b = call(p, "POST", "/v1/completions", completion_body(false)); });
  t1.join();
  t2.join();
  CHECK(a.status == 200);
  CHECK(b.status == 200);
  const auto& golden = golden_prompt0().at("greedy_text").as_string();
  CHECK(a.body.at("choices").as_array()[0].at("text").as_string() == golden);
  CHECK(b.body.at("choices").as_array()[0].at("text").as_string() == golden);
}

TEST_CASE("scn infer: full queue (429), early disconnect, SIGTERM") {
  // Queue of 0 and one running sequence: a request is only taken while the
  // engine is idle.
  InferProcess p(model_path(), {"--max-queue", "0", "--parallel", "1", "--threads", "1"});
  REQUIRE(p.spawned());
  INFO("stderr: ", p.stderr_text());
  REQUIRE(p.wait_ready());
  const std::string long_gen = R"({"prompt": "Once upon a time", "max_tokens": 1900, "temperature": 0,
                                   "stream": true})";

  // While a long generation streams, another request finds the queue full;
  // then the streaming client goes away after its first bytes.
  int busy_status = 0;
  std::string busy_body, busy_retry_after;
  size_t received = 0;
  auto r = http::request_stream("POST", p.url("/v1/completions"), long_gen, {}, [&](std::string_view d) {
    received += d.size();
    auto b = http::request("POST", p.url("/v1/completions"), R"({"prompt": "x", "max_tokens": 1})");
    if (b.is_ok()) {
      busy_status = b->status;
      busy_body = b->body;
      busy_retry_after = b->headers.get_or("Retry-After", "");
    }
    return false;  // disconnect
  });
  REQUIRE(r.is_ok());
  CHECK(r->status == 200);
  CHECK(received > 0);
  CHECK(busy_status == 429);
  boost::system::error_code ec;
  json::value busy = json::parse(busy_body, ec);
  REQUIRE_FALSE(ec);
  CHECK(busy.at("error").at("type").as_string() == "rate_limit_error");
  CHECK(busy.at("error").at("code").as_string() == "queue_full");
  CHECK(busy_retry_after == "1");

  // The abandoned generation is cancelled (answer status 499 in the metrics)
  // long before its 1900 tokens, and the server goes on.
  bool cancelled_seen = false;
  for (int i = 0; i < 100 && !cancelled_seen; ++i) {
    auto m = http::request("GET", p.url("/metrics"));
    cancelled_seen = m.is_ok() &&
                     m->body.find(R"(scn_infer_requests_total{endpoint="/v1/completions",status="499"})") !=
                         std::string::npos;
    if (!cancelled_seen) std::this_thread::sleep_for(50ms);
  }
  CHECK(cancelled_seen);
  // Without --alias the model id is the engine's model name.
  const std::string id(call(p, "GET", "/v1/models").body.at("data").at(0).at("id").as_string());
  Answer next = call(p, "POST", "/v1/completions", completion_body(false, "", id));
  CHECK(next.status == 200);
  CHECK(next.body.at("choices").as_array()[0].at("text").as_string() ==
        golden_prompt0().at("greedy_text").as_string());

  // SIGTERM: a clean stop with exit code 0.
  p.signal(SIGTERM);
  auto code = p.wait_exit(15s);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
}

TEST_CASE("scn infer: a corrupt model file exits non-zero with a clear message") {
  scn::testing::TempDir dir;
  {
    std::ifstream in(model_path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    REQUIRE(bytes.size() > 4096);
    std::ofstream out(dir.file("corrupt.gguf"), std::ios::binary);
    out.write(bytes.data(), 2000);  // truncated inside the metadata
  }
  InferProcess p(dir.file("corrupt.gguf"));
  REQUIRE(p.spawned());
  auto code = p.wait_exit(15s);
  REQUIRE(code.has_value());
  CHECK(*code == 1);
  const std::string err = p.stderr_text();
  CHECK(err.find("cannot load model") != std::string::npos);
  CHECK(err.find("corrupt.gguf") != std::string::npos);

  InferProcess missing(dir.file("missing.gguf"));
  auto code2 = missing.wait_exit(15s);
  REQUIRE(code2.has_value());
  CHECK(*code2 == 1);
  CHECK(missing.stderr_text().find("missing.gguf") != std::string::npos);
}

}  // namespace
}  // namespace scn::inference
