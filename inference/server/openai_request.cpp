// Parsing and validation of the request bodies of the OpenAI-compatible API.
//
// Status codes: wrong JSON types, missing fields and values outside the
// ranges OpenAI itself allows are 400; values OpenAI allows but this server
// does not support (n > 8, tools, tool messages, image parts, response_format
// other than text, logit_bias, echo, suffix, best_of > 1, several prompts in
// one request) are 422.
#include <boost/json.hpp>

#include <cmath>
#include <limits>

#include "common/json.h"
#include "inference/server/openai_api.h"

namespace scn::inference {
namespace json = boost::json;
namespace {

std::string_view type_name(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null: return "null";
    case json::kind::bool_: return "a boolean";
    case json::kind::int64:
    case json::kind::uint64: return "an integer";
    case json::kind::double_: return "a number";
    case json::kind::string: return "a string";
    case json::kind::array: return "an array";
    case json::kind::object: return "an object";
  }
  return "a value";
}

std::string fmt_num(double d) {
  std::string s = json::serialize(json::value(d));
  // "2E0" -> "2": readable bounds in messages.
  if (d == std::floor(d) && std::fabs(d) < 1e15) s = std::to_string(static_cast<long long>(d));
  return s;
}

// Reads typed fields of one JSON object, remembering the first error. Absent
// fields and null read as "not given".
class Reader {
 public:
  explicit Reader(const json::object& o) : o_(o) {}

  bool failed() const { return error_.has_value(); }
  const ApiError& error() const { return *error_; }

  void fail(Status s, std::string param, std::string code = {}) {
    if (!error_) error_.emplace(std::move(s), std::move(param), std::move(code));
  }
  void fail_type(const std::string& name, std::string_view expected, const json::value& got) {
    fail(Status::invalid_argument("'" + name + "' must be " + std::string(expected) + ", got " +
                                  std::string(type_name(got))),
         name);
  }
  void unsupported(const std::string& name, const std::string& what) {
    fail(Status::unprocessable("'" + name + "': " + what), name, "unsupported_parameter");
  }

  const json::value* find(std::string_view key) const {
    if (failed()) return nullptr;
    const json::value* v = o_.if_contains(key);
    return (v && !v->is_null()) ? v : nullptr;
  }

  std::optional<bool> boolean(const std::string& key) {
    const json::value* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_bool()) return fail_type(key, "a boolean", *v), std::nullopt;
    return v->get_bool();
  }

  std::optional<std::string> string(const std::string& key) {
    const json::value* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_string()) return fail_type(key, "a string", *v), std::nullopt;
    return std::string(v->get_string());
  }

  // A finite number within [lo, hi].
  std::optional<double> number(const std::string& key, double lo, double hi) {
    const json::value* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_number()) return fail_type(key, "a number", *v), std::nullopt;
    const double d = v->to_number<double>();
    if (!std::isfinite(d) || d < lo || d > hi) {
      fail(Status::invalid_argument("'" + key + "' must be between " + fmt_num(lo) + " and " +
                                    fmt_num(hi) + ", got " + json::serialize(*v)),
           key);
      return std::nullopt;
    }
    return d;
  }

  // An integer (integral doubles such as 5.0 count) within [lo, hi].
  std::optional<int64_t> integer(const std::string& key, int64_t lo, int64_t hi) {
    const json::value* v = find(key);
    if (!v) return std::nullopt;
    auto i = as_integer(*v);
    if (!i) return fail_type(key, "an integer", *v), std::nullopt;
    if (*i < lo || *i > hi) {
      fail(Status::invalid_argument("'" + key + "' must be between " + std::to_string(lo) +
                                    " and " + std::to_string(hi) + ", got " + json::serialize(*v)),
           key);
      return std::nullopt;
    }
    return *i;
  }

  static std::optional<int64_t> as_integer(const json::value& v) {
    if (v.is_int64()) return v.get_int64();
    if (v.is_uint64()) {
      if (v.get_uint64() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        return std::numeric_limits<int64_t>::max();
      return static_cast<int64_t>(v.get_uint64());
    }
    if (v.is_double()) {
      const double d = v.get_double();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15)
        return static_cast<int64_t>(d);
    }
    return std::nullopt;
  }

 private:
  const json::object& o_;
  std::optional<ApiError> error_;
};

// Parses the body as a JSON object (common/json.h: UTF-8 checked, depth
// limited, errors say where).
ApiResult<json::object> parse_object(std::string_view body) {
  auto obj = common::parse_json_object(body);
  if (!obj.is_ok())
    return ApiError(Status::invalid_argument("the request body is not valid: " + obj.status().message()));
  return std::move(obj).value();
}

// One token id from a JSON value ("name" for messages).
bool read_token(Reader& r, const json::value& v, const std::string& name, std::vector<int32_t>& out) {
  auto id = Reader::as_integer(v);
  if (!id) return r.fail_type(name, "an integer token id", v), false;
  if (*id < 0 || *id > std::numeric_limits<int32_t>::max()) {
    r.fail(Status::invalid_argument("'" + name + "' is not a valid token id: " + json::serialize(v)), name);
    return false;
  }
  out.push_back(static_cast<int32_t>(*id));
  return true;
}

void read_prompt(Reader& r, CompletionRequest& req) {
  const json::value* p = r.find("prompt");
  if (r.failed()) return;
  if (!p) return r.fail(Status::invalid_argument("'prompt' is required"), "prompt");
  if (p->is_string()) {
    req.prompt_text = std::string(p->get_string());
    return;
  }
  if (!p->is_array())
    return r.fail_type("prompt", "a string, an array of one string or an array of token ids", *p);
  const json::array& a = p->get_array();
  if (a.empty()) return r.fail(Status::invalid_argument("'prompt' must not be empty"), "prompt");
  if (a[0].is_string()) {
    if (a.size() > 1)
      return r.unsupported("prompt", "several prompts in one request are not supported; send one");
    req.prompt_text = std::string(a[0].get_string());
    return;
  }
  const json::array* ids = &a;
  std::string base = "prompt";
  if (a[0].is_array()) {
    if (a.size() > 1)
      return r.unsupported("prompt", "several prompts in one request are not supported; send one");
    ids = &a[0].get_array();
    base = "prompt[0]";
    if (ids->empty()) return r.fail(Status::invalid_argument("'prompt' must not be empty"), "prompt");
  }
  req.prompt_is_tokens = true;
  for (size_t i = 0; i < ids->size(); ++i)
    if (!read_token(r, (*ids)[i], base + "[" + std::to_string(i) + "]", req.prompt_tokens)) return;
}

void read_content(Reader& r, const json::value& c, const std::string& name, std::string& out) {
  if (c.is_string()) {
    out = std::string(c.get_string());
    return;
  }
  if (!c.is_array()) return r.fail_type(name, "a string or an array of content parts", c);
  const json::array& parts = c.get_array();
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string pname = name + "[" + std::to_string(i) + "]";
    if (!parts[i].is_object()) return r.fail_type(pname, "an object", parts[i]);
    Reader pr(parts[i].get_object());
    auto type = pr.string("type");
    if (!pr.failed() && !type)
      pr.fail(Status::invalid_argument("'" + pname + ".type' is required"), pname + ".type");
    if (pr.failed()) return r.fail(pr.error().status.with_context(pname), pname);
    if (*type == "image_url" || *type == "input_audio" || *type == "file")
      return r.unsupported(pname + ".type", "content parts of type '" + *type +
                                                "' are not supported (text only)");
    if (*type != "text")
      return r.fail(Status::invalid_argument("'" + pname + ".type' must be 'text', got '" + *type + "'"),
                    pname + ".type");
    auto text = pr.string("text");
    if (!pr.failed() && !text)
      pr.fail(Status::invalid_argument("'" + pname + ".text' is required"), pname + ".text");
    if (pr.failed()) return r.fail(pr.error().status, pr.error().param);
    out += *text;
  }
}

void read_messages(Reader& r, CompletionRequest& req) {
  const json::value* m = r.find("messages");
  if (r.failed()) return;
  if (!m) return r.fail(Status::invalid_argument("'messages' is required"), "messages");
  if (!m->is_array()) return r.fail_type("messages", "an array", *m);
  const json::array& a = m->get_array();
  if (a.empty()) return r.fail(Status::invalid_argument("'messages' must not be empty"), "messages");
  for (size_t i = 0; i < a.size(); ++i) {
    const std::string name = "messages[" + std::to_string(i) + "]";
    if (!a[i].is_object()) return r.fail_type(name, "an object", a[i]);
    const json::object& mo = a[i].get_object();
    Reader mr(mo);
    auto role = mr.string("role");
    if (mr.failed()) return r.fail(Status::invalid_argument("'" + name + ".role' must be a string"), name + ".role");
    if (!role) return r.fail(Status::invalid_argument("'" + name + ".role' is required"), name + ".role");
    if (*role == "developer") *role = "system";
    if (*role == "tool" || *role == "function")
      return r.unsupported(name + ".role", "messages with role '" + *role + "' are not supported");
    if (*role != "system" && *role != "user" && *role != "assistant")
      return r.fail(Status::invalid_argument("'" + name + ".role' must be one of system, user, "
                                             "assistant, got '" + *role + "'"),
                    name + ".role");
    if (mr.find("tool_calls") || mr.find("function_call"))
      return r.unsupported(name + ".tool_calls", "tool calls are not supported");
    const json::value* content = mr.find("content");
    if (!content)
      return r.fail(Status::invalid_argument("'" + name + ".content' is required"), name + ".content");
    ChatMessage msg;
    msg.role = *role;
    read_content(r, *content, name + ".content", msg.content);
    if (r.failed()) return;
    req.messages.push_back(std::move(msg));
  }
}

void read_stop(Reader& r, CompletionRequest& req) {
  const json::value* s = r.find("stop");
  if (!s) return;
  if (s->is_string()) {
    if (!s->get_string().empty()) req.stop.emplace_back(s->get_string());
    return;
  }
  if (!s->is_array()) return r.fail_type("stop", "a string or an array of strings", *s);
  const json::array& a = s->get_array();
  if (a.size() > static_cast<size_t>(kMaxStopStrings))
    return r.fail(Status::invalid_argument("'stop' holds at most " + std::to_string(kMaxStopStrings) +
                                           " strings, got " + std::to_string(a.size())),
                  "stop");
  for (size_t i = 0; i < a.size(); ++i) {
    if (!a[i].is_string()) return r.fail_type("stop[" + std::to_string(i) + "]", "a string", a[i]);
    if (!a[i].get_string().empty()) req.stop.emplace_back(a[i].get_string());
  }
}

// Fields OpenAI has and this server does not implement.
void reject_unsupported(Reader& r, ApiKind kind) {
  if (const json::value* t = r.find("tools")) {
    if (!t->is_array()) return r.fail_type("tools", "an array", *t);
    if (!t->get_array().empty()) return r.unsupported("tools", "tools are not supported");
  }
  if (const json::value* f = r.find("functions")) {
    if (!f->is_array()) return r.fail_type("functions", "an array", *f);
    if (!f->get_array().empty()) return r.unsupported("functions", "functions are not supported");
  }
  if (const json::value* tc = r.find("tool_choice")) {
    if (!(tc->is_string() && tc->get_string() == "none"))
      return r.unsupported("tool_choice", "tool choice is not supported (only \"none\")");
  }
  if (const json::value* rf = r.find("response_format")) {
    if (!rf->is_object()) return r.fail_type("response_format", "an object", *rf);
    Reader fr(rf->get_object());
    auto type = fr.string("type");
    if (fr.failed()) return r.fail(fr.error().status, "response_format.type");
    if (type && *type != "text")
      return r.unsupported("response_format", "response_format type '" + *type +
                                                  "' is not supported (only \"text\")");
  }
  if (const json::value* lb = r.find("logit_bias")) {
    if (!lb->is_object()) return r.fail_type("logit_bias", "an object", *lb);
    if (!lb->get_object().empty()) return r.unsupported("logit_bias", "logit_bias is not supported");
  }
  if (kind == ApiKind::kCompletion) {
    if (auto echo = r.boolean("echo"); echo && *echo)
      return r.unsupported("echo", "echo is not supported");
    if (auto suffix = r.string("suffix"); suffix && !suffix->empty())
      return r.unsupported("suffix", "suffix is not supported");
    if (auto best_of = r.integer("best_of", 1, 20); best_of && *best_of > 1)
      return r.unsupported("best_of", "best_of > 1 is not supported");
  }
  if (const json::value* mo = r.find("modalities")) {
    if (!mo->is_array()) return r.fail_type("modalities", "an array", *mo);
    for (const auto& x : mo->get_array())
      if (!(x.is_string() && x.get_string() == "text"))
        return r.unsupported("modalities", "only the text modality is supported");
  }
}

}  // namespace

ApiResult<CompletionRequest> parse_completion_request(std::string_view body, ApiKind kind) {
  auto obj = parse_object(body);
  if (!obj.ok()) return obj.error();
  const json::object& o = obj.value();
  Reader r(o);
  CompletionRequest req;
  req.kind = kind;

  if (auto model = r.string("model")) req.model = *model;
  if (kind == ApiKind::kCompletion)
    read_prompt(r, req);
  else
    read_messages(r, req);

  const int64_t kBig = std::numeric_limits<int32_t>::max();
  if (auto v = r.integer("max_tokens", 1, kBig)) req.max_tokens = static_cast<int>(*v);
  if (auto v = r.integer("max_completion_tokens", 1, kBig)) req.max_tokens = static_cast<int>(*v);
  if (auto v = r.number("temperature", 0, 2)) req.sampling.temperature = static_cast<float>(*v);
  if (auto v = r.number("top_p", 0, 1)) req.sampling.top_p = std::max(static_cast<float>(*v), 1e-6f);
  if (auto v = r.integer("top_k", 0, kBig)) req.sampling.top_k = static_cast<int>(*v);
  if (auto v = r.number("min_p", 0, 1)) req.sampling.min_p = static_cast<float>(*v);
  if (auto v = r.number("repeat_penalty", 1e-3, 100)) req.sampling.repeat_penalty = static_cast<float>(*v);
  if (auto v = r.integer("repeat_last_n", -1, kBig)) req.sampling.repeat_last_n = static_cast<int>(*v);
  if (auto v = r.number("frequency_penalty", -2, 2)) req.sampling.frequency_penalty = static_cast<float>(*v);
  if (auto v = r.number("presence_penalty", -2, 2)) req.sampling.presence_penalty = static_cast<float>(*v);
  if (const json::value* s = r.find("seed")) {
    if (s->is_int64())
      req.sampling.seed = static_cast<uint64_t>(s->get_int64());
    else if (s->is_uint64())
      req.sampling.seed = s->get_uint64();
    else if (auto i = Reader::as_integer(*s))
      req.sampling.seed = static_cast<uint64_t>(*i);
    else
      r.fail_type("seed", "an integer", *s);
  }
  read_stop(r, req);
  if (auto v = r.integer("n", 1, 128)) {
    if (*v > kMaxChoices)
      r.unsupported("n", "at most " + std::to_string(kMaxChoices) + " choices per request, got " +
                             std::to_string(*v));
    req.n = static_cast<int>(*v);
  }
  if (kind == ApiKind::kChatCompletion) {
    if (auto v = r.boolean("logprobs")) req.logprobs = *v;
    if (auto v = r.integer("top_logprobs", 0, kMaxTopLogprobs)) {
      req.top_logprobs = static_cast<int>(*v);
      if (!req.logprobs)
        r.fail(Status::invalid_argument("'top_logprobs' requires 'logprobs' to be true"), "top_logprobs");
    }
  } else if (auto v = r.integer("logprobs", 0, kMaxTopLogprobs)) {
    req.logprobs = true;
    req.top_logprobs = static_cast<int>(*v);
  }
  if (auto v = r.boolean("stream")) req.stream = *v;
  if (auto v = r.boolean("ignore_eos")) req.ignore_eos = *v;
  if (const json::value* so = r.find("stream_options")) {
    if (!so->is_object()) {
      r.fail_type("stream_options", "an object", *so);
    } else if (!req.stream) {
      r.fail(Status::invalid_argument("'stream_options' is only allowed when 'stream' is true"),
             "stream_options");
    } else {
      Reader sr(so->get_object());
      if (auto u = sr.boolean("include_usage")) req.include_usage = *u;
      if (sr.failed()) r.fail(sr.error().status.with_context("stream_options"), "stream_options.include_usage");
    }
  }
  r.string("user");  // accepted and ignored; only its type is checked
  reject_unsupported(r, kind);
  if (r.failed()) return r.error();
  return req;
}

ApiResult<TokenizeRequest> parse_tokenize_request(std::string_view body) {
  auto obj = parse_object(body);
  if (!obj.ok()) return obj.error();
  Reader r(obj.value());
  TokenizeRequest req;
  auto content = r.string("content");
  if (!r.failed() && !content) r.fail(Status::invalid_argument("'content' is required"), "content");
  if (content) req.content = *content;
  if (auto v = r.boolean("add_special")) req.add_special = *v;
  if (auto v = r.boolean("parse_special")) req.parse_special = *v;
  if (r.failed()) return r.error();
  return req;
}

ApiResult<std::vector<int32_t>> parse_detokenize_request(std::string_view body) {
  auto obj = parse_object(body);
  if (!obj.ok()) return obj.error();
  Reader r(obj.value());
  const json::value* t = r.find("tokens");
  if (!t) return ApiError(Status::invalid_argument("'tokens' is required"), "tokens");
  if (!t->is_array()) {
    r.fail_type("tokens", "an array of token ids", *t);
    return r.error();
  }
  std::vector<int32_t> ids;
  const json::array& a = t->get_array();
  for (size_t i = 0; i < a.size(); ++i)
    if (!read_token(r, a[i], "tokens[" + std::to_string(i) + "]", ids)) return r.error();
  return ids;
}

std::optional<uint64_t> choice_seed(const SamplingParams& p, int index) {
  if (!p.seed) return std::nullopt;
  return *p.seed + static_cast<uint64_t>(index);
}

}  // namespace scn::inference
