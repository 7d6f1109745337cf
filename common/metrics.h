// A Prometheus registry: counters, gauges and histograms with labels,
// rendered in the text exposition format (version 0.0.4).
//
// Contract:
//  - Registry::counter/gauge/histogram return the series for (name, labels),
//    creating it on first use; the reference stays valid as long as the
//    Registry. Every call is thread-safe, and so are the metric operations.
//  - All series of one name share one kind and help text (the first
//    registration decides). A name or label name that is not valid
//    Prometheus syntax, or a name reused with another kind, is a programming
//    error: it is logged and the returned metric is not rendered.
//  - render() emits, per metric name in order of first registration,
//    "# HELP", "# TYPE" and one line per series; help text and label values
//    are escaped (\\, \n and, in label values, \"); histograms emit
//    cumulative _bucket{le=...} lines ending with le="+Inf", then _sum and _count.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace scn::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  // Adds `v` (>= 0; negative amounts are ignored: counters only go up).
  void inc(double v = 1.0);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void inc(double v = 1.0) { value_.fetch_add(v, std::memory_order_relaxed); }
  void dec(double v = 1.0) { value_.fetch_sub(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  // `bounds`: upper bounds of the buckets, sorted and de-duplicated here;
  // +Inf is implicit.
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<std::uint64_t> cumulative;  // per bound, then +Inf
    double sum = 0;
    std::uint64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::vector<std::uint64_t> counts_;  // per bucket (not cumulative), last is +Inf
  double sum_ = 0;
  std::uint64_t count_ = 0;
};

// Bucket bounds start, start*factor, ... (count of them).
std::vector<double> exponential_buckets(double start, double factor, int count);
// Bucket bounds start, start+width, ... (count of them).
std::vector<double> linear_buckets(double start, double width, int count);
// Latency buckets in seconds from 5 ms to 60 s.
const std::vector<double>& default_latency_buckets();

class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  Counter& counter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& gauge(const std::string& name, const std::string& help, const Labels& labels = {});
  // `buckets` applies when the series is created.
  Histogram& histogram(const std::string& name, const std::string& help,
                       const std::vector<double>& buckets, const Labels& labels = {});
  // A gauge whose value is read from `fn` at render time (e.g. a queue
  // length); registering again replaces the function. `fn` runs under the
  // registry's lock and must not call the registry.
  void gauge_callback(const std::string& name, const std::string& help, std::function<double()> fn,
                      const Labels& labels = {});
  // A counter whose value is read from `fn` at render time (a running total
  // kept elsewhere, e.g. by the inference engine); `fn` must never decrease.
  // Same rules as gauge_callback().
  void counter_callback(const std::string& name, const std::string& help,
                        std::function<double()> fn, const Labels& labels = {});

  std::string render() const;

 private:
  struct Family;
  struct Series;
  Series* find_or_add(const std::string& name, const std::string& help, int kind,
                      const Labels& labels, const std::vector<double>* buckets);

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Family>> families_;
  std::vector<std::unique_ptr<Series>> orphans_;  // rejected registrations
};

// The process-wide registry served at /metrics.
Registry& default_registry();

// Escaping used by render(): label values and help text.
std::string escape_label_value(std::string_view v);
std::string escape_help(std::string_view v);
// A sample value: shortest round-trip form, "+Inf", "-Inf", "NaN".
std::string format_value(double v);

}  // namespace scn::metrics
