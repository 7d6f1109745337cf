// EndpointBalancer: which ready replica of a service gets a request.
//
// Contract:
//  - The load of an endpoint is max(requests outstanding through this
//    broker (begin/end), the load its worker last reported
//    (set_reported_load: queued + running sequences, forgotten after 5 s)).
//  - pick() chooses among the endpoints not tried yet, preferring those not
//    marked bad (a bad one is still picked when nothing else is left):
//      * with a prefix hash (non-zero) whose last server (remember()) is
//        among them and whose load is at most the least load + `margin`:
//        that one (prefix affinity: its KV cache holds the prefix);
//      * otherwise the least loaded, ties broken round robin per service.
//    mark_bad() sets an endpoint aside for `bad_for`.
//  - remember(prefix, url) records that `url` served `prefix` last; the
//    map keeps the `affinity_entries` most recently used prefixes (LRU).
//  - recent_urls(within) are the endpoints picked within that time (what
//    the load probe polls).
//  - prompt_prefix(body) is the start of what a completion request sends
//    the model: the chat messages' roles and text contents (system prompt,
//    first user message, ...) or the prompt (a string, the first of an
//    array of strings, or token ids), cut at `max_bytes`; prefix_hash() of
//    it and the service id is a 64-bit FNV-1a hash, 0 for an empty prefix
//    (no affinity).
//  - Thread-safe.
#pragma once

#include <boost/json/fwd.hpp>

#include <chrono>
#include <cstdint>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "broker/gateway/route_table.h"

namespace scn::broker {

struct BalancerOptions {
  std::chrono::milliseconds bad_for{3000};
  int affinity_margin = 2;             // extra load an affine replica may carry
  std::size_t affinity_entries = 4096;
};

class EndpointBalancer {
 public:
  explicit EndpointBalancer(std::chrono::milliseconds bad_for = std::chrono::milliseconds(3000));
  explicit EndpointBalancer(BalancerOptions options);

  std::optional<Endpoint> pick(const std::string& service_id, const std::vector<Endpoint>& endpoints,
                               const std::vector<std::string>& tried_urls, std::uint64_t prefix = 0);
  void begin(const std::string& url);  // one more request outstanding
  void end(const std::string& url);    // one less
  void mark_bad(const std::string& url);
  void remember(std::uint64_t prefix, const std::string& url);
  void set_reported_load(const std::string& url, int load);

  int outstanding(const std::string& url) const;
  int load(const std::string& url) const;
  bool is_bad(const std::string& url) const;
  std::vector<std::string> recent_urls(std::chrono::milliseconds within) const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Reported {
    int load = 0;
    Clock::time_point at;
  };
  int load_locked(const std::string& url, Clock::time_point now) const;

  BalancerOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, int> outstanding_;
  std::map<std::string, Clock::time_point> bad_until_;
  std::map<std::string, std::uint64_t> next_;  // round robin per service
  std::map<std::string, Reported> reported_;
  std::map<std::string, Clock::time_point> picked_at_;
  std::list<std::pair<std::uint64_t, std::string>> lru_;  // most recent first
  std::unordered_map<std::uint64_t, std::list<std::pair<std::uint64_t, std::string>>::iterator> affinity_;
};

std::string prompt_prefix(const boost::json::object& body, std::size_t max_bytes = 256);
std::uint64_t prefix_hash(std::string_view service_id, std::string_view prefix);

}  // namespace scn::broker
