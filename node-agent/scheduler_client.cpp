#include "node-agent/scheduler_client.h"

#include <algorithm>

#include "common/log.h"

namespace scn::node_agent {
namespace {

constexpr std::chrono::milliseconds kFirstBackoff{250};
constexpr std::chrono::milliseconds kMaxBackoff{8000};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

}  // namespace

Result<std::vector<std::string>> parse_scheduler_urls(std::string_view text) {
  std::vector<std::string> out;
  size_t begin = 0;
  while (begin <= text.size()) {
    size_t end = text.find(',', begin);
    if (end == std::string_view::npos) end = text.size();
    std::string item(trim(text.substr(begin, end - begin)));
    while (!item.empty() && item.back() == '/') item.pop_back();
    begin = end + 1;
    if (item.empty()) {
      if (trim(text).empty()) break;
      return Status::invalid_argument("--scheduler: an empty URL in '" + std::string(text) + "'");
    }
    const bool http = starts_with(item, "http://"), https = starts_with(item, "https://");
    if ((!http && !https) || item.size() == (http ? 7u : 8u))
      return Status::invalid_argument("--scheduler: expected http(s)://host:port, got '" + item + "'");
    if (std::find(out.begin(), out.end(), item) == out.end()) out.push_back(std::move(item));
  }
  if (out.empty()) return Status::invalid_argument("--scheduler is required");
  return out;
}

SchedulerClient::SchedulerClient(std::vector<std::string> urls, std::string log_prefix)
    : urls_(std::move(urls)), prefix_(std::move(log_prefix)), targets_(urls_.size()) {}

std::chrono::milliseconds SchedulerClient::backoff(int failures) {
  auto d = kFirstBackoff;
  for (int i = 1; i < failures && d < kMaxBackoff; ++i) d *= 2;
  return std::min(d, kMaxBackoff);
}

std::string SchedulerClient::current() const {
  std::lock_guard lock(mu_);
  return urls_.empty() ? std::string() : urls_[current_];
}

std::string SchedulerClient::describe() const {
  std::string out;
  for (const auto& u : urls_) out += (out.empty() ? "" : ",") + u;
  return out;
}

std::vector<size_t> SchedulerClient::plan(Clock::time_point now) const {
  std::vector<size_t> order;
  const size_t n = urls_.size();
  for (size_t k = 0; k < n; ++k) {
    const size_t i = (current_ + k) % n;
    if (targets_[i].retry_at <= now) order.push_back(i);
  }
  if (order.empty() && n > 0) {  // all backing off: the one that is due first
    size_t best = current_;
    for (size_t i = 0; i < n; ++i)
      if (targets_[i].retry_at < targets_[best].retry_at) best = i;
    order.push_back(best);
  }
  return order;
}

void SchedulerClient::failed(size_t i, const std::string& why, const std::vector<size_t>& plan,
                             size_t pos) {
  Target& t = targets_[i];
  ++t.failures;
  t.retry_at = Clock::now() + backoff(t.failures);
  if (pos + 1 < plan.size()) {
    current_ = plan[pos + 1];
    // Losing the scheduler that answered last is worth a warning; probing
    // the others during an outage is not.
    if (i == last_answered_ || last_answered_ == static_cast<size_t>(-1))
      common::log_warn(prefix_, ": scheduler ", urls_[i], " failed (", why, "); switching to ",
                       urls_[current_]);
    else
      common::log_debug(prefix_, ": scheduler ", urls_[i], " failed (", why, "); trying ",
                        urls_[current_]);
  } else if (urls_.size() > 1) {
    current_ = (i + 1) % urls_.size();
  }
}

void SchedulerClient::answered(size_t i) {
  targets_[i] = Target{};
  current_ = i;
  if (i != last_answered_ && (urls_.size() > 1 || last_answered_ != static_cast<size_t>(-1)))
    common::log_info(prefix_, ": using scheduler ", urls_[i]);
  last_answered_ = i;
}

Result<http::ClientResponse> SchedulerClient::post(std::string_view path, std::string_view body,
                                                   const http::Headers& headers,
                                                   std::chrono::milliseconds timeout) {
  std::vector<size_t> order;
  {
    std::lock_guard lock(mu_);
    order = plan(Clock::now());
  }
  Result<http::ClientResponse> last = Status::unavailable("no scheduler URL");
  for (size_t pos = 0; pos < order.size(); ++pos) {
    const size_t i = order[pos];
    last = http::request("POST", urls_[i] + std::string(path), body, headers, timeout);
    std::string why;
    if (!last.is_ok()) why = last.status().to_string();
    else if (last->status >= 500) why = "HTTP " + std::to_string(last->status);
    std::lock_guard lock(mu_);
    if (why.empty()) {
      answered(i);
      return last;
    }
    failed(i, why, order, pos);
  }
  return last;
}

}  // namespace scn::node_agent
