// ReplicaProbe: the live load of the replicas the gateway sends requests
// to, read from the workers themselves.
//
// Contract:
//  - Every `period` (start()), for each endpoint the balancer picked within
//    the last minute, GET {url}/health (timeout: the period, at most 1 s)
//    and report `queued + running` (docs/API.md, `scn infer` GET /health)
//    to EndpointBalancer::set_reported_load. An endpoint that does not
//    answer or answers something else is left alone (its report expires).
//  - probe_once() does one round at once (tests). stop() ends the thread
//    (idempotent; also the destructor).
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>

#include "broker/gateway/balancer.h"

namespace scn::broker {

// queued + running of a worker's /health body; nullopt when malformed.
std::optional<int> health_load(std::string_view body);

class ReplicaProbe {
 public:
  explicit ReplicaProbe(EndpointBalancer& balancer);
  ~ReplicaProbe();
  ReplicaProbe(const ReplicaProbe&) = delete;
  ReplicaProbe& operator=(const ReplicaProbe&) = delete;

  void start(std::chrono::milliseconds period);
  void stop();
  void probe_once(std::chrono::milliseconds timeout = std::chrono::milliseconds(1000));

 private:
  EndpointBalancer& balancer_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace scn::broker
