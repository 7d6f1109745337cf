#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "inference/server/choice_builder.h"
#include "inference/server/openai_api.h"

namespace scn::inference {
namespace {
namespace json = boost::json;

json::object parse(const std::string& s) { return json::parse(s).as_object(); }

ResponseMeta meta(ApiKind kind, bool logprobs = false, bool include_usage = false) {
  ResponseMeta m;
  m.kind = kind;
  m.id = make_response_id(kind);
  m.created = 1700000000;
  m.model = "stories260K";
  m.logprobs = logprobs;
  m.include_usage = include_usage;
  return m;
}

TEST_CASE("ApiError::to_json has OpenAI's shape") {
  ApiError e(Status::not_found("the model 'x' does not exist"), "model", "model_not_found");
  json::object o = parse(e.to_json());
  const json::object& err = o.at("error").as_object();
  CHECK(err.at("type").as_string() == "not_found_error");
  CHECK(err.at("message").as_string() == "the model 'x' does not exist");
  CHECK(err.at("param").as_string() == "model");
  CHECK(err.at("code").as_string() == "model_not_found");
  CHECK(e.http_status() == 404);

  json::object plain = parse(ApiError(Status::invalid_argument("bad")).to_json());
  CHECK(plain.at("error").at("param").is_null());
  CHECK(plain.at("error").at("code").is_null());
  CHECK(plain.at("error").at("type").as_string() == "invalid_request_error");
}

TEST_CASE("make_response_id and finish_reason_name") {
  CHECK(make_response_id(ApiKind::kChatCompletion).rfind("chatcmpl-", 0) == 0);
  CHECK(make_response_id(ApiKind::kCompletion).rfind("cmpl-", 0) == 0);
  CHECK(make_response_id(ApiKind::kCompletion) != make_response_id(ApiKind::kCompletion));
  CHECK(finish_reason_name(FinishReason::kStop) == "stop");
  CHECK(finish_reason_name(FinishReason::kLength) == "length");
}

std::vector<LogprobEntry> two_entries() {
  LogprobEntry a;
  a.chosen = {"Hi", "Hi", -0.5f};
  a.top = {{"Hi", "Hi", -0.5f}, {"\xEF\xBF\xBD", "\xE4", -2.f}};
  a.text_offset = 0;
  LogprobEntry b;
  b.chosen = {"!", "!", -0.25f};
  b.text_offset = 2;
  return {a, b};
}

TEST_CASE("completion_body: chat.completion") {
  std::vector<ChoiceResult> choices(2);
  choices[0].text = "Hi!";
  choices[0].finish = FinishReason::kLength;
  choices[0].logprobs = two_entries();
  choices[1].text = "Yo";
  json::object o = parse(completion_body(meta(ApiKind::kChatCompletion, true), choices, {5, 3}));
  CHECK(o.at("object").as_string() == "chat.completion");
  CHECK(o.at("model").as_string() == "stories260K");
  CHECK(o.at("created").as_int64() == 1700000000);
  const json::array& cs = o.at("choices").as_array();
  REQUIRE(cs.size() == 2);
  CHECK(cs[0].at("index").as_int64() == 0);
  CHECK(cs[1].at("index").as_int64() == 1);
  CHECK(cs[0].at("message").at("role").as_string() == "assistant");
  CHECK(cs[0].at("message").at("content").as_string() == "Hi!");
  CHECK(cs[0].at("finish_reason").as_string() == "length");
  CHECK(cs[1].at("finish_reason").as_string() == "stop");
  const json::array& content = cs[0].at("logprobs").at("content").as_array();
  REQUIRE(content.size() == 2);
  CHECK(content[0].at("token").as_string() == "Hi");
  CHECK(content[0].at("logprob").as_double() == doctest::Approx(-0.5));
  CHECK(content[0].at("bytes").as_array() == json::array{72, 105});
  const json::array& top = content[0].at("top_logprobs").as_array();
  REQUIRE(top.size() == 2);
  CHECK(top[1].at("bytes").as_array() == json::array{0xE4});
  CHECK(content[1].at("top_logprobs").as_array().empty());
  const json::object& usage = o.at("usage").as_object();
  CHECK(usage.at("prompt_tokens").as_int64() == 5);
  CHECK(usage.at("completion_tokens").as_int64() == 3);
  CHECK(usage.at("total_tokens").as_int64() == 8);
  CHECK(usage.at("prompt_tokens_details").at("cached_tokens").as_int64() == 0);
}

TEST_CASE("completion_body: text_completion with legacy logprobs") {
  std::vector<ChoiceResult> choices(1);
  choices[0].text = "Hi!";
  choices[0].logprobs = two_entries();
  json::object o = parse(completion_body(meta(ApiKind::kCompletion, true), choices, {1, 2}));
  CHECK(o.at("object").as_string() == "text_completion");
  const json::object& c = o.at("choices").as_array()[0].as_object();
  CHECK(c.at("text").as_string() == "Hi!");
  CHECK_FALSE(c.contains("message"));
  const json::object& lp = c.at("logprobs").as_object();
  CHECK(lp.at("tokens").as_array() == json::array{"Hi", "!"});
  CHECK(lp.at("token_logprobs").as_array()[1].as_double() == doctest::Approx(-0.25));
  CHECK(lp.at("text_offset").as_array() == json::array{0, 2});
  const json::object& top0 = lp.at("top_logprobs").as_array()[0].as_object();
  CHECK(top0.size() == 2);
  CHECK(top0.at("Hi").as_double() == doctest::Approx(-0.5));

  json::object no_lp = parse(completion_body(meta(ApiKind::kCompletion, false), choices, {1, 2}));
  CHECK(no_lp.at("choices").as_array()[0].at("logprobs").is_null());
}

TEST_CASE("chunk_body: chat chunks frame like OpenAI") {
  auto m = meta(ApiKind::kChatCompletion, false, true);
  json::object first = parse(chunk_body(m, 0, true, "", {}, std::nullopt));
  CHECK(first.at("object").as_string() == "chat.completion.chunk");
  CHECK(first.at("usage").is_null());
  const json::object& c0 = first.at("choices").as_array()[0].as_object();
  CHECK(c0.at("delta").at("role").as_string() == "assistant");
  CHECK(c0.at("delta").at("content").as_string() == "");
  CHECK(c0.at("finish_reason").is_null());
  CHECK(c0.at("logprobs").is_null());

  json::object mid = parse(chunk_body(m, 1, false, "abc", {}, std::nullopt));
  const json::object& c1 = mid.at("choices").as_array()[0].as_object();
  CHECK(c1.at("index").as_int64() == 1);
  CHECK_FALSE(c1.at("delta").as_object().contains("role"));
  CHECK(c1.at("delta").at("content").as_string() == "abc");

  json::object last = parse(chunk_body(m, 0, false, "", {}, FinishReason::kStop));
  const json::object& c2 = last.at("choices").as_array()[0].as_object();
  CHECK(c2.at("delta").as_object().empty());
  CHECK(c2.at("finish_reason").as_string() == "stop");

  json::object usage = parse(usage_chunk_body(m, {5, 48, 4}));
  CHECK(usage.at("choices").as_array().empty());
  CHECK(usage.at("usage").at("total_tokens").as_int64() == 53);
  CHECK(usage.at("usage").at("prompt_tokens_details").at("cached_tokens").as_int64() == 4);
  CHECK(usage.at("id") == first.at("id"));

  json::object no_usage = parse(chunk_body(meta(ApiKind::kChatCompletion), 0, false, "x", {}, std::nullopt));
  CHECK_FALSE(no_usage.contains("usage"));
}

TEST_CASE("chunk_body: text_completion chunks") {
  auto m = meta(ApiKind::kCompletion, true);
  json::object c = parse(chunk_body(m, 0, true, "Once", two_entries(), std::nullopt));
  CHECK(c.at("object").as_string() == "text_completion");
  const json::object& ch = c.at("choices").as_array()[0].as_object();
  CHECK(ch.at("text").as_string() == "Once");
  CHECK(ch.at("logprobs").at("tokens").as_array().size() == 2);
  CHECK(ch.at("finish_reason").is_null());
}

TEST_CASE("sse_event, kSseDone and models_body") {
  CHECK(sse_event("{\"a\":1}") == "data: {\"a\":1}\n\n");
  CHECK(kSseDone == "data: [DONE]\n\n");
  json::object o = parse(models_body("stories", 5, 512));
  CHECK(o.at("object").as_string() == "list");
  const json::object& m = o.at("data").as_array()[0].as_object();
  CHECK(m.at("id").as_string() == "stories");
  CHECK(m.at("object").as_string() == "model");
  CHECK(m.at("owned_by").as_string() == "scn");
}

// A tiny SPM-like vocabulary: byte tokens and a few words.
std::string piece(int32_t id) {
  static const std::map<int32_t, std::string> kPieces = {
      {1, "Hello"}, {2, " world"}, {3, "\xE4"}, {4, "\xBD"}, {5, "\xA0"}, {6, "\n"},
      {7, "\n"},    {8, "!"},      {9, ""}};
  return kPieces.at(id);
}

TokenEvent ev(int32_t id, float lp = -1.f) {
  TokenEvent e;
  e.token = id;
  e.logprob = lp;
  e.top = {{id, lp}, {8, -3.f}};
  return e;
}

TEST_CASE("ChoiceBuilder: byte tokens, logprob entries and offsets") {
  ChoiceBuilder b({}, piece, true);
  ChoiceDelta d1 = b.on_token(ev(1));
  CHECK(d1.text == "Hello");
  REQUIRE(d1.logprobs.size() == 1);
  CHECK(d1.logprobs[0].text_offset == 0);
  CHECK(d1.logprobs[0].top.size() == 2);
  CHECK(d1.logprobs[0].top[1].token == "!");
  ChoiceDelta d2 = b.on_token(ev(3));
  CHECK(d2.empty());  // incomplete character: neither text nor its entry yet
  CHECK(b.on_token(ev(4)).empty());
  ChoiceDelta d4 = b.on_token(ev(5));
  CHECK(d4.text == "\xE4\xBD\xA0");
  REQUIRE(d4.logprobs.size() == 3);
  for (const auto& e : d4.logprobs) CHECK(e.text_offset == 5);
  CHECK(d4.logprobs[0].chosen.token == "\xEF\xBF\xBD");
  CHECK(d4.logprobs[0].chosen.bytes == "\xE4");
  ChoiceDelta d5 = b.on_token(ev(9));  // a token without text
  CHECK(d5.empty());
  ChoiceDelta end = b.finish();
  CHECK(end.text.empty());
  CHECK(end.logprobs.size() == 1);  // released at the end
  CHECK(b.text() == "Hello\xE4\xBD\xA0");
  CHECK(b.logprobs().size() == 5);
  CHECK_FALSE(b.stopped());
}

TEST_CASE("ChoiceBuilder: a stop string drops its tokens' entries") {
  ChoiceBuilder b({"\n\n"}, piece, true);
  CHECK(b.on_token(ev(1)).text == "Hello");
  CHECK(b.on_token(ev(6)).empty());  // "\n" could start the stop string
  ChoiceDelta d = b.on_token(ev(7));
  CHECK(d.text.empty());
  CHECK(d.logprobs.empty());
  CHECK(b.stopped());
  CHECK(b.on_token(ev(2)).empty());
  ChoiceDelta end = b.finish();
  CHECK(end.empty());
  CHECK(b.text() == "Hello");
  CHECK(b.logprobs().size() == 1);
}

TEST_CASE("ChoiceBuilder: an incomplete character at the end becomes U+FFFD") {
  ChoiceBuilder b({}, piece, false);
  CHECK(b.on_token(ev(8)).text == "!");
  CHECK(b.on_token(ev(3)).empty());
  ChoiceDelta end = b.finish();
  CHECK(end.text == "\xEF\xBF\xBD");
  CHECK(end.logprobs.empty());
  CHECK(b.text() == "!\xEF\xBF\xBD");
}

}  // namespace
}  // namespace scn::inference
