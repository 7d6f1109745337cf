#include "broker/gateway/proxy.h"

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

}  // namespace

std::optional<UsageCounts> usage_of(std::string_view json_text, bool* is_final_usage_chunk) {
  if (is_final_usage_chunk) *is_final_usage_chunk = false;
  auto parsed = common::parse_json_object(json_text);
  if (!parsed.is_ok()) return std::nullopt;
  const auto& obj = *parsed;
  auto usage = common::get_object(obj, "usage");
  if (!usage.is_ok() || *usage == nullptr) return std::nullopt;
  UsageCounts c;
  auto prompt = common::get_int(**usage, "prompt_tokens", 0);
  auto completion = common::get_int(**usage, "completion_tokens", 0);
  c.prompt_tokens = prompt.is_ok() ? std::max<std::int64_t>(0, *prompt) : 0;
  c.completion_tokens = completion.is_ok() ? std::max<std::int64_t>(0, *completion) : 0;
  if (is_final_usage_chunk) {
    auto choices = common::get_array(obj, "choices");
    *is_final_usage_chunk = choices.is_ok() && *choices != nullptr && (*choices)->empty();
  }
  return c;
}

// ---- EndpointBalancer ----------------------------------------------------------

EndpointBalancer::EndpointBalancer(std::chrono::milliseconds bad_for) : bad_for_(bad_for) {}

std::optional<Endpoint> EndpointBalancer::pick(const std::string& service_id,
                                               const std::vector<Endpoint>& endpoints,
                                               const std::vector<std::string>& tried_urls) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto now = Clock::now();
  std::vector<const Endpoint*> good, bad;
  for (const auto& e : endpoints) {
    if (std::find(tried_urls.begin(), tried_urls.end(), e.url) != tried_urls.end()) continue;
    auto b = bad_until_.find(e.url);
    const bool is_bad = b != bad_until_.end() && b->second > now;
    if (b != bad_until_.end() && !is_bad) bad_until_.erase(b);
    (is_bad ? bad : good).push_back(&e);
  }
  auto& pool = good.empty() ? bad : good;
  if (pool.empty()) return std::nullopt;
  int least = -1;
  std::vector<const Endpoint*> best;
  for (const Endpoint* e : pool) {
    auto it = outstanding_.find(e->url);
    const int n = it == outstanding_.end() ? 0 : it->second;
    if (least < 0 || n < least) {
      least = n;
      best.clear();
    }
    if (n == least) best.push_back(e);
  }
  const std::uint64_t turn = next_[service_id]++;
  return *best[turn % best.size()];
}

void EndpointBalancer::begin(const std::string& url) {
  std::lock_guard<std::mutex> lock(mu_);
  ++outstanding_[url];
}

void EndpointBalancer::end(const std::string& url) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = outstanding_.find(url);
  if (it == outstanding_.end()) return;
  if (--it->second <= 0) outstanding_.erase(it);
}

void EndpointBalancer::mark_bad(const std::string& url) {
  std::lock_guard<std::mutex> lock(mu_);
  bad_until_[url] = Clock::now() + bad_for_;
}

int EndpointBalancer::outstanding(const std::string& url) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = outstanding_.find(url);
  return it == outstanding_.end() ? 0 : it->second;
}

bool EndpointBalancer::is_bad(const std::string& url) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = bad_until_.find(url);
  return it != bad_until_.end() && it->second > Clock::now();
}

// ---- forwarding ------------------------------------------------------------------

ForwardOutcome forward_once(const Endpoint& endpoint, const ProxyRequest& request,
                            http::Response& response) {
  ForwardOutcome out;
  bool got_head = false;
  bool streaming = false;
  bool client_left = false;
  std::string content_type;
  std::string buffered;
  bool too_large = false;
  http::SseDecoder decoder;

  const http::Headers headers{{"Content-Type", "application/json"},
                              {"Accept", request.stream ? "text/event-stream" : "application/json"}};

  auto on_head = [&](int status, const http::Headers& h) -> bool {
    got_head = true;
    out.status = status;
    content_type = h.get_or("Content-Type", "application/json");
    if (request.stream && status == 200 && is_event_stream(h)) {
      streaming = true;
      http::Headers sh{{"Content-Type", content_type}, {"Cache-Control", "no-cache"}};
      if (!response.start_stream(status, sh)) {
        client_left = true;
        return false;
      }
    }
    return true;
  };

  auto on_data = [&](std::string_view bytes) -> bool {
    if (!streaming) {
      if (buffered.size() + bytes.size() > kMaxBufferedAnswer) {
        too_large = true;
        return false;
      }
      buffered.append(bytes);
      return true;
    }
    std::string pass;
    decoder.feed(bytes, [&](std::string_view data) {
      if (data != "[DONE]") {
        bool final_usage = false;
        if (auto u = usage_of(data, &final_usage)) {
          out.usage.prompt_tokens = u->prompt_tokens;
          out.usage.completion_tokens = u->completion_tokens;
          if (final_usage && !request.client_wants_usage) return;
        }
      }
      append_event(pass, data);
    });
    if (!pass.empty() && !response.write(pass)) client_left = true;
    if (response.client_gone()) client_left = true;
    return !client_left;
  };

  auto result = http::request_stream("POST", endpoint.url + request.path, request.body, headers, on_head,
                                     on_data, request.timeout);
  if (!got_head) {
    out.error = result.is_ok() ? "no answer" : result.status().message();
    out.result = ForwardResult::kFailedBeforeAnswer;
    return out;
  }
  out.result = ForwardResult::kAnswered;
  out.usage.requests = 1;
  if (streaming) {
    if (!result.is_ok()) {
      out.error = result.status().message();
      common::log_warn("gateway: stream from ", endpoint.url, " broke: ", out.error);
    } else if (client_left) {
      common::log_debug("gateway: client left a stream from ", endpoint.url);
    }
    response.end();
    return out;
  }
  if (client_left) return out;
  if (!result.is_ok() || too_large) {
    out.error = too_large ? "answer too large" : result.status().message();
    common::log_warn("gateway: answer from ", endpoint.url, " broke: ", out.error);
    http::error_response(response, 502, "server_error", "the model replica failed while answering");
    return out;
  }
  if (out.status == 200) {
    if (auto u = usage_of(buffered)) {
      out.usage.prompt_tokens = u->prompt_tokens;
      out.usage.completion_tokens = u->completion_tokens;
    }
  }
  response.set_content(out.status, std::move(buffered), content_type);
  return out;
}

}  // namespace scn::broker
