// Fuzz target: the OpenAI request parsers of `scn infer`
// (inference/server/openai_request.cpp): the body as /v1/completions,
// /v1/chat/completions, /tokenize and /detokenize. A parser answers a value
// or a 4xx ApiError, never anything else; parsed values respect the
// documented ranges.
#include <string_view>

#include "inference/server/openai_api.h"
#include "tests/fuzz/fuzz_targets.h"

namespace scn::fuzz {

int openai_request_one_input(const uint8_t* data, size_t size) {
  using namespace scn::inference;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  for (ApiKind kind : {ApiKind::kCompletion, ApiKind::kChatCompletion}) {
    auto r = parse_completion_request(body, kind);
    if (!r.ok()) {
      const int st = r.error().http_status();
      if (st < 400 || st > 499) fuzz_fail("openai_request", "status " + std::to_string(st));
      continue;
    }
    const CompletionRequest& c = r.value();
    if (c.n < 1 || c.n > kMaxChoices) fuzz_fail("openai_request", "n out of range");
    if (c.stop.size() > static_cast<size_t>(kMaxStopStrings)) fuzz_fail("openai_request", "too many stops");
    for (const auto& s : c.stop)
      if (s.empty()) fuzz_fail("openai_request", "empty stop string");
    if (c.top_logprobs < 0 || c.top_logprobs > kMaxTopLogprobs)
      fuzz_fail("openai_request", "top_logprobs out of range");
    if (c.max_tokens && *c.max_tokens < 0) fuzz_fail("openai_request", "negative max_tokens");
    (void)choice_seed(c.sampling, c.n - 1);
  }
  auto t = parse_tokenize_request(body);
  if (!t.ok() && t.error().http_status() / 100 != 4) fuzz_fail("openai_request", "tokenize: not 4xx");
  auto d = parse_detokenize_request(body);
  if (!d.ok() && d.error().http_status() / 100 != 4) fuzz_fail("openai_request", "detokenize: not 4xx");
  return 0;
}

}  // namespace scn::fuzz

SCN_FUZZ_ENTRY(openai_request)
