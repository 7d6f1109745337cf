#include "broker/gateway/balancer.h"

#include <boost/json.hpp>

#include <algorithm>

namespace scn::broker {
namespace {

constexpr std::chrono::seconds kReportedFor{5};

void append_capped(std::string& out, std::string_view text, std::size_t max_bytes) {
  if (out.size() >= max_bytes) return;
  out.append(text.substr(0, max_bytes - out.size()));
}

// The text of a message's content: a string, or the "text" of its parts.
void append_content(std::string& out, const boost::json::value& content, std::size_t max_bytes) {
  if (content.is_string()) return append_capped(out, content.get_string(), max_bytes);
  if (!content.is_array()) return;
  for (const auto& part : content.get_array()) {
    if (!part.is_object()) continue;
    const auto* text = part.get_object().if_contains("text");
    if (text != nullptr && text->is_string()) append_capped(out, text->get_string(), max_bytes);
  }
}

}  // namespace

std::string prompt_prefix(const boost::json::object& body, std::size_t max_bytes) {
  std::string out;
  if (const auto* messages = body.if_contains("messages"); messages != nullptr && messages->is_array()) {
    for (const auto& m : messages->get_array()) {
      if (!m.is_object() || out.size() >= max_bytes) continue;
      const auto& msg = m.get_object();
      if (const auto* role = msg.if_contains("role"); role != nullptr && role->is_string()) {
        append_capped(out, role->get_string(), max_bytes);
      }
      append_capped(out, "\n", max_bytes);
      if (const auto* content = msg.if_contains("content")) append_content(out, *content, max_bytes);
      append_capped(out, "\n", max_bytes);
    }
    return out;
  }
  const auto* prompt = body.if_contains("prompt");
  if (prompt == nullptr) return out;
  if (prompt->is_string()) {
    append_capped(out, prompt->get_string(), max_bytes);
  } else if (prompt->is_array() && !prompt->get_array().empty()) {
    const auto& first = prompt->get_array().front();
    if (first.is_string()) {
      append_capped(out, first.get_string(), max_bytes);
    } else {
      // Token ids, written "id," one after the other, up to max_bytes.
      for (const auto& t : prompt->get_array()) {
        if (out.size() >= max_bytes) break;
        append_capped(out, boost::json::serialize(t) + ",", max_bytes);
      }
    }
  }
  return out;
}

std::uint64_t prefix_hash(std::string_view service_id, std::string_view prefix) {
  if (prefix.empty()) return 0;
  std::uint64_t h = 14695981039346656037ull;
  auto mix = [&](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
  };
  mix(service_id);
  mix(std::string_view("\0", 1));
  mix(prefix);
  return h == 0 ? 1 : h;
}

EndpointBalancer::EndpointBalancer(std::chrono::milliseconds bad_for)
    : EndpointBalancer(BalancerOptions{bad_for}) {}

EndpointBalancer::EndpointBalancer(BalancerOptions options) : options_(options) {
  if (options_.affinity_entries == 0) options_.affinity_entries = 1;
  if (options_.affinity_margin < 0) options_.affinity_margin = 0;
}

int EndpointBalancer::load_locked(const std::string& url, Clock::time_point now) const {
  auto it = outstanding_.find(url);
  int load = it == outstanding_.end() ? 0 : it->second;
  auto r = reported_.find(url);
  if (r != reported_.end() && now - r->second.at < kReportedFor) load = std::max(load, r->second.load);
  return load;
}

std::optional<Endpoint> EndpointBalancer::pick(const std::string& service_id,
                                               const std::vector<Endpoint>& endpoints,
                                               const std::vector<std::string>& tried_urls,
                                               std::uint64_t prefix) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto now = Clock::now();
  std::vector<const Endpoint*> good, bad;
  for (const auto& e : endpoints) {
    if (std::find(tried_urls.begin(), tried_urls.end(), e.url) != tried_urls.end()) continue;
    auto b = bad_until_.find(e.url);
    const bool is_bad = b != bad_until_.end() && b->second > now;
    if (b != bad_until_.end() && !is_bad) bad_until_.erase(b);
    (is_bad ? bad : good).push_back(&e);
  }
  auto& pool = good.empty() ? bad : good;
  if (pool.empty()) return std::nullopt;
  int least = -1;
  std::vector<const Endpoint*> best;
  for (const Endpoint* e : pool) {
    const int n = load_locked(e->url, now);
    if (least < 0 || n < least) {
      least = n;
      best.clear();
    }
    if (n == least) best.push_back(e);
  }
  const Endpoint* chosen = nullptr;
  if (prefix != 0) {
    auto a = affinity_.find(prefix);
    if (a != affinity_.end()) {
      for (const Endpoint* e : pool) {
        if (e->url == a->second->second && load_locked(e->url, now) <= least + options_.affinity_margin) {
          chosen = e;
          break;
        }
      }
    }
  }
  if (chosen == nullptr) {
    const std::uint64_t turn = next_[service_id]++;
    chosen = best[turn % best.size()];
  }
  picked_at_[chosen->url] = now;
  return *chosen;
}

void EndpointBalancer::remember(std::uint64_t prefix, const std::string& url) {
  if (prefix == 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = affinity_.find(prefix);
  if (it != affinity_.end()) {
    it->second->second = url;
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  lru_.emplace_front(prefix, url);
  affinity_[prefix] = lru_.begin();
  while (lru_.size() > options_.affinity_entries) {
    affinity_.erase(lru_.back().first);
    lru_.pop_back();
  }
}

void EndpointBalancer::set_reported_load(const std::string& url, int load) {
  std::lock_guard<std::mutex> lock(mu_);
  reported_[url] = Reported{std::max(0, load), Clock::now()};
}

void EndpointBalancer::begin(const std::string& url) {
  std::lock_guard<std::mutex> lock(mu_);
  ++outstanding_[url];
}

void EndpointBalancer::end(const std::string& url) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = outstanding_.find(url);
  if (it == outstanding_.end()) return;
  if (--it->second <= 0) outstanding_.erase(it);
}

void EndpointBalancer::mark_bad(const std::string& url) {
  std::lock_guard<std::mutex> lock(mu_);
  bad_until_[url] = Clock::now() + options_.bad_for;
}

int EndpointBalancer::outstanding(const std::string& url) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = outstanding_.find(url);
  return it == outstanding_.end() ? 0 : it->second;
}

int EndpointBalancer::load(const std::string& url) const {
  std::lock_guard<std::mutex> lock(mu_);
  return load_locked(url, Clock::now());
}

bool EndpointBalancer::is_bad(const std::string& url) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = bad_until_.find(url);
  return it != bad_until_.end() && it->second > Clock::now();
}

std::vector<std::string> EndpointBalancer::recent_urls(std::chrono::milliseconds within) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  const auto now = Clock::now();
  for (const auto& [url, at] : picked_at_) {
    if (now - at <= within) out.push_back(url);
  }
  return out;
}

}  // namespace scn::broker
