// The gateway's forwarding: which replica gets a request, and passing the
// request and its answer (complete or streamed) through.
//
// Contract:
//  - EndpointBalancer (balancer.h) picks the endpoint.
//  - forward_once() sends one request to one endpoint (with `x-request-id`,
//    and "Authorization: Bearer <endpoint.worker_secret>" when set)
//    on a keep-alive connection from a process-wide http::ConnectionPool;
//    a connection whose answer was not read to its end (client gone) is
//    closed, which the replica sees as a cancellation. kFailedBeforeAnswer: the
//    endpoint could not be reached or failed before the answer's status
//    line - nothing was sent to the client, so the caller may retry
//    elsewhere. Otherwise the answer was passed on:
//      * a 200 text/event-stream answer to a streaming request is streamed
//        as it comes (response.start_stream with the upstream status and
//        Content-Type, one write per received piece of whole events; not
//        end()ed: the server sends the last chunk when the handler has
//        returned, after the caller's bookkeeping); the
//        final usage chunk (choices empty, usage set) is dropped unless
//        `client_wants_usage`; reading stops when the client goes away
//        (closing the upstream connection, which cancels the generation).
//        A stream that breaks (the replica fails or its stream ends without
//        `data: [DONE]`) ends with the event
//        `data: {"error":{"message","type":"server_error","param":null,
//        "code":"upstream_stream_broken"}}` and then `data: [DONE]`
//        (`stream_broken`);
//      * anything else is answered completely with the upstream status,
//        Content-Type and body (errors of the worker pass through); an
//        answer that breaks is 502.
//    Usage numbers come from the usage object of the answer (complete
//    answers) or of the final usage chunk (streams); 0 when there is none.
//    `ttfb_ms` is the time to the first body byte of the answer.
//    While waiting for the replica, the client is watched (every 20 ms): a
//    client that leaves closes the upstream connection at once (the replica
//    cancels the generation); `client_left` is then set (kFailedBeforeAnswer
//    before the answer's head: the endpoint is not to blame).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "broker/gateway/balancer.h"
#include "broker/gateway/route_table.h"
#include "broker/gateway/usage_meter.h"
#include "common/http/server.h"

namespace scn::broker {

struct ProxyRequest {
  std::string path;  // "/v1/chat/completions"
  std::string body;  // as sent upstream
  bool stream = false;
  bool client_wants_usage = true;
  std::string request_id;  // sent as x-request-id ("" = none)
  std::uint64_t prefix = 0;  // prefix_hash of the prompt (balancer.h); 0 = none
  std::chrono::milliseconds timeout{300000};
};

enum class ForwardResult { kFailedBeforeAnswer, kAnswered };

struct ForwardOutcome {
  ForwardResult result = ForwardResult::kFailedBeforeAnswer;
  int status = 0;      // the upstream's status when answered
  UsageCounts usage;   // requests = 1 when answered
  std::string error;   // why it failed (logs, request log)
  bool stream_broken = false;
  bool client_left = false;
  double ttfb_ms = -1;  // -1: no body byte came
};

ForwardOutcome forward_once(const Endpoint& endpoint, const ProxyRequest& request,
                            http::Response& response);

// Extracts prompt_tokens, prompt_tokens_details.cached_tokens and
// completion_tokens of a JSON object's "usage" member; nullopt when absent.
// (Exposed for tests.)
std::optional<UsageCounts> usage_of(std::string_view json_text, bool* is_final_usage_chunk = nullptr);
// usage_of() for a complete answer, cheaper: OpenAI's answers end with the
// top-level "usage" object, which is parsed alone when it can be found.
std::optional<UsageCounts> usage_of_answer(std::string_view text);

}  // namespace scn::broker
