// The OpenAI-compatible API as pure functions: parsing and validating request
// bodies, and building response bodies and SSE chunks. No sockets, no engine.
//
// Contract:
//  - parse_*() take the raw HTTP body. Malformed JSON, a body that is not an
//    object, a missing required field or a field of the wrong type is a 400
//    (invalid_request_error) whose message and `param` name the field; a
//    well-typed value this server does not support (n=0, temperature=-1,
//    tools, response_format other than text, echo, ...) is a 400 or 422 as
//    listed beside each field in openai_request.cpp. Unknown fields are
//    ignored, as llama.cpp does. Strings must be valid UTF-8 (Boost.JSON
//    rejects invalid UTF-8 in the body; escaped lone surrogates are 400).
//  - Every error is an ApiError, serialised as
//    {"error": {"type", "message", "param"?, "code"?}} with its HTTP status.
//  - The builders emit exactly OpenAI's shapes: chat.completion,
//    chat.completion.chunk (role only in a choice's first delta), text_completion
//    (also for chunks), the usage-only final chunk (choices: []) and
//    "data: [DONE]". Text handed to them is valid UTF-8 (see text_stream.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "common/status.h"
#include "inference/engine/engine.h"
#include "inference/tokenizer/chat_template.h"  // ChatMessage

namespace scn::inference {

// ---- errors -----------------------------------------------------------------

struct ApiError {
  Status status;        // its code gives the HTTP status and the error type
  std::string param;    // the offending request field ("" when none)
  std::string code;     // a machine-readable code, e.g. "model_not_found" ("" when none)

  ApiError() = default;
  ApiError(Status s, std::string param_name = {}, std::string error_code = {})
      : status(std::move(s)), param(std::move(param_name)), code(std::move(error_code)) {}

  int http_status() const { return status.http_status(); }
  // {"error": {"type": ..., "message": ..., "param": ..., "code": ...}}; param
  // and code are null when empty, as OpenAI sends them.
  std::string to_json() const;
};

// A value or an ApiError.
template <typename T>
class ApiResult {
 public:
  ApiResult(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  ApiResult(ApiError error) : v_(std::move(error)) {}  // NOLINT
  bool ok() const { return v_.index() == 0; }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  const ApiError& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, ApiError> v_;
};

// ---- requests -------------------------------------------------------------------

enum class ApiKind { kCompletion, kChatCompletion };

struct CompletionRequest {
  ApiKind kind = ApiKind::kCompletion;
  std::string model;                       // "" when the request names none
  // /v1/completions: the prompt as text, or as token ids.
  std::string prompt_text;
  std::vector<int32_t> prompt_tokens;
  bool prompt_is_tokens = false;
  // /v1/chat/completions: roles system/user/assistant ("developer" is read
  // as "system"), content parts joined.
  std::vector<ChatMessage> messages;

  std::optional<int> max_tokens;           // max_tokens / max_completion_tokens
  SamplingParams sampling;                 // temperature defaults to 1 as in OpenAI
  std::vector<std::string> stop;           // at most 4, non-empty
  int n = 1;                               // 1..8
  bool logprobs = false;                   // report the chosen tokens' logprobs
  int top_logprobs = 0;                    // alternatives per token (0..20)
  bool stream = false;
  bool include_usage = false;              // stream_options.include_usage
  bool ignore_eos = false;                 // end-of-generation tokens do not stop (llama.cpp)
};

inline constexpr int kMaxChoices = 8;
inline constexpr int kMaxStopStrings = 4;
inline constexpr int kMaxTopLogprobs = 20;

ApiResult<CompletionRequest> parse_completion_request(std::string_view body, ApiKind kind);

struct TokenizeRequest {
  std::string content;
  bool add_special = false;  // add BOS/EOS as the model's metadata says (llama.cpp's default)
  bool parse_special = true; // special-token text becomes special tokens
};
ApiResult<TokenizeRequest> parse_tokenize_request(std::string_view body);

// {"tokens": [ids]}; ids are checked against the vocabulary by the caller.
ApiResult<std::vector<int32_t>> parse_detokenize_request(std::string_view body);

// The seed of choice `index` of a request: seed + index, so that n choices
// differ and the same request repeats exactly. Without a seed: none.
std::optional<uint64_t> choice_seed(const SamplingParams& p, int index);

// ---- responses --------------------------------------------------------------------

// One alternative at one position.
struct LogprobAlt {
  std::string token;   // its text (valid UTF-8, U+FFFD for partial bytes)
  std::string bytes;   // its raw bytes
  float logprob = 0.f;
};

// The chosen token at one position, with its alternatives.
struct LogprobEntry {
  LogprobAlt chosen;
  std::vector<LogprobAlt> top;
  size_t text_offset = 0;  // where its text starts in the choice's text
};

// Serialised as {"prompt_tokens", "completion_tokens", "total_tokens",
// "prompt_tokens_details": {"cached_tokens"}} (OpenAI's shape).
struct Usage {
  int prompt_tokens = 0;
  int completion_tokens = 0;
  int cached_tokens = 0;  // prompt tokens whose K/V came from the prefix cache
};

struct ChoiceResult {
  std::string text;
  FinishReason finish = FinishReason::kStop;
  std::vector<LogprobEntry> logprobs;
};

// What every body of one response shares.
struct ResponseMeta {
  ApiKind kind = ApiKind::kCompletion;
  std::string id;          // "chatcmpl-..." / "cmpl-..."
  int64_t created = 0;     // unix seconds
  std::string model;
  bool logprobs = false;   // the request asked for logprobs
  bool include_usage = false;
};

// A fresh response id with the kind's prefix.
std::string make_response_id(ApiKind kind);
// "stop" / "length" (a cancelled generation reports "stop").
std::string_view finish_reason_name(FinishReason f);

// The complete (non-streaming) body.
std::string completion_body(const ResponseMeta& meta, const std::vector<ChoiceResult>& choices,
                            const Usage& usage);

// One streamed chunk of choice `index`. For chat, `first` adds
// role "assistant" to the delta. `finish` set: the choice's last chunk.
std::string chunk_body(const ResponseMeta& meta, int index, bool first, std::string_view text,
                       const std::vector<LogprobEntry>& logprobs,
                       std::optional<FinishReason> finish);
// The final usage chunk (choices: []).
std::string usage_chunk_body(const ResponseMeta& meta, const Usage& usage);

// "data: <json>\n\n"
std::string sse_event(std::string_view json);
inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";

// GET /v1/models
std::string models_body(const std::string& model_id, int64_t created, int64_t n_ctx);

}  // namespace scn::inference
