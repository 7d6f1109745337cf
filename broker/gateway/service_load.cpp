#include "broker/gateway/service_load.h"

#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
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
constexpr size_t kMaxTtftSamples = 4096;

// Nearest-rank percentile of sorted values (p in (0, 1]).
double percentile(const std::vector<double>& sorted, double p) {
  const size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size(), std::max<size_t>(rank, 1)) - 1];
}

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
  it->second.last_request_ms = unix_ms();
  it->second.dirty = true;
}

int ServiceLoad::in_flight(const std::string& service_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(service_id);
  return it == entries_.end() ? 0 : it->second.in_flight;
}

void ServiceLoad::observe_ttft(const std::string& service_id, double ms) {
  if (!(ms >= 0) || !std::isfinite(ms)) return;
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = entries_[service_id];
  const auto now = Clock::now();
  prune(e, now);
  e.ttft.emplace_back(now, ms);
  while (e.ttft.size() > kMaxTtftSamples) e.ttft.pop_front();
  e.dirty = true;
}

ServiceLoad::TtftFigures ServiceLoad::ttft(const std::string& service_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(service_id);
  if (it == entries_.end()) return {};
  Entry copy = it->second;
  prune(copy, Clock::now());
  return figures(copy);
}

void ServiceLoad::observe_tokens(const std::string& service_id, int64_t completion_tokens) {
  if (completion_tokens <= 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = entries_[service_id];
  const auto now = Clock::now();
  prune(e, now);
  e.tokens.emplace_back(now, completion_tokens);
  while (e.tokens.size() > kMaxTtftSamples) e.tokens.pop_front();
  e.dirty = true;
}

double ServiceLoad::rate(const Entry& e, Clock::time_point now) const {
  if (e.tokens.empty()) return 0;
  int64_t sum = 0;
  for (const auto& [t, n] : e.tokens) sum += n;
  const Clock::duration window = ttft_window_;
  const Clock::duration floor = std::min<Clock::duration>(std::chrono::seconds(1), window);
  const Clock::duration span = std::max(floor, std::min<Clock::duration>(now - e.first_seen, window));
  if (span <= Clock::duration::zero()) return 0;
  return static_cast<double>(sum) / std::chrono::duration<double>(span).count();
}

double ServiceLoad::tokens_per_s(const std::string& service_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(service_id);
  if (it == entries_.end()) return 0;
  Entry copy = it->second;
  const auto now = Clock::now();
  prune(copy, now);
  return rate(copy, now);
}

void ServiceLoad::set_ttft_window(std::chrono::milliseconds window) {
  std::lock_guard<std::mutex> lock(mu_);
  ttft_window_ = window;
}

void ServiceLoad::prune(Entry& e, Clock::time_point now) const {
  if (!e.ttft.empty()) {
    while (!e.ttft.empty() && now - e.ttft.front().first > ttft_window_) e.ttft.pop_front();
    if (e.ttft.empty()) e.dirty = true;  // publish once more, without TTFT
  }
  if (!e.tokens.empty()) {
    while (!e.tokens.empty() && now - e.tokens.front().first > ttft_window_) e.tokens.pop_front();
    if (e.tokens.empty()) e.dirty = true;  // publish once more, without tokens/s
  }
}

ServiceLoad::TtftFigures ServiceLoad::figures(const Entry& e) {
  TtftFigures f;
  if (e.ttft.empty()) return f;
  std::vector<double> v;
  v.reserve(e.ttft.size());
  for (const auto& [t, ms] : e.ttft) v.push_back(ms);
  std::sort(v.begin(), v.end());
  f.count = static_cast<int>(v.size());
  f.p50_ms = percentile(v, 0.5);
  f.p90_ms = percentile(v, 0.9);
  return f;
}

Status ServiceLoad::publish() {
  std::vector<std::pair<std::string, Entry>> todo;
  std::vector<TtftFigures> ttfts;
  std::vector<std::pair<double, int>> rates;  // tokens/s, samples
  {
    std::lock_guard<std::mutex> lock(mu_);
    const auto now = Clock::now();
    for (auto it = entries_.begin(); it != entries_.end();) {
      prune(it->second, now);
      if (it->second.in_flight > 0 || it->second.dirty || !it->second.ttft.empty() ||
          !it->second.tokens.empty()) {
        Entry copy;
        copy.in_flight = it->second.in_flight;
        copy.last_request_ms = it->second.last_request_ms;
        todo.emplace_back(it->first, std::move(copy));
        ttfts.push_back(figures(it->second));
        rates.emplace_back(rate(it->second, now), static_cast<int>(it->second.tokens.size()));
        it->second.dirty = false;
        ++it;
      } else {
        it = entries_.erase(it);
      }
    }
  }
  Status first = Status::ok();
  for (size_t i = 0; i < todo.size(); ++i) {
    const auto& [id, e] = todo[i];
    const std::string key = prefix_ + "load:" + id;
    boost::json::object o{{"in_flight", e.in_flight}, {"last_request_ms", e.last_request_ms}};
    if (ttfts[i].count > 0) {
      o["ttft_p50_ms"] = ttfts[i].p50_ms;
      o["ttft_p90_ms"] = ttfts[i].p90_ms;
      o["ttft_count"] = ttfts[i].count;
    }
    if (rates[i].second > 0) {
      o["tokens_per_s"] = std::round(rates[i].first * 100) / 100;
      o["tokens_count"] = rates[i].second;
    }
    const std::string value = boost::json::serialize(o);
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
