// SchedulerClient: the agent's way to the scheduler's agents' API when
// several `scn scheduler` instances run (one leads, the others stand by;
// docs/API.md, "scn scheduler — agents' API", and docs/ARCHITECTURE.md,
// "Failover"). Used by `scn agent` and `scn agent --slurm`.
//
// Contract:
//  - parse_scheduler_urls("http://a:7070, http://b:7070/") splits on commas,
//    trims spaces and trailing '/', and requires each to be an http:// or
//    https:// URL; an empty list, an empty item or another scheme is
//    kInvalidArgument. Duplicates are dropped (first one kept).
//  - post(path, body, headers, timeout) sends the request to the current
//    scheduler. It FAILS OVER — marks that URL failed and tries the next one,
//    each URL at most once per call — on a transport failure (refused,
//    reset, timeout) and on a 5xx answer (a 503 of an instance that cannot
//    reach its database or is shutting down, a 500/502/504). Any other answer
//    (2xx, 4xx) is returned as is and makes its URL the current one (it
//    stays current while it answers: no flapping back).
//  - Backoff: a failed URL is skipped by later calls for 250 ms, doubling
//    with each further failure up to 8 s, and tried again after that (or at
//    once when every URL is backing off: then the one whose backoff ends
//    first is tried, so a call always sends at least one request). A URL
//    that answers resets its backoff.
//  - Each switch of the current URL is logged ("<prefix>: scheduler <a>
//    failed (<why>); switching to <b>"), and so is the first answer from a
//    new URL. The caller's replicas are never touched: this is only the
//    transport.
//  - With every URL failing, post() returns the last failure: the transport
//    error, or the last 5xx answer (so the caller can log it).
//  - Thread-safe (a mutex guards the state; requests run unlocked).
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/http/client.h"
#include "common/status.h"

namespace scn::node_agent {

Result<std::vector<std::string>> parse_scheduler_urls(std::string_view text);

class SchedulerClient {
 public:
  using Clock = std::chrono::steady_clock;
  // `urls` non-empty (from parse_scheduler_urls); `log_prefix` e.g. "agent".
  SchedulerClient(std::vector<std::string> urls, std::string log_prefix);

  Result<http::ClientResponse> post(std::string_view path, std::string_view body,
                                    const http::Headers& headers, std::chrono::milliseconds timeout);

  // The URL the next call goes to first.
  std::string current() const;
  const std::vector<std::string>& urls() const { return urls_; }
  // "a,b" for log lines.
  std::string describe() const;

  // The backoff after `failures` consecutive failures (>= 1).
  static std::chrono::milliseconds backoff(int failures);

 private:
  struct Target {
    int failures = 0;
    Clock::time_point retry_at{};
  };
  // The order to try this call: the current URL first unless backing off.
  std::vector<size_t> plan(Clock::time_point now) const;
  void failed(size_t i, const std::string& why, const std::vector<size_t>& plan, size_t pos);
  void answered(size_t i);

  const std::vector<std::string> urls_;
  const std::string prefix_;
  mutable std::mutex mu_;
  std::vector<Target> targets_;
  size_t current_ = 0;
  size_t last_answered_ = static_cast<size_t>(-1);
};

}  // namespace scn::node_agent
