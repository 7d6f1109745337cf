#include "broker/gateway/service_load.h"

#include <boost/json.hpp>

#include <vector>

#include "common/log.h"
#include "common/redis/redis.h"

namespace scn::broker {
namespace {

int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

constexpr std::chrono::milliseconds kLoadTtl{10000};
constexpr std::chrono::milliseconds kDemandTtl{120000};

}  // namespace

ServiceLoad::ServiceLoad(redis::RedisClient& redis, std::string prefix, std::string broker_id)
    : redis_(redis), prefix_(std::move(prefix)), broker_id_(std::move(broker_id)) {}

ServiceLoad::~ServiceLoad() { stop(); }

void ServiceLoad::begin(const std::string& service_id) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = entries_[service_id];
  ++e.in_flight;
  e.last_request_ms = unix_ms();
  e.dirty = true;
}

void ServiceLoad::end(const std::string& service_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(service_id);
  if (it == entries_.end()) return;
  if (it->second.in_flight > 0) --it->second.in_flight;
  it->second.dirty = true;
}

int ServiceLoad::in_flight(const std::string& service_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(service_id);
  return it == entries_.end() ? 0 : it->second.in_flight;
}

Status ServiceLoad::publish() {
  std::vector<std::pair<std::string, Entry>> todo;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (it->second.in_flight > 0 || it->second.dirty) {
        todo.emplace_back(it->first, it->second);
        it->second.dirty = false;
        ++it;
      } else {
        it = entries_.erase(it);
      }
    }
  }
  Status first = Status::ok();
  for (const auto& [id, e] : todo) {
    const std::string key = prefix_ + "load:" + id;
    const std::string value = boost::json::serialize(
        boost::json::object{{"in_flight", e.in_flight}, {"last_request_ms", e.last_request_ms}});
    auto set = redis_.hset(key, {{broker_id_, value}});
    Status st = set.is_ok() ? Status::ok() : set.status();
    if (st.is_ok()) {
      auto ttl = redis_.expire(key, kLoadTtl);
      if (!ttl.is_ok()) st = ttl.status();
    }
    if (!st.is_ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      entries_[id].dirty = true;  // try again next time
      if (first.is_ok()) first = st;
    }
  }
  return first;
}

Status ServiceLoad::wake(const std::string& service_id) {
  redis::SetOptions o;
  o.ttl = kDemandTtl;
  auto set = redis_.set(prefix_ + "demand:" + service_id, "1", o);
  if (!set.is_ok()) return set.status();
  auto pub = redis_.publish("scn:scheduler:wake", service_id);
  return pub.is_ok() ? Status::ok() : pub.status();
}

void ServiceLoad::start(std::chrono::milliseconds period) {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this, period] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      cv_.wait_for(lock, period, [this] { return stopping_; });
      if (stopping_) break;
      lock.unlock();
      Status st = publish();
      if (!st.is_ok()) common::log_warn("gateway: publishing service load: ", st.to_string());
      lock.lock();
    }
  });
}

void ServiceLoad::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

}  // namespace scn::broker
