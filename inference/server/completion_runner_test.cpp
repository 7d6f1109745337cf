// run_completion against a scripted fake engine, with detached Responses.
#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "inference/server/completion_runner.h"

namespace scn::inference {
namespace {
namespace json = boost::json;

std::string piece(int32_t id) {
  static const std::map<int32_t, std::string> kPieces = {
      {1, "Hello"}, {2, " world"}, {3, "\xE4"}, {4, "\xBD"}, {5, "\xA0"}, {6, "\n"}, {7, "!"}};
  return kPieces.at(id);
}

// Emits `script` (the same tokens for every choice; the seed is recorded),
// honouring max_tokens, the callback's answer and the cancel flag.
struct FakeEngine {
  std::vector<int32_t> script;
  Status fail;  // returned instead of generating when not OK
  std::vector<GenerateRequest> seen;
  std::mutex mu;

  GenerationBackend backend(int n_ctx = 64) {
    GenerationBackend b;
    b.piece = piece;
    b.n_ctx = n_ctx;
    b.generate = [this](const GenerateRequest& req, const TokenCallback& cb) -> Result<GenerateResult> {
      {
        std::lock_guard<std::mutex> lock(mu);
        seen.push_back(req);
      }
      if (!fail.is_ok()) return fail;
      GenerateResult r;
      r.prompt_tokens = static_cast<int>(req.prompt.size());
      r.finish = FinishReason::kStop;
      for (size_t i = 0; i < script.size(); ++i) {
        if (r.completion_tokens == req.max_tokens) {
          r.finish = FinishReason::kLength;
          break;
        }
        TokenEvent ev;
        ev.token = script[i];
        ev.logprob = -0.5f;
        for (int k = 0; k < req.top_logprobs; ++k) ev.top.push_back({script[i], -0.5f - k});
        ++r.completion_tokens;
        if (!cb(ev) || (req.cancel && req.cancel->load())) {
          r.finish = FinishReason::kCancelled;
          break;
        }
      }
      return r;
    };
    return b;
  }
};

ResponseMeta meta_for(const CompletionRequest& req) {
  ResponseMeta m;
  m.kind = req.kind;
  m.id = make_response_id(req.kind);
  m.created = 1;
  m.model = "fake";
  m.logprobs = req.logprobs;
  m.include_usage = req.include_usage;
  return m;
}

CompletionRequest parse(const std::string& body, ApiKind kind) {
  auto r = parse_completion_request(body, kind);
  REQUIRE(r.ok());
  return r.value();
}

// The JSON payloads of an SSE body, "[DONE]" as a string.
std::vector<std::string> sse_payloads(const std::string& body) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < body.size()) {
    REQUIRE(body.compare(pos, 6, "data: ") == 0);
    size_t end = body.find("\n\n", pos);
    REQUIRE(end != std::string::npos);
    out.push_back(body.substr(pos + 6, end - pos - 6));
    pos = end + 2;
  }
  return out;
}

TEST_CASE("run_completion: non-streaming completion with usage and length") {
  FakeEngine fe;
  fe.script = {1, 2, 7};
  auto req = parse(R"({"prompt": "x", "max_tokens": 2, "seed": 5})", ApiKind::kCompletion);
  http::Response resp;
  CHECK(run_completion(req, {1, 9, 9}, meta_for(req), fe.backend(), resp) == 200);
  CHECK(resp.status() == 200);
  CHECK(resp.headers().get_or("Content-Type", "") == "application/json");
  json::object o = json::parse(resp.body()).as_object();
  const json::object& c = o.at("choices").as_array()[0].as_object();
  CHECK(c.at("text").as_string() == "Hello world");
  CHECK(c.at("finish_reason").as_string() == "length");
  CHECK(o.at("usage").at("prompt_tokens").as_int64() == 3);
  CHECK(o.at("usage").at("completion_tokens").as_int64() == 2);
  REQUIRE(fe.seen.size() == 1);
  CHECK(fe.seen[0].max_tokens == 2);
  CHECK(fe.seen[0].sampling.seed == 5u);
}

TEST_CASE("run_completion: n choices get seed + i and usage sums") {
  FakeEngine fe;
  fe.script = {1, 7};
  auto req = parse(R"({"messages": [{"role": "user", "content": "hi"}], "n": 3, "seed": 10})",
                   ApiKind::kChatCompletion);
  http::Response resp;
  CHECK(run_completion(req, {1, 2}, meta_for(req), fe.backend(), resp) == 200);
  json::object o = json::parse(resp.body()).as_object();
  const json::array& cs = o.at("choices").as_array();
  REQUIRE(cs.size() == 3);
  std::set<uint64_t> seeds;
  for (int i = 0; i < 3; ++i) {
    CHECK(cs[i].at("index").as_int64() == i);
    CHECK(cs[i].at("message").at("content").as_string() == "Hello!");
    seeds.insert(fe.seen[i].sampling.seed.value_or(0));
  }
  CHECK(seeds == std::set<uint64_t>{10, 11, 12});  // the choices run concurrently, in any order
  CHECK(o.at("usage").at("prompt_tokens").as_int64() == 2);
  CHECK(o.at("usage").at("completion_tokens").as_int64() == 6);
  CHECK(o.at("usage").at("total_tokens").as_int64() == 8);
  CHECK(fe.seen[0].max_tokens == 62);  // n_ctx 64 - 2 prompt tokens
}

TEST_CASE("run_completion: a stop string cancels generation") {
  FakeEngine fe;
  fe.script = {1, 6, 6, 2, 2, 2};
  auto req = parse(R"({"prompt": "x", "stop": "\n\n", "logprobs": 1})", ApiKind::kCompletion);
  http::Response resp;
  run_completion(req, {1}, meta_for(req), fe.backend(), resp);
  json::object o = json::parse(resp.body()).as_object();
  const json::object& c = o.at("choices").as_array()[0].as_object();
  CHECK(c.at("text").as_string() == "Hello");
  CHECK(c.at("finish_reason").as_string() == "stop");
  CHECK(c.at("logprobs").at("tokens").as_array() == json::array{"Hello"});
  CHECK(o.at("usage").at("completion_tokens").as_int64() == 3);  // generation stopped at the 3rd token
}

TEST_CASE("run_completion: chat stream framing") {
  FakeEngine fe;
  fe.script = {1, 3, 4, 5, 7};
  auto req = parse(R"({"messages": [{"role": "user", "content": "hi"}], "stream": true, "n": 2,
                      "stream_options": {"include_usage": true}})",
                   ApiKind::kChatCompletion);
  http::Response resp;
  CHECK(run_completion(req, {1}, meta_for(req), fe.backend(), resp) == 200);
  CHECK(resp.streaming());
  CHECK(resp.ended());
  CHECK(resp.headers().get_or("Content-Type", "") == "text/event-stream");
  std::vector<std::string> events = sse_payloads(resp.body());
  REQUIRE(events.size() >= 4);
  CHECK(events.back() == "[DONE]");
  std::string text[2];
  int roles[2] = {0, 0};
  int finishes[2] = {0, 0};
  std::string id;
  for (size_t e = 0; e + 2 < events.size(); ++e) {
    json::object o = json::parse(events[e]).as_object();
    CHECK(o.at("object").as_string() == "chat.completion.chunk");
    if (id.empty()) id = std::string(o.at("id").as_string());
    CHECK(o.at("id").as_string() == id);
    CHECK(o.at("usage").is_null());
    const json::object& c = o.at("choices").as_array()[0].as_object();
    const int i = static_cast<int>(c.at("index").as_int64());
    const json::object& delta = c.at("delta").as_object();
    if (delta.contains("role")) {
      CHECK(roles[i] == 0);
      CHECK(text[i].empty());
      ++roles[i];
    } else {
      CHECK(roles[i] == 1);  // role only in the first chunk
    }
    if (delta.contains("content")) text[i] += delta.at("content").as_string();
    if (!c.at("finish_reason").is_null()) {
      CHECK(delta.empty());
      CHECK(c.at("finish_reason").as_string() == "stop");
      ++finishes[i];
    }
  }
  for (int i = 0; i < 2; ++i) {
    CHECK(text[i] == "Hello\xE4\xBD\xA0!");
    CHECK(finishes[i] == 1);
  }
  json::object usage = json::parse(events[events.size() - 2]).as_object();
  CHECK(usage.at("choices").as_array().empty());
  CHECK(usage.at("usage").at("completion_tokens").as_int64() == 10);
}

TEST_CASE("run_completion: completion stream without usage ends with finish and [DONE]") {
  FakeEngine fe;
  fe.script = {1, 2, 3};  // ends inside a character: U+FFFD in the last text
  auto req = parse(R"({"prompt": "x", "stream": true})", ApiKind::kCompletion);
  http::Response resp;
  run_completion(req, {1}, meta_for(req), fe.backend(), resp);
  std::vector<std::string> events = sse_payloads(resp.body());
  REQUIRE(events.size() >= 3);
  CHECK(events.back() == "[DONE]");
  std::string text;
  for (size_t e = 0; e + 1 < events.size(); ++e) {
    json::object o = json::parse(events[e]).as_object();
    CHECK(o.at("object").as_string() == "text_completion");
    CHECK_FALSE(o.contains("usage"));
    text += o.at("choices").as_array()[0].at("text").as_string();
  }
  CHECK(text == "Hello world\xEF\xBF\xBD");
  json::object last = json::parse(events[events.size() - 2]).as_object();
  CHECK(last.at("choices").as_array()[0].at("finish_reason").as_string() == "stop");
}

TEST_CASE("run_completion: engine errors become OpenAI errors") {
  struct Case {
    Status engine;
    int http;
    std::string code;
  };
  const std::vector<Case> cases = {
      {Status::exhausted("64 requests waiting"), 429, "queue_full"},
      {Status::too_large("prompt does not fit"), 400, "context_length_exceeded"},
      {Status::invalid_argument("token 999 out of range"), 400, ""},
      {Status::internal("boom"), 500, ""},
  };
  for (const auto& c : cases) {
    CAPTURE(c.engine.to_string());
    for (bool stream : {false, true}) {
      FakeEngine fe;
      fe.fail = c.engine;
      auto req = parse(stream ? R"({"prompt": "x", "stream": true})" : R"({"prompt": "x"})",
                       ApiKind::kCompletion);
      http::Response resp;
      CHECK(run_completion(req, {1}, meta_for(req), fe.backend(), resp) == c.http);
      CHECK(resp.status() == c.http);
      CHECK_FALSE(resp.streaming());
      json::object o = json::parse(resp.body()).as_object();
      CHECK(o.at("error").at("message").as_string().size() > 0);
      if (!c.code.empty()) CHECK(o.at("error").at("code").as_string() == c.code);
    }
  }
}

TEST_CASE("run_completion: prompt longer than the context is 400 context_length_exceeded") {
  FakeEngine fe;
  fe.script = {1};
  auto req = parse(R"({"messages": [{"role": "user", "content": "x"}]})", ApiKind::kChatCompletion);
  http::Response resp;
  CHECK(run_completion(req, std::vector<int32_t>(8, 1), meta_for(req), fe.backend(8), resp) == 400);
  json::object o = json::parse(resp.body()).as_object();
  CHECK(o.at("error").at("code").as_string() == "context_length_exceeded");
  CHECK(o.at("error").at("param").as_string() == "messages");
  CHECK(fe.seen.empty());
}

TEST_CASE("run_completion: a client gone while queued cancels the request") {
  GenerationBackend b;
  b.piece = piece;
  b.n_ctx = 64;
  std::atomic<bool> saw_cancel{false};
  b.generate = [&](const GenerateRequest& req, const TokenCallback&) -> Result<GenerateResult> {
    // "Queued": wait until cancelled (or give up after 5 s).
    for (int i = 0; i < 500 && !req.cancel->load(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    saw_cancel = req.cancel->load();
    GenerateResult r;
    r.finish = FinishReason::kCancelled;
    return r;
  };
  auto req = parse(R"({"prompt": "x", "stream": true})", ApiKind::kCompletion);
  http::Response resp;
  std::thread gone([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    resp.mark_client_gone();
  });
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(run_completion(req, {1}, meta_for(req), b, resp) == 499);
  gone.join();
  CHECK(saw_cancel.load());
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));
  CHECK(resp.body().empty());
}

TEST_CASE("run_completion: observer sees first token, intervals and usage") {
  FakeEngine fe;
  fe.script = {1, 2, 7};
  auto req = parse(R"({"prompt": "x"})", ApiKind::kCompletion);
  int firsts = 0, intervals = 0;
  Usage seen;
  RunObserver obs;
  obs.first_token = [&](double s) { ++firsts; CHECK(s >= 0); };
  obs.token_interval = [&](double s) { ++intervals; CHECK(s >= 0); };
  obs.finished = [&](const Usage& u, double) { seen = u; };
  http::Response resp;
  run_completion(req, {1, 1}, meta_for(req), fe.backend(), resp, obs);
  CHECK(firsts == 1);
  CHECK(intervals == 2);
  CHECK(seen.prompt_tokens == 2);
  CHECK(seen.completion_tokens == 3);
}

TEST_CASE("run_completion: n choices run at the same time") {
  // Each generation waits until all three have started: run one after
  // another, they would never finish (the test would time out after 5 s).
  std::atomic<int> started{0}, finished{0};
  GenerationBackend b;
  b.piece = piece;
  b.n_ctx = 64;
  b.generate = [&](const GenerateRequest&, const TokenCallback& cb) -> Result<GenerateResult> {
    started.fetch_add(1);
    for (int i = 0; i < 500 && started.load() < 3; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (started.load() < 3) return Status::internal("choices ran one after another");
    TokenEvent ev;
    ev.token = 1;
    cb(ev);
    GenerateResult r;
    r.prompt_tokens = 4;
    r.completion_tokens = 1;
    r.cached_prompt_tokens = finished.fetch_add(1) == 0 ? 3 : 4;  // the smallest is reported
    return r;
  };
  auto req = parse(R"({"prompt": "x", "n": 3})", ApiKind::kCompletion);
  http::Response resp;
  REQUIRE(run_completion(req, {1, 2, 3, 4}, meta_for(req), b, resp) == 200);
  json::object o = json::parse(resp.body()).as_object();
  CHECK(o.at("choices").as_array().size() == 3);
  CHECK(o.at("usage").at("completion_tokens").as_int64() == 3);
  CHECK(o.at("usage").at("prompt_tokens_details").at("cached_tokens").as_int64() == 3);
}

TEST_CASE("run_completion: cached prompt tokens are reported; a full queue is 429 with Retry-After") {
  FakeEngine fe;
  fe.script = {1, 7};
  GenerationBackend b = fe.backend();
  auto inner = b.generate;
  b.generate = [inner](const GenerateRequest& g, const TokenCallback& cb) -> Result<GenerateResult> {
    auto r = inner(g, cb);
    if (r.is_ok()) r->cached_prompt_tokens = 1;
    return r;
  };
  auto req = parse(R"({"prompt": "x", "stream": true, "stream_options": {"include_usage": true}})",
                   ApiKind::kCompletion);
  http::Response resp;
  REQUIRE(run_completion(req, {1, 2}, meta_for(req), b, resp) == 200);
  std::vector<std::string> events = sse_payloads(resp.body());
  REQUIRE(events.size() >= 2);
  json::object usage = json::parse(events[events.size() - 2]).as_object();
  CHECK(usage.at("usage").at("prompt_tokens_details").at("cached_tokens").as_int64() == 1);

  fe.fail = Status::exhausted("the request queue is full (4 waiting)");
  for (int n : {1, 2}) {
    auto r2 = parse(R"({"prompt": "x", "stream": true, "n": )" + std::to_string(n) + "}", ApiKind::kCompletion);
    http::Response busy;
    CHECK(run_completion(r2, {1}, meta_for(r2), fe.backend(), busy) == 429);
    CHECK_FALSE(busy.streaming());
    CHECK(busy.headers().get_or("Retry-After", "") == "1");
    json::object e = json::parse(busy.body()).as_object();
    CHECK(e.at("error").at("type").as_string() == "rate_limit_error");
    CHECK(e.at("error").at("code").as_string() == "queue_full");
  }
}

}  // namespace
}  // namespace scn::inference
