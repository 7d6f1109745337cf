// Response bodies and SSE chunks of the OpenAI-compatible API.
#include <boost/json.hpp>

#include <random>

#include "inference/server/openai_api.h"

namespace scn::inference {
namespace json = boost::json;
namespace {

json::value str_or_null(const std::string& s) {
  return s.empty() ? json::value(nullptr) : json::value(s);
}

json::array byte_array(const std::string& bytes) {
  json::array a;
  a.reserve(bytes.size());
  for (char c : bytes) a.emplace_back(static_cast<int64_t>(static_cast<unsigned char>(c)));
  return a;
}

json::object chat_logprob_alt(const LogprobAlt& a) {
  return json::object{{"token", a.token}, {"logprob", a.logprob}, {"bytes", byte_array(a.bytes)}};
}

// Chat: {"content": [{token, logprob, bytes, top_logprobs: [...]}], "refusal": null}
json::object chat_logprobs(const std::vector<LogprobEntry>& entries) {
  json::array content;
  content.reserve(entries.size());
  for (const auto& e : entries) {
    json::object o = chat_logprob_alt(e.chosen);
    json::array top;
    for (const auto& t : e.top) top.emplace_back(chat_logprob_alt(t));
    o["top_logprobs"] = std::move(top);
    content.emplace_back(std::move(o));
  }
  return json::object{{"content", std::move(content)}, {"refusal", nullptr}};
}

// Completions: {"tokens", "token_logprobs", "top_logprobs": [{text: logprob}], "text_offset"}
json::object completion_logprobs(const std::vector<LogprobEntry>& entries) {
  json::array tokens, token_logprobs, top_logprobs, text_offset;
  for (const auto& e : entries) {
    tokens.emplace_back(e.chosen.token);
    token_logprobs.emplace_back(e.chosen.logprob);
    json::object top;
    for (const auto& t : e.top)
      if (!top.contains(t.token)) top[t.token] = t.logprob;
    top_logprobs.emplace_back(std::move(top));
    text_offset.emplace_back(static_cast<uint64_t>(e.text_offset));
  }
  return json::object{{"tokens", std::move(tokens)},
                      {"token_logprobs", std::move(token_logprobs)},
                      {"top_logprobs", std::move(top_logprobs)},
                      {"text_offset", std::move(text_offset)}};
}

json::value logprobs_value(const ResponseMeta& meta, const std::vector<LogprobEntry>& entries) {
  if (!meta.logprobs) return nullptr;
  return meta.kind == ApiKind::kChatCompletion ? json::value(chat_logprobs(entries))
                                               : json::value(completion_logprobs(entries));
}

json::object usage_object(const Usage& u) {
  return json::object{{"prompt_tokens", u.prompt_tokens},
                      {"completion_tokens", u.completion_tokens},
                      {"total_tokens", u.prompt_tokens + u.completion_tokens},
                      {"prompt_tokens_details", json::object{{"cached_tokens", u.cached_tokens}}}};
}

json::object envelope(const ResponseMeta& meta, bool chunk) {
  std::string_view object = meta.kind == ApiKind::kChatCompletion
                                ? (chunk ? "chat.completion.chunk" : "chat.completion")
                                : "text_completion";
  return json::object{{"id", meta.id}, {"object", object}, {"created", meta.created},
                      {"model", meta.model}};
}

}  // namespace

std::string ApiError::to_json() const {
  json::object err{{"type", status.error_type()},
                   {"message", status.message()},
                   {"param", str_or_null(param)},
                   {"code", str_or_null(code)}};
  return json::serialize(json::object{{"error", std::move(err)}});
}

std::string make_response_id(ApiKind kind) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::string id = kind == ApiKind::kChatCompletion ? "chatcmpl-" : "cmpl-";
  for (int i = 0; i < 24; ++i) id.push_back(kAlphabet[rng() % (sizeof kAlphabet - 1)]);
  return id;
}

std::string_view finish_reason_name(FinishReason f) {
  return f == FinishReason::kLength ? "length" : "stop";
}

std::string completion_body(const ResponseMeta& meta, const std::vector<ChoiceResult>& choices,
                            const Usage& usage) {
  json::object o = envelope(meta, false);
  json::array arr;
  for (size_t i = 0; i < choices.size(); ++i) {
    const ChoiceResult& c = choices[i];
    json::object ch{{"index", i}};
    if (meta.kind == ApiKind::kChatCompletion)
      ch["message"] = json::object{{"role", "assistant"}, {"content", c.text}, {"refusal", nullptr}};
    else
      ch["text"] = c.text;
    ch["logprobs"] = logprobs_value(meta, c.logprobs);
    ch["finish_reason"] = finish_reason_name(c.finish);
    arr.emplace_back(std::move(ch));
  }
  o["choices"] = std::move(arr);
  o["usage"] = usage_object(usage);
  return json::serialize(o);
}

std::string chunk_body(const ResponseMeta& meta, int index, bool first, std::string_view text,
                       const std::vector<LogprobEntry>& logprobs,
                       std::optional<FinishReason> finish) {
  json::object o = envelope(meta, true);
  json::object ch{{"index", index}};
  if (meta.kind == ApiKind::kChatCompletion) {
    json::object delta;
    if (first) delta["role"] = "assistant";
    if (first || !text.empty()) delta["content"] = text;
    ch["delta"] = std::move(delta);
  } else {
    ch["text"] = text;
  }
  ch["logprobs"] = logprobs.empty() ? json::value(nullptr) : logprobs_value(meta, logprobs);
  ch["finish_reason"] = finish ? json::value(finish_reason_name(*finish)) : json::value(nullptr);
  o["choices"] = json::array{std::move(ch)};
  if (meta.include_usage) o["usage"] = nullptr;
  return json::serialize(o);
}

std::string usage_chunk_body(const ResponseMeta& meta, const Usage& usage) {
  json::object o = envelope(meta, true);
  o["choices"] = json::array{};
  o["usage"] = usage_object(usage);
  return json::serialize(o);
}

std::string sse_event(std::string_view json_text) {
  std::string s;
  s.reserve(json_text.size() + 8);
  s += "data: ";
  s += json_text;
  s += "\n\n";
  return s;
}

std::string models_body(const std::string& model_id, int64_t created, int64_t n_ctx) {
  json::object m{{"id", model_id},
                 {"object", "model"},
                 {"created", created},
                 {"owned_by", "scn"},
                 {"meta", json::object{{"n_ctx", n_ctx}}}};
  return json::serialize(json::object{{"object", "list"}, {"data", json::array{std::move(m)}}});
}

}  // namespace scn::inference
