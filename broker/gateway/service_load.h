// ServiceLoad: what the gateway tells the scheduler's autoscaler - requests
// in flight per service through this broker, the time of the last request,
// the recent time to first token, and the wake of a service scaled to zero
// (docs/API.md, "Redis keys").
//
// Contract:
//  - begin(service)/end(service) count a request in flight; both record
//    the time of the last request (so that a long request, or one held
//    while its service woke, does not count as idle time).
//  - publish() writes, for each service that had a request or has some in
//    flight since the last publish, the field `broker_id` of the hash
//    `{prefix}load:{service_id}` = {"in_flight":n,"last_request_ms":unix ms}
//    plus, when the service has TTFT samples in the window,
//    "ttft_p50_ms", "ttft_p90_ms" (nearest rank) and "ttft_count", and sets
//    the key's TTL to 10 s (a dead broker's figures vanish). A service with
//    nothing in flight and no sample left in the window is written once
//    more (0, without TTFT), then forgotten. start(period) publishes every
//    period on a thread of its own; stop() ends it (idempotent).
//  - observe_ttft(service, ms) records one request's time to first token
//    (the gateway: time to the first byte of the replica's answer); samples
//    older than the TTFT window (30 s by default) are dropped, and at most
//    the newest 4096 per service are kept. ttft() answers the figures now.
//  - observe_tokens(service, n) records the tokens a replica generated for
//    one answered request (completion_tokens of its usage). publish() adds
//    "tokens_per_s" (the tokens of the samples in the same window, over the
//    window - or over the time since the service's first request through
//    this broker when that is shorter, at least 1 s) and "tokens_count"
//    (requests counted) while the window holds samples; the autoscaler's
//    throughput rule sums tokens_per_s over the brokers. tokens_per_s()
//    answers the figure now.
//  - wake(service) sets `{prefix}demand:{service_id}` ("1", TTL 120 s) and
//    publishes the id on `scn:scheduler:wake`, so that the leader scales a
//    service at zero back up at once.
//  - Thread-safe. Redis failures are returned (publish, wake) or logged
//    (the thread); the counts are kept and published next time.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "common/status.h"

namespace scn::redis {
class RedisClient;
}

namespace scn::broker {

class ServiceLoad {
 public:
  ServiceLoad(redis::RedisClient& redis, std::string prefix, std::string broker_id);
  ~ServiceLoad();  // stop()s
  ServiceLoad(const ServiceLoad&) = delete;
  ServiceLoad& operator=(const ServiceLoad&) = delete;

  void begin(const std::string& service_id);
  void end(const std::string& service_id);
  int in_flight(const std::string& service_id) const;

  struct TtftFigures {
    int count = 0;
    double p50_ms = 0, p90_ms = 0;
  };
  void observe_ttft(const std::string& service_id, double ms);
  // The figures over the window now (count 0: no sample).
  TtftFigures ttft(const std::string& service_id) const;
  void set_ttft_window(std::chrono::milliseconds window);  // the tokens' window too

  void observe_tokens(const std::string& service_id, int64_t completion_tokens);
  double tokens_per_s(const std::string& service_id) const;

  Status publish();
  Status wake(const std::string& service_id);

  void start(std::chrono::milliseconds period);
  void stop();

  const std::string& broker_id() const { return broker_id_; }

 private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    int in_flight = 0;
    int64_t last_request_ms = 0;
    bool dirty = false;
    std::deque<std::pair<Clock::time_point, double>> ttft;  // oldest first
    std::deque<std::pair<Clock::time_point, int64_t>> tokens;  // oldest first
    Clock::time_point first_seen = Clock::now();  // the entry's first request
  };
  // Drops the samples older than the window (marks the entry dirty when its
  // last sample goes). Under mu_.
  void prune(Entry& e, Clock::time_point now) const;
  static TtftFigures figures(const Entry& e);
  double rate(const Entry& e, Clock::time_point now) const;  // tokens/s; under mu_
  redis::RedisClient& redis_;
  std::string prefix_;
  std::string broker_id_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;
  std::chrono::milliseconds ttft_window_{30000};
  std::thread thread_;
  std::condition_variable cv_;
  bool stopping_ = false;
};

}  // namespace scn::broker
