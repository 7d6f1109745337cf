#include "broker/gateway/proxy.h"

#include <boost/json.hpp>

#include <algorithm>

#include "common/http/client.h"
#include "common/json.h"
#include "common/log.h"

namespace scn::broker {
namespace {

// Answers larger than this from a worker are refused (a worker's answers are
// far smaller; this only bounds memory).
constexpr std::size_t kMaxBufferedAnswer = 64u << 20;

bool is_event_stream(const http::Headers& headers) {
  std::string_view ct = headers.get("Content-Type").value_or("");
  constexpr std::string_view kSse = "text/event-stream";
  return ct.size() >= kSse.size() && http::iequals(ct.substr(0, kSse.size()), kSse);
}

// "data: <line>\n" for each line of `data`, then the blank line.
void append_event(std::string& out, std::string_view data) {
  std::size_t start = 0;
  for (;;) {
    const std::size_t nl = data.find('\n', start);
    out += "data: ";
    out.append(data.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start));
    out += '\n';
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  out += '\n';
}

// Keep-alive connections to the replicas, shared by every request (a new
// TCP connection per request cost a quarter of the gateway's CPU).
http::ConnectionPool& upstream_pool() {
  static http::ConnectionPool pool(http::ConnectionPoolOptions{.max_idle_per_endpoint = 256});
  return pool;
}

// The counts of a "usage" object.
UsageCounts counts_of(const common::JsonObject& usage) {
  UsageCounts c;
  auto prompt = common::get_int(usage, "prompt_tokens", 0);
  auto completion = common::get_int(usage, "completion_tokens", 0);
  c.prompt_tokens = prompt.is_ok() ? std::max<std::int64_t>(0, *prompt) : 0;
  c.completion_tokens = completion.is_ok() ? std::max<std::int64_t>(0, *completion) : 0;
  auto details = common::get_object(usage, "prompt_tokens_details");
  if (details.is_ok() && *details != nullptr) {
    auto cached = common::get_int(**details, "cached_tokens", 0);
    c.cached_prompt_tokens = cached.is_ok() ? std::clamp<std::int64_t>(*cached, 0, c.prompt_tokens) : 0;
  }
  return c;
}

}  // namespace

// The last `"usage":` key (a quote before it that no backslash escapes: not
// inside a string) is parsed alone, on the stack; anything unexpected falls
// back to parsing the whole answer.
std::optional<UsageCounts> usage_of_answer(std::string_view text) {
  constexpr std::string_view kKey = "\"usage\":";
  const std::size_t at = text.rfind(kKey);
  if (at != std::string_view::npos && at > 0 && (text[at - 1] == ',' || text[at - 1] == '{' ||
                                                  text[at - 1] == ' ' || text[at - 1] == '\n')) {
    unsigned char temp[1024];
    unsigned char storage[2048];
    boost::json::monotonic_resource mr(storage, sizeof storage);
    boost::json::parser parser(boost::json::storage_ptr(), {}, temp, sizeof temp);
    parser.reset(&mr);
    boost::system::error_code ec;
    const std::string_view rest = text.substr(at + kKey.size());
    parser.write_some(rest.data(), rest.size(), ec);
    if (!ec) {  // a complete value (characters after it are not read)
      const boost::json::value v = parser.release();
      if (v.is_null()) return std::nullopt;
      if (v.is_object()) return counts_of(v.get_object());
    }
  }
  return usage_of(text);
}

std::optional<UsageCounts> usage_of(std::string_view json_text, bool* is_final_usage_chunk) {
  if (is_final_usage_chunk) *is_final_usage_chunk = false;
  auto parsed = common::parse_json_object(json_text);
  if (!parsed.is_ok()) return std::nullopt;
  const auto& obj = *parsed;
  auto usage = common::get_object(obj, "usage");
  if (!usage.is_ok() || *usage == nullptr) return std::nullopt;
  UsageCounts c = counts_of(**usage);
  if (is_final_usage_chunk) {
    auto choices = common::get_array(obj, "choices");
    *is_final_usage_chunk = choices.is_ok() && *choices != nullptr && (*choices)->empty();
  }
  return c;
}

// ---- forwarding ------------------------------------------------------------------

ForwardOutcome forward_once(const Endpoint& endpoint, const ProxyRequest& request,
                            http::Response& response) {
  ForwardOutcome out;
  bool got_head = false;
  bool streaming = false;
  bool saw_done = false;
  std::string content_type;
  std::string buffered;
  bool too_large = false;
  http::SseDecoder decoder;
  const auto sent_at = std::chrono::steady_clock::now();

  http::Headers headers;  // distinct names: add(), not set()
  headers.add("Content-Type", "application/json");
  headers.add("Accept", request.stream ? "text/event-stream" : "application/json");
  if (!request.request_id.empty()) headers.add("x-request-id", request.request_id);
  // Worker authentication: the replica's own secret, never the tenant's key.
  if (!endpoint.worker_secret.empty()) headers.add("Authorization", "Bearer " + endpoint.worker_secret);

  auto on_head = [&](int status, const http::Headers& h) -> bool {
    got_head = true;
    out.status = status;
    content_type = h.get_or("Content-Type", "application/json");
    if (request.stream && status == 200 && is_event_stream(h)) {
      streaming = true;
      http::Headers sh{{"Content-Type", content_type}, {"Cache-Control", "no-cache"}};
      if (!response.start_stream(status, sh)) {
        out.client_left = true;
        return false;
      }
    }
    return true;
  };

  auto on_data = [&](std::string_view bytes) -> bool {
    if (out.ttfb_ms < 0) {
      out.ttfb_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - sent_at).count();
    }
    if (!streaming) {
      if (buffered.size() + bytes.size() > kMaxBufferedAnswer) {
        too_large = true;
        return false;
      }
      buffered.append(bytes);
      return !response.client_gone();
    }
    std::string pass;
    decoder.feed(bytes, [&](std::string_view data) {
      if (data == "[DONE]") {
        saw_done = true;
      } else {
        bool final_usage = false;
        if (auto u = usage_of(data, &final_usage)) {
          out.usage.prompt_tokens = u->prompt_tokens;
          out.usage.cached_prompt_tokens = u->cached_prompt_tokens;
          out.usage.completion_tokens = u->completion_tokens;
          if (final_usage && !request.client_wants_usage) return;
        }
      }
      append_event(pass, data);
    });
    if (!pass.empty() && !response.write(pass)) out.client_left = true;
    if (response.client_gone()) out.client_left = true;
    return !out.client_left;
  };

  // A client that leaves while the replica works (a complete answer sends
  // nothing before its end) closes the upstream connection at once: the
  // replica sees its client go and cancels the generation.
  const http::CancelCheck client_gone = [&response] { return response.client_gone(); };
  auto result = upstream_pool().request_stream("POST", endpoint.url + request.path, request.body, headers, on_head,
                                               on_data, request.timeout, client_gone);
  if (!got_head) {
    if (!result.is_ok() && result.status().code() == Code::kCancelled) {
      out.client_left = true;
      out.error = "the client left before the answer";
      return out;
    }
    out.error = result.is_ok() ? "no answer" : result.status().message();
    out.result = ForwardResult::kFailedBeforeAnswer;
    return out;
  }
  out.result = ForwardResult::kAnswered;
  out.usage.requests = 1;
  if (streaming) {
    if (out.client_left) {
      common::log_debug("gateway: client left a stream from ", endpoint.url);
    } else if (!result.is_ok() || !saw_done) {
      out.stream_broken = true;
      out.error = !result.is_ok() ? result.status().message() : "the stream ended without [DONE]";
      common::log_warn("gateway: stream from ", endpoint.url, " broke: ", out.error);
      boost::json::object error{{"message", "the model replica failed while streaming: " + out.error},
                                {"type", "server_error"},
                                {"param", nullptr},
                                {"code", "upstream_stream_broken"}};
      std::string tail;
      append_event(tail, boost::json::serialize(boost::json::object{{"error", std::move(error)}}));
      append_event(tail, "[DONE]");
      (void)response.write(tail);
    }
    // The last chunk is left to the server, which sends it once the handler
    // returned: the caller's bookkeeping (request log, usage) is then done
    // before the client sees the end of the stream.
    return out;
  }
  if (out.client_left || response.client_gone()) {
    out.client_left = true;
    return out;
  }
  if (!result.is_ok() || too_large) {
    out.error = too_large ? "answer too large" : result.status().message();
    common::log_warn("gateway: answer from ", endpoint.url, " broke: ", out.error);
    out.status = 502;
    http::error_response(response, 502, "server_error", "the model replica failed while answering");
    return out;
  }
  if (out.status == 200) {
    if (auto u = usage_of_answer(buffered)) {
      out.usage.prompt_tokens = u->prompt_tokens;
      out.usage.cached_prompt_tokens = u->cached_prompt_tokens;
      out.usage.completion_tokens = u->completion_tokens;
    }
  }
  response.set_content(out.status, std::move(buffered), content_type);
  return out;
}

}  // namespace scn::broker
