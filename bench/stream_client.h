// One streaming completion through the OpenAI-compatible API, as the fault
// suite (tests/fault/) and `scn bench load` send them, classified the way a
// careful client would see it.
//
// Contract:
//  - stream_completion() POSTs `body` (which should ask for "stream": true)
//    to url with "Authorization: Bearer <key>" (when key is not empty),
//    extra `headers` (e.g. x-request-id), on a fresh connection, and decodes
//    the SSE answer.
//  - outcome: kOk = status 200, the stream ended with [DONE] and carried no
//    error event; kCleanError = the answer is a non-200 status with an
//    OpenAI error body, or a 200 stream that carried an {"error": ...}
//    event; kUnclean = anything else (transport failure, a stream cut
//    without an error event, a non-JSON error body).
//  - ttft_ms is the time from sending to the first data event (-1: none);
//    text is the concatenated choices[0].text / delta.content.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace scn::bench {

enum class StreamResult { kOk, kCleanError, kUnclean };

struct StreamOutcome {
  StreamResult result = StreamResult::kUnclean;
  int status = 0;
  double ttft_ms = -1;
  double total_ms = 0;
  int events = 0;
  std::string text;
  std::string error;  // the error event / body / transport failure
};

StreamOutcome stream_completion(const std::string& url, const std::string& key, const std::string& body,
                                const std::vector<std::pair<std::string, std::string>>& headers,
                                std::chrono::milliseconds timeout = std::chrono::milliseconds(30000));

const char* to_string(StreamResult r);

}  // namespace scn::bench
