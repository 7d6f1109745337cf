#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "inference/server/openai_api.h"

namespace scn::inference {
namespace {

TEST_CASE("parse_completion_request: a full completions request") {
  auto r = parse_completion_request(R"({
      "model": "stories", "prompt": "Once upon a time", "max_tokens": 48,
      "temperature": 0, "top_p": 0.9, "top_k": 40, "min_p": 0.05, "repeat_penalty": 1.1,
      "frequency_penalty": 0.5, "presence_penalty": -0.5, "seed": 42, "stop": ["\n", "END"],
      "n": 2, "logprobs": 5, "stream": true, "stream_options": {"include_usage": true},
      "ignore_eos": true, "user": "someone", "echo": false, "best_of": 1, "unknown_field": {"x": 1}})",
                                    ApiKind::kCompletion);
  REQUIRE(r.ok());
  const CompletionRequest& q = r.value();
  CHECK(q.kind == ApiKind::kCompletion);
  CHECK(q.model == "stories");
  CHECK(q.prompt_text == "Once upon a time");
  CHECK_FALSE(q.prompt_is_tokens);
  CHECK(q.max_tokens == 48);
  CHECK(q.sampling.temperature == 0.f);
  CHECK(q.sampling.top_p == doctest::Approx(0.9));
  CHECK(q.sampling.top_k == 40);
  CHECK(q.sampling.min_p == doctest::Approx(0.05));
  CHECK(q.sampling.repeat_penalty == doctest::Approx(1.1));
  CHECK(q.sampling.frequency_penalty == doctest::Approx(0.5));
  CHECK(q.sampling.presence_penalty == doctest::Approx(-0.5));
  CHECK(q.sampling.seed == 42u);
  CHECK(q.stop == std::vector<std::string>{"\n", "END"});
  CHECK(q.n == 2);
  CHECK(q.logprobs);
  CHECK(q.top_logprobs == 5);
  CHECK(q.stream);
  CHECK(q.include_usage);
  CHECK(q.ignore_eos);
}

TEST_CASE("parse_completion_request: defaults and prompt forms") {
  auto r = parse_completion_request(R"({"prompt": "x"})", ApiKind::kCompletion);
  REQUIRE(r.ok());
  CHECK(r.value().model.empty());
  CHECK_FALSE(r.value().max_tokens.has_value());
  CHECK(r.value().sampling.temperature == 1.f);
  CHECK(r.value().n == 1);
  CHECK_FALSE(r.value().logprobs);
  CHECK_FALSE(r.value().stream);
  CHECK(r.value().stop.empty());
  CHECK_FALSE(r.value().ignore_eos);

  auto one = parse_completion_request(R"({"prompt": ["hello"], "stop": "\n"})", ApiKind::kCompletion);
  REQUIRE(one.ok());
  CHECK(one.value().prompt_text == "hello");
  CHECK(one.value().stop == std::vector<std::string>{"\n"});

  auto ids = parse_completion_request(R"({"prompt": [1, 403, 407.0]})", ApiKind::kCompletion);
  REQUIRE(ids.ok());
  CHECK(ids.value().prompt_is_tokens);
  CHECK(ids.value().prompt_tokens == std::vector<int32_t>{1, 403, 407});

  auto nested = parse_completion_request(R"({"prompt": [[1, 2]]})", ApiKind::kCompletion);
  REQUIRE(nested.ok());
  CHECK(nested.value().prompt_tokens == std::vector<int32_t>{1, 2});

  auto nulls = parse_completion_request(R"({"prompt": "x", "temperature": null, "stop": null,
                                            "max_tokens": null, "seed": null})",
                                        ApiKind::kCompletion);
  REQUIRE(nulls.ok());
  CHECK(nulls.value().sampling.temperature == 1.f);
  CHECK_FALSE(nulls.value().sampling.seed.has_value());
}

TEST_CASE("parse_completion_request: chat messages") {
  auto r = parse_completion_request(R"({"model": "m", "messages": [
      {"role": "system", "content": "Be brief."},
      {"role": "developer", "content": "Really."},
      {"role": "user", "content": [{"type": "text", "text": "Hello "}, {"type": "text", "text": "there"}]},
      {"role": "assistant", "content": "Hi", "name": "bot"}],
      "logprobs": true, "top_logprobs": 3, "max_completion_tokens": 7, "max_tokens": 100,
      "response_format": {"type": "text"}, "tools": [], "tool_choice": "none", "logit_bias": {}})",
                                    ApiKind::kChatCompletion);
  REQUIRE(r.ok());
  const auto& m = r.value().messages;
  REQUIRE(m.size() == 4);
  CHECK(m[0].role == "system");
  CHECK(m[1].role == "system");
  CHECK(m[2].role == "user");
  CHECK(m[2].content == "Hello there");
  CHECK(m[3].content == "Hi");
  CHECK(r.value().logprobs);
  CHECK(r.value().top_logprobs == 3);
  CHECK(r.value().max_tokens == 7);
  CHECK_FALSE(r.value().ignore_eos);

  auto ignore = parse_completion_request(
      R"({"messages": [{"role": "user", "content": "hi"}], "ignore_eos": true})",
      ApiKind::kChatCompletion);
  REQUIRE(ignore.ok());
  CHECK(ignore.value().ignore_eos);
}

struct ErrorCase {
  const char* body;
  ApiKind kind;
  int status;
  const char* param;        // "" when none expected
  const char* in_message;   // a substring of the message
};

TEST_CASE("parse_completion_request: errors name the field") {
  constexpr auto C = ApiKind::kCompletion;
  constexpr auto H = ApiKind::kChatCompletion;
  const std::vector<ErrorCase> cases = {
      {"{", C, 400, "", "invalid JSON"},
      {"", C, 400, "", "invalid JSON"},
      {"[1]", C, 400, "", "expected a JSON object"},
      {"{\"prompt\": \"\xC3\x28\"}", C, 400, "", "not valid UTF-8"},
      {R"({"prompt": "\ud800"})", C, 400, "", "invalid JSON"},
      {R"({})", C, 400, "prompt", "'prompt' is required"},
      {R"({"prompt": 5})", C, 400, "prompt", "'prompt' must be"},
      {R"({"prompt": []})", C, 400, "prompt", "must not be empty"},
      {R"({"prompt": ["a", "b"]})", C, 422, "prompt", "several prompts"},
      {R"({"prompt": [1, "a"]})", C, 400, "prompt[1]", "integer token id"},
      {R"({"prompt": [1, -4]})", C, 400, "prompt[1]", "not a valid token id"},
      {R"({"prompt": "x", "model": 3})", C, 400, "model", "'model' must be a string"},
      {R"({"prompt": "x", "max_tokens": "10"})", C, 400, "max_tokens", "must be an integer, got a string"},
      {R"({"prompt": "x", "max_tokens": 0})", C, 400, "max_tokens", "between 1"},
      {R"({"prompt": "x", "max_tokens": 1.5})", C, 400, "max_tokens", "an integer"},
      {R"({"prompt": "x", "temperature": -1})", C, 400, "temperature", "between 0 and 2"},
      {R"({"prompt": "x", "temperature": 2.5})", C, 400, "temperature", "between 0 and 2"},
      {R"({"prompt": "x", "temperature": "hot"})", C, 400, "temperature", "must be a number"},
      {R"({"prompt": "x", "temperature": 1e400})", C, 400, "", "out of range"},  // refused by parse_json
      {R"({"prompt": "x", "top_p": 1.5})", C, 400, "top_p", "between 0 and 1"},
      {R"({"prompt": "x", "top_k": -1})", C, 400, "top_k", "between 0"},
      {R"({"prompt": "x", "min_p": 2})", C, 400, "min_p", "between 0 and 1"},
      {R"({"prompt": "x", "repeat_penalty": 0})", C, 400, "repeat_penalty", "between"},
      {R"({"prompt": "x", "frequency_penalty": 3})", C, 400, "frequency_penalty", "between -2 and 2"},
      {R"({"prompt": "x", "presence_penalty": -2.5})", C, 400, "presence_penalty", "between -2 and 2"},
      {R"({"prompt": "x", "seed": "abc"})", C, 400, "seed", "must be an integer"},
      {R"({"prompt": "x", "stop": 5})", C, 400, "stop", "a string or an array"},
      {R"({"prompt": "x", "stop": ["a", 1]})", C, 400, "stop[1]", "must be a string"},
      {R"({"prompt": "x", "stop": ["a", "b", "c", "d", "e"]})", C, 400, "stop", "at most 4"},
      {R"({"prompt": "x", "n": 0})", C, 400, "n", "between 1"},
      {R"({"prompt": "x", "n": 9})", C, 422, "n", "at most 8"},
      {R"({"prompt": "x", "n": "2"})", C, 400, "n", "an integer"},
      {R"({"prompt": "x", "logprobs": 21})", C, 400, "logprobs", "between 0 and 20"},
      {R"({"prompt": "x", "logprobs": true})", C, 400, "logprobs", "an integer"},
      {R"({"prompt": "x", "stream": "yes"})", C, 400, "stream", "a boolean"},
      {R"({"prompt": "x", "ignore_eos": 1})", C, 400, "ignore_eos", "a boolean"},
      {R"({"messages": [{"role": "user", "content": "hi"}], "ignore_eos": "true"})", H, 400,
       "ignore_eos", "a boolean"},
      {R"({"prompt": "x", "stream_options": {"include_usage": true}})", C, 400, "stream_options",
       "only allowed when 'stream' is true"},
      {R"({"prompt": "x", "stream": true, "stream_options": {"include_usage": 1}})", C, 400,
       "stream_options.include_usage", "a boolean"},
      {R"({"prompt": "x", "echo": true})", C, 422, "echo", "not supported"},
      {R"({"prompt": "x", "suffix": "end"})", C, 422, "suffix", "not supported"},
      {R"({"prompt": "x", "best_of": 3})", C, 422, "best_of", "not supported"},
      {R"({"prompt": "x", "logit_bias": {"50": 1}})", C, 422, "logit_bias", "not supported"},
      {R"({"prompt": "x", "user": 7})", C, 400, "user", "a string"},
      {R"({})", H, 400, "messages", "'messages' is required"},
      {R"({"messages": {}})", H, 400, "messages", "an array"},
      {R"({"messages": []})", H, 400, "messages", "must not be empty"},
      {R"({"messages": ["hi"]})", H, 400, "messages[0]", "an object"},
      {R"({"messages": [{"content": "hi"}]})", H, 400, "messages[0].role", "is required"},
      {R"({"messages": [{"role": "robot", "content": "hi"}]})", H, 400, "messages[0].role", "must be one of"},
      {R"({"messages": [{"role": "tool", "content": "hi"}]})", H, 422, "messages[0].role", "not supported"},
      {R"({"messages": [{"role": "user"}]})", H, 400, "messages[0].content", "is required"},
      {R"({"messages": [{"role": "user", "content": 5}]})", H, 400, "messages[0].content", "a string or an array"},
      {R"({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]})",
       H, 422, "messages[0].content[0].type", "not supported"},
      {R"({"messages": [{"role": "user", "content": [{"type": "text"}]}]})", H, 400,
       "messages[0].content[0].text", "is required"},
      {R"({"messages": [{"role": "user", "content": [{"type": "text", "text": 1}]}]})", H, 400,
       "text", "must be a string"},
      {R"({"messages": [{"role": "assistant", "content": "x", "tool_calls": [{}]}]})", H, 422,
       "messages[0].tool_calls", "not supported"},
      {R"({"messages": [{"role": "user", "content": "x"}], "logprobs": 1})", H, 400, "logprobs", "a boolean"},
      {R"({"messages": [{"role": "user", "content": "x"}], "top_logprobs": 2})", H, 400, "top_logprobs",
       "requires 'logprobs'"},
      {R"({"messages": [{"role": "user", "content": "x"}], "logprobs": true, "top_logprobs": 21})", H, 400,
       "top_logprobs", "between 0 and 20"},
      {R"({"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function"}]})", H, 422,
       "tools", "not supported"},
      {R"({"messages": [{"role": "user", "content": "x"}], "tool_choice": "auto"})", H, 422,
       "tool_choice", "not supported"},
      {R"({"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_object"}})", H, 422,
       "response_format", "not supported"},
      {R"({"messages": [{"role": "user", "content": "x"}], "response_format": "json"})", H, 400,
       "response_format", "an object"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.body);
    auto r = parse_completion_request(c.body, c.kind);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().http_status() == c.status);
    CHECK(r.error().param.find(c.param) != std::string::npos);
    if (std::string(c.param).empty()) CHECK(r.error().param.empty());
    CHECK(r.error().status.message().find(c.in_message) != std::string::npos);
  }
}

TEST_CASE("parse_tokenize_request and parse_detokenize_request") {
  auto t = parse_tokenize_request(R"({"content": "Hello", "add_special": true})");
  REQUIRE(t.ok());
  CHECK(t.value().content == "Hello");
  CHECK(t.value().add_special);
  CHECK(t.value().parse_special);
  auto t2 = parse_tokenize_request(R"({"content": ""})");
  REQUIRE(t2.ok());
  CHECK_FALSE(t2.value().add_special);

  struct Case {
    const char* body;
    bool tokenize;
    const char* param;
  };
  const std::vector<Case> errors = {
      {R"({})", true, "content"},
      {R"({"content": 1})", true, "content"},
      {R"({"content": "x", "add_special": "yes"})", true, "add_special"},
      {R"(nope)", true, ""},
      {R"({})", false, "tokens"},
      {R"({"tokens": "1 2"})", false, "tokens"},
      {R"({"tokens": [1, "2"]})", false, "tokens[1]"},
      {R"({"tokens": [1, -2]})", false, "tokens[1]"},
      {R"({"tokens": [1, 5000000000]})", false, "tokens[1]"},
  };
  for (const auto& e : errors) {
    CAPTURE(e.body);
    ApiError err = e.tokenize ? parse_tokenize_request(e.body).error()
                              : parse_detokenize_request(e.body).error();
    CHECK(err.http_status() == 400);
    CHECK(err.param == e.param);
  }
  auto d = parse_detokenize_request(R"({"tokens": [1, 403, 407]})");
  REQUIRE(d.ok());
  CHECK(d.value() == std::vector<int32_t>{1, 403, 407});
}

TEST_CASE("choice_seed derives one seed per choice") {
  SamplingParams p;
  CHECK_FALSE(choice_seed(p, 0).has_value());
  p.seed = 10;
  CHECK(choice_seed(p, 0) == 10u);
  CHECK(choice_seed(p, 3) == 13u);
}

}  // namespace
}  // namespace scn::inference
