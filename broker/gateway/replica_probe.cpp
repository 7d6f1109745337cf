#include "broker/gateway/replica_probe.h"

#include <algorithm>

#include "common/http/client.h"
#include "common/json.h"

namespace scn::broker {

std::optional<int> health_load(std::string_view body) {
  auto parsed = common::parse_json_object(body);
  if (!parsed.is_ok()) return std::nullopt;
  auto queued = common::get_int(*parsed, "queued", -1);
  auto running = common::get_int(*parsed, "running", -1);
  if (!queued.is_ok() || !running.is_ok() || *queued < 0 || *running < 0) return std::nullopt;
  return static_cast<int>(std::min<std::int64_t>(*queued + *running, 1 << 20));
}

ReplicaProbe::ReplicaProbe(EndpointBalancer& balancer) : balancer_(balancer) {}

ReplicaProbe::~ReplicaProbe() { stop(); }

void ReplicaProbe::probe_once(std::chrono::milliseconds timeout) {
  for (const std::string& url : balancer_.recent_urls(std::chrono::minutes(1))) {
    auto r = http::request("GET", url + "/health", {}, {}, timeout);
    if (!r.is_ok() || r->status != 200) continue;
    if (auto load = health_load(r->body)) balancer_.set_reported_load(url, *load);
  }
}

void ReplicaProbe::start(std::chrono::milliseconds period) {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this, period] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      cv_.wait_for(lock, period, [this] { return stopping_; });
      if (stopping_) break;
      lock.unlock();
      probe_once(std::min(period, std::chrono::milliseconds(1000)));
      lock.lock();
    }
  });
}

void ReplicaProbe::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace scn::broker
