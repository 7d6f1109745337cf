#include "bench/stream_client.h"

#include <boost/json.hpp>

#include "common/http/client.h"

namespace scn::bench {

namespace json = boost::json;

namespace {

// An OpenAI error object ({"error": {"message": ...}}): its message.
bool error_message(std::string_view text, std::string* message) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return false;
  const auto* e = v.as_object().if_contains("error");
  if (e == nullptr) return false;
  *message = json::serialize(*e);
  return true;
}

void append_text(std::string_view event, std::string* text) {
  boost::system::error_code ec;
  json::value v = json::parse(event, ec);
  if (ec || !v.is_object()) return;
  const auto* c = v.as_object().if_contains("choices");
  if (c == nullptr || !c->is_array() || c->as_array().empty() || !c->as_array()[0].is_object()) return;
  const auto& choice = c->as_array()[0].as_object();
  if (const auto* t = choice.if_contains("text"); t && t->is_string()) text->append(t->as_string());
  if (const auto* d = choice.if_contains("delta"); d && d->is_object())
    if (const auto* s = d->as_object().if_contains("content"); s && s->is_string()) text->append(s->as_string());
}

}  // namespace

const char* to_string(StreamResult r) {
  switch (r) {
    case StreamResult::kOk: return "ok";
    case StreamResult::kCleanError: return "clean_error";
    case StreamResult::kUnclean: return "unclean";
  }
  return "?";
}

StreamOutcome stream_completion(const std::string& url, const std::string& key, const std::string& body,
                                const std::vector<std::pair<std::string, std::string>>& headers,
                                std::chrono::milliseconds timeout) {
  StreamOutcome out;
  http::Headers h{{"Content-Type", "application/json"}};
  if (!key.empty()) h.set("Authorization", "Bearer " + key);
  for (const auto& [name, value] : headers) h.set(name, value);
  const auto since = std::chrono::steady_clock::now();
  auto ms_since = [&] {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since).count();
  };
  http::SseDecoder decoder;
  bool done = false, error_event = false;
  std::string raw;  // the body of a non-200 answer
  int status = 0;
  auto r = http::request_stream(
      "POST", url, body, h,
      [&](int s, const http::Headers&) {
        status = s;
        return true;
      },
      [&](std::string_view data) {
        if (status != 200) {
          if (raw.size() < 4096) raw.append(data);
          return true;
        }
        decoder.feed(data, [&](std::string_view event) {
          if (out.ttft_ms < 0) out.ttft_ms = ms_since();
          ++out.events;
          if (event == "[DONE]") {
            done = true;
            return;
          }
          std::string message;
          if (error_message(event, &message)) {
            error_event = true;
            if (out.error.empty()) out.error = message;
            return;
          }
          append_text(event, &out.text);
        });
        return true;
      },
      timeout);
  out.total_ms = ms_since();
  out.status = status;
  if (!r.is_ok()) {
    // A stream that already carried its error event was ended cleanly.
    out.result = error_event ? StreamResult::kCleanError : StreamResult::kUnclean;
    if (out.error.empty()) out.error = r.status().to_string();
    return out;
  }
  out.status = r->status;
  if (out.status != 200) {
    std::string message;
    out.result = error_message(raw, &message) ? StreamResult::kCleanError : StreamResult::kUnclean;
    out.error = "HTTP " + std::to_string(out.status) + ": " + (message.empty() ? raw.substr(0, 300) : message);
    return out;
  }
  if (error_event) {
    out.result = StreamResult::kCleanError;
  } else if (done) {
    out.result = StreamResult::kOk;
  } else {
    out.result = StreamResult::kUnclean;
    out.error = "the stream ended without [DONE] or an error event";
  }
  return out;
}

}  // namespace scn::bench
