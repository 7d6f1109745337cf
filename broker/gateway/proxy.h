// The gateway's forwarding: which replica gets a request, and passing the
// request and its answer (complete or streamed) through.
//
// Contract:
//  - EndpointBalancer picks, among the endpoints not tried yet, the one with
//    the fewest requests outstanding through this broker, preferring those
//    not marked bad; ties are broken round robin per service. mark_bad()
//    sets an endpoint aside for `bad_for` (a bad one is still picked when
//    nothing else is left). Thread-safe.
//  - forward_once() sends one request to one endpoint with
//    http::request_stream. kFailedBeforeAnswer: the endpoint could not be
//    reached or failed before the answer's status line - nothing was sent
//    to the client, so the caller may retry elsewhere. Otherwise the answer
//    was passed on:
//      * a 200 text/event-stream answer to a streaming request is streamed
//        as it comes (response.start_stream with the upstream status and
//        Content-Type, one write per received piece of whole events); the
//        final usage chunk (choices empty, usage set) is dropped unless
//        `client_wants_usage`; reading stops when the client goes away;
//      * anything else is answered completely with the upstream status,
//        Content-Type and body (errors of the worker pass through).
//    Usage numbers come from the usage object of the answer (complete
//    answers) or of the final usage chunk (streams); 0 when there is none.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "broker/gateway/route_table.h"
#include "broker/gateway/usage_meter.h"
#include "common/http/server.h"

namespace scn::broker {

class EndpointBalancer {
 public:
  explicit EndpointBalancer(std::chrono::milliseconds bad_for = std::chrono::milliseconds(3000));

  std::optional<Endpoint> pick(const std::string& service_id, const std::vector<Endpoint>& endpoints,
                               const std::vector<std::string>& tried_urls);
  void begin(const std::string& url);  // one more request outstanding
  void end(const std::string& url);    // one less
  void mark_bad(const std::string& url);
  int outstanding(const std::string& url) const;
  bool is_bad(const std::string& url) const;

 private:
  using Clock = std::chrono::steady_clock;
  std::chrono::milliseconds bad_for_;
  mutable std::mutex mu_;
  std::map<std::string, int> outstanding_;
  std::map<std::string, Clock::time_point> bad_until_;
  std::map<std::string, std::uint64_t> next_;  // round robin per service
};

struct ProxyRequest {
  std::string path;  // "/v1/chat/completions"
  std::string body;  // as sent upstream
  bool stream = false;
  bool client_wants_usage = true;
  std::chrono::milliseconds timeout{300000};
};

enum class ForwardResult { kFailedBeforeAnswer, kAnswered };

struct ForwardOutcome {
  ForwardResult result = ForwardResult::kFailedBeforeAnswer;
  int status = 0;      // the upstream's status when answered
  UsageCounts usage;   // requests = 1 when answered
  std::string error;   // why it failed (logs)
};

ForwardOutcome forward_once(const Endpoint& endpoint, const ProxyRequest& request,
                            http::Response& response);

// Extracts {prompt_tokens, completion_tokens} of a JSON object's "usage"
// member; nullopt when absent. (Exposed for tests.)
std::optional<UsageCounts> usage_of(std::string_view json_text, bool* is_final_usage_chunk = nullptr);

}  // namespace scn::broker
