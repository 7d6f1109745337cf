#include "common/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "common/log.h"

namespace scn::metrics {

namespace {

enum Kind { kCounter = 0, kGauge = 1, kHistogram = 2, kGaugeFn = 3, kCounterFn = 4 };

bool valid_name(std::string_view n, bool label) {
  if (n.empty()) return false;
  for (std::size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (!label && c == ':');
    if (!(alpha || (i > 0 && c >= '0' && c <= '9'))) return false;
  }
  if (label && n.size() >= 2 && n[0] == '_' && n[1] == '_') return false;  // reserved
  return true;
}

std::string_view type_name(int kind) {
  switch (kind) {
    case kCounter: return "counter";
    case kHistogram: return "histogram";
    default: return "gauge";
  }
}

}  // namespace

void Counter::inc(double v) {
  if (v > 0) value_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  std::erase_if(bounds_, [](double b) { return std::isnan(b) || std::isinf(b); });
  std::sort(bounds_.begin(), bounds_.end());
  bounds_.erase(std::unique(bounds_.begin(), bounds_.end()), bounds_.end());
  counts_.assign(bounds_.size() + 1, 0);
}

void Histogram::observe(double v) {
  auto idx = std::isnan(v) ? bounds_.size()
                           : static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) -
                                                      bounds_.begin());
  std::lock_guard lock(mu_);
  ++counts_[idx];
  sum_ += v;
  ++count_;
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.bounds = bounds_;
  std::lock_guard lock(mu_);
  std::uint64_t acc = 0;
  for (auto c : counts_) {
    acc += c;
    s.cumulative.push_back(acc);
  }
  s.sum = sum_;
  s.count = count_;
  return s;
}

std::vector<double> exponential_buckets(double start, double factor, int count) {
  std::vector<double> b;
  for (int i = 0; i < count; ++i, start *= factor) b.push_back(start);
  return b;
}

std::vector<double> linear_buckets(double start, double width, int count) {
  std::vector<double> b;
  for (int i = 0; i < count; ++i) b.push_back(start + width * i);
  return b;
}

const std::vector<double>& default_latency_buckets() {
  static const std::vector<double> b = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                        1,     2.5,  5,     10,   30,  60};
  return b;
}

std::string escape_label_value(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string escape_help(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

// ---- Registry ------------------------------------------------------------------

struct Registry::Series {
  Labels labels;
  Counter counter;
  Gauge gauge;
  std::unique_ptr<Histogram> histogram;
  std::function<double()> fn;
};

struct Registry::Family {
  std::string name;
  std::string help;
  int kind;
  std::vector<std::unique_ptr<Series>> series;
};

Registry::Registry() = default;
Registry::~Registry() = default;

Registry::Series* Registry::find_or_add(const std::string& name, const std::string& help, int kind,
                                        const Labels& labels, const std::vector<double>* buckets) {
  std::lock_guard lock(mu_);
  auto orphan = [&](const std::string& why) {
    common::log_error("metrics: ", why);
    auto s = std::make_unique<Series>();
    if (buckets) s->histogram = std::make_unique<Histogram>(*buckets);
    orphans_.push_back(std::move(s));
    return orphans_.back().get();
  };
  if (!valid_name(name, false)) return orphan("invalid metric name '" + name + "'");
  for (const auto& [k, v] : labels) {
    if (!valid_name(k, true)) return orphan("invalid label name '" + k + "' of " + name);
    if (kind == kHistogram && k == "le") return orphan("label 'le' is reserved in histogram " + name);
  }
  const int family_kind = kind == kGaugeFn ? kGauge : kind == kCounterFn ? kCounter : kind;
  Family* family = nullptr;
  for (auto& f : families_)
    if (f->name == name) family = f.get();
  if (!family) {
    families_.push_back(std::make_unique<Family>(Family{name, help, family_kind, {}}));
    family = families_.back().get();
  } else if (family->kind != family_kind) {
    return orphan("metric '" + name + "' registered as " + std::string(type_name(family->kind)) +
                  " and as " + std::string(type_name(family_kind)));
  }
  Labels sorted = labels;
  std::sort(sorted.begin(), sorted.end());
  for (auto& s : family->series)
    if (s->labels == sorted) return s.get();
  auto s = std::make_unique<Series>();
  s->labels = std::move(sorted);
  if (kind == kHistogram) s->histogram = std::make_unique<Histogram>(*buckets);
  family->series.push_back(std::move(s));
  return family->series.back().get();
}

Counter& Registry::counter(const std::string& name, const std::string& help, const Labels& labels) {
  return find_or_add(name, help, kCounter, labels, nullptr)->counter;
}

Gauge& Registry::gauge(const std::string& name, const std::string& help, const Labels& labels) {
  return find_or_add(name, help, kGauge, labels, nullptr)->gauge;
}

Histogram& Registry::histogram(const std::string& name, const std::string& help,
                               const std::vector<double>& buckets, const Labels& labels) {
  return *find_or_add(name, help, kHistogram, labels, &buckets)->histogram;
}

void Registry::gauge_callback(const std::string& name, const std::string& help,
                              std::function<double()> fn, const Labels& labels) {
  Series* s = find_or_add(name, help, kGaugeFn, labels, nullptr);
  std::lock_guard lock(mu_);
  s->fn = std::move(fn);
}

void Registry::counter_callback(const std::string& name, const std::string& help,
                                std::function<double()> fn, const Labels& labels) {
  Series* s = find_or_add(name, help, kCounterFn, labels, nullptr);
  std::lock_guard lock(mu_);
  s->fn = std::move(fn);
}

namespace {

std::string label_text(const Labels& labels, const std::string* le = nullptr) {
  if (labels.empty() && !le) return "";
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ',';
    first = false;
    out += k + "=\"" + escape_label_value(v) + "\"";
  }
  if (le) out += std::string(first ? "" : ",") + "le=\"" + *le + "\"";
  return out + "}";
}

}  // namespace

std::string Registry::render() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& f : families_) {
    out += "# HELP " + f->name + " " + escape_help(f->help) + "\n";
    out += "# TYPE " + f->name + " " + std::string(type_name(f->kind)) + "\n";
    for (const auto& s : f->series) {
      if (f->kind == kHistogram) {
        Histogram::Snapshot snap = s->histogram->snapshot();
        for (std::size_t i = 0; i <= snap.bounds.size(); ++i) {
          std::string le = i < snap.bounds.size() ? format_value(snap.bounds[i]) : "+Inf";
          out += f->name + "_bucket" + label_text(s->labels, &le) + " " +
                 std::to_string(snap.cumulative[i]) + "\n";
        }
        out += f->name + "_sum" + label_text(s->labels) + " " + format_value(snap.sum) + "\n";
        out += f->name + "_count" + label_text(s->labels) + " " + std::to_string(snap.count) + "\n";
        continue;
      }
      double v = s->fn ? s->fn() : f->kind == kCounter ? s->counter.value() : s->gauge.value();
      out += f->name + label_text(s->labels) + " " + format_value(v) + "\n";
    }
  }
  return out;
}

Registry& default_registry() {
  static Registry* r = new Registry();  // never destroyed: used until exit
  return *r;
}

}  // namespace scn::metrics
