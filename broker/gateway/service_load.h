// ServiceLoad: what the gateway tells the scheduler's autoscaler - requests
// in flight per service through this broker, the time of the last request,
// and the wake of a service scaled to zero (docs/API.md, "Redis keys").
//
// Contract:
//  - begin(service)/end(service) count a request in flight; begin() also
//    records the time of the last request.
//  - publish() writes, for each service that had a request or has some in
//    flight since the last publish, the field `broker_id` of the hash
//    `{prefix}load:{service_id}` = {"in_flight":n,"last_request_ms":unix ms}
//    and sets the key's TTL to 10 s (a dead broker's figures vanish). A
//    service whose count went back to 0 is written once more with 0, then
//    forgotten. start(period) publishes every period on a thread of its
//    own; stop() ends it (idempotent).
//  - wake(service) sets `{prefix}demand:{service_id}` ("1", TTL 120 s) and
//    publishes the id on `scn:scheduler:wake`, so that the leader scales a
//    service at zero back up at once.
//  - Thread-safe. Redis failures are returned (publish, wake) or logged
//    (the thread); the counts are kept and published next time.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
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

  Status publish();
  Status wake(const std::string& service_id);

  void start(std::chrono::milliseconds period);
  void stop();

  const std::string& broker_id() const { return broker_id_; }

 private:
  struct Entry {
    int in_flight = 0;
    int64_t last_request_ms = 0;
    bool dirty = false;
  };
  redis::RedisClient& redis_;
  std::string prefix_;
  std::string broker_id_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;
  std::thread thread_;
  std::condition_variable cv_;
  bool stopping_ = false;
};

}  // namespace scn::broker
