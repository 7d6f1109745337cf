// Autoscaling of services with min_replicas/max_replicas (sql/0003): the
// leader moves replicas_wanted between the bounds on the load its replicas
// report, with stabilisation windows, scales to zero after an idle period
// and wakes a service at zero on the next request.
//
// Contract:
//  - Load of a service = max(sum of `outstanding` its ready replicas report
//    in their node's heartbeat (`scn:node:{id}:status`), sum of `in_flight`
//    over the brokers' fields of `scn:load:{service_id}`). Each broker
//    writes its field as {"in_flight":n,"last_request_ms":unix ms} plus,
//    when it has recent samples, "ttft_p50_ms","ttft_p90_ms","ttft_count"
//    and "tokens_per_s","tokens_count" (broker/gateway/service_load.h). The
//    service's TTFT p90 is the largest p90 of the brokers with
//    ttft_count > 0 (none: no TTFT figure); its tokens/s is the sum of
//    tokens_per_s over the brokers with tokens_count > 0 (none: no figure).
//    Demand in tokens/s is measured as the generated tokens/s the replicas
//    delivered over the brokers' window (30 s): a throughput metric with a
//    per-replica target, as the Kubernetes HPA's AverageValue target. The
//    target is meant below what one replica sustains (say 70-80 %): a
//    replica carrying more than the target asks for more replicas; demand
//    beyond what the saturated replicas deliver shows as delivered tokens/s
//    at their capacity, above the target, so it is met step by step.
//  - decide_scale() is the pure decision (table-tested):
//    1. wanted < min -> min; wanted > max -> max (at once).
//    2. wanted == 0: a wake (`scn:demand:{service_id}` exists) or load > 0
//       -> max(1, min) at once ("woken by a request"); else stays 0.
//    3. min == 0, load == 0 and the last request (or the service's
//       creation) is idle_seconds or more ago -> 0 ("idle for N s").
//    4. desired = ceil(load / target_outstanding), or, when the service has
//       a target_ttft_ms (sql/0007) and a TTFT p90 is known, the larger of
//       that and ceil(wanted * ttft_p90 / target_ttft_ms); clamped into
//       [max(1, min), max]. With a target_tokens_per_second (sql/0011)
//       and a tokens/s figure, desired is at least
//       ceil(tokens/s / target_tokens_per_second) (same clamp).
//       Above wanted for `up` without a break ->
//       desired; below wanted for `down` without a break -> desired; a
//       break resets the window. The reason names the rule that decided.
//    5. The TTFT figure lags a scale-up: the brokers' window still holds
//       the samples taken before the new replicas served, and the rule
//       (proportional to wanted) would multiply again on them, overshooting
//       to max. So after a scale-up the TTFT rule holds (wants exactly the
//       current count: it neither raises nor lowers it) until the scaled-to
//       replicas are ready (`ready`) and then `ttft_settle` has passed (by
//       default the brokers' 30 s window: every sample left was taken with
//       them serving); at the latest 4 x ttft_settle after the scale-up.
//       ttft_settle 0 turns the hold off.
//  - Autoscaler::run() applies the decisions of every autoscaled service
//    that is neither stopped nor deleted (one UPDATE each, optimistic on
//    replicas_wanted, fenced by `epoch`), keeps services.last_request_at at
//    the newest request a broker reported (and sets it to now() when it
//    wakes a service: a wake counts as a request), and deletes the demand
//    key of a service it woke. Returns the number of services whose wanted changed.
//  - Not thread-safe (the leader's loop thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace scn::db {
class PgPool;
}
namespace scn::redis {
class RedisClient;
}

namespace scn::scheduler {

using SteadyTime = std::chrono::steady_clock::time_point;

struct AutoscaleWindows {
  std::chrono::milliseconds up{15000};
  std::chrono::milliseconds down{60000};
  std::chrono::milliseconds ttft_settle{30000};  // rule 5
};

struct AutoscaleSignal {
  int min_replicas = 0;
  int max_replicas = 1;
  int wanted = 0;
  double target_outstanding = 4;
  double load = 0;            // requests outstanding over the service
  bool demand = false;        // a wake was requested
  double idle_for_s = 0;      // seconds since the last request (or creation)
  int idle_seconds = 300;
  std::optional<double> target_ttft_ms;  // the service's target (unset: none)
  std::optional<double> ttft_p90_ms;     // the brokers' recent p90 (unset: no figure)
  std::optional<double> target_tokens_per_second;  // per replica (unset: none)
  std::optional<double> tokens_per_s;              // the brokers' sum (unset: no figure)
  int ready = -1;  // ready replicas (-1: unknown, taken as all)
};

struct AutoscaleMemory {  // per service, kept between cycles
  std::optional<SteadyTime> above_since, below_since;
  // Rule 5: the last scale-up (to `scaled_to`) whose TTFT hold is on, and
  // when its replicas were first seen ready.
  std::optional<SteadyTime> scaled_up_at, ready_at;
  int scaled_to = 0;
};

struct AutoscaleDecision {
  int wanted = 0;
  std::string reason;  // empty when unchanged
};

AutoscaleDecision decide_scale(const AutoscaleSignal& s, AutoscaleMemory& memory, SteadyTime now,
                               const AutoscaleWindows& windows);

// `scn:load:{service_id}` and `scn:demand:{service_id}`.
std::string load_key(std::string_view service_id);
std::string demand_key(std::string_view service_id);

class Autoscaler {
 public:
  Autoscaler(db::PgPool& pool, redis::RedisClient& redis, AutoscaleWindows windows)
      : pool_(pool), redis_(redis), windows_(windows) {}
  Result<int> run(int64_t epoch, SteadyTime now = std::chrono::steady_clock::now());
  void set_windows(AutoscaleWindows w) { windows_ = w; }

 private:
  db::PgPool& pool_;
  redis::RedisClient& redis_;
  AutoscaleWindows windows_;
  std::map<std::string, AutoscaleMemory> memory_;
};

}  // namespace scn::scheduler
