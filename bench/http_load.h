// A closed-loop HTTP/1.1 load generator for the benchmarks: N keep-alive
// connections driven by one epoll loop on the calling thread (cheap enough
// that the server, not the generator, is what is measured).
//
// Contract:
//  - Each connection sends `request` (complete raw bytes, keep-alive),
//    reads the whole answer (Content-Length or chunked), and sends again at
//    once, until `seconds` have passed after `warmup_seconds` (or
//    `max_requests` answers were counted, when > 0).
//  - Answers completed during the measured window are counted: status 200
//    as ok (with its latency, send to last byte), anything else as an
//    error; a connection the server closes is reopened (counted as error).
//  - `total` counts every answer (warm-up and late ones too), to relate
//    the server's CPU time over the whole run to requests.
//  - Fails (kUnavailable) only when no connection can be made at all.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace scn::bench {

struct HttpLoadResult {
  long long ok = 0;
  long long total = 0;               // every answer, warm-up included
  long long errors = 0;
  double seconds = 0;                // the measured window
  std::vector<double> latencies_ms;  // of the ok answers
  std::string first_error;           // the first non-200 answer's head, for messages
};

Result<HttpLoadResult> run_http_load(int port, const std::string& request, int connections, double seconds,
                                     double warmup_seconds, long long max_requests = 0);

// A raw POST request with a JSON body (and an optional bearer token).
std::string raw_post(const std::string& path, const std::string& body, const std::string& bearer = {});

// The q-quantile (0..1) of `values` (sorted in place); 0 when empty.
double quantile(std::vector<double>& values, double q);

}  // namespace scn::bench
