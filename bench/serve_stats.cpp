#include "bench/serve_stats.h"

#include <algorithm>
#include <cmath>
#include <random>

#include <boost/json.hpp>

namespace scn::bench {
namespace json = boost::json;

std::vector<std::vector<int32_t>> build_prompts(const std::vector<int32_t>& pool, int count,
                                                int prompt_tokens, int shared_prefix,
                                                uint64_t seed) {
  std::vector<std::vector<int32_t>> out;
  if (pool.empty() || count < 0 || prompt_tokens < 1 || shared_prefix < 0 ||
      shared_prefix >= prompt_tokens)
    return out;
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, pool.size() - 1);
  std::vector<int32_t> prefix;
  for (int i = 0; i < shared_prefix; ++i) prefix.push_back(pool[pick(rng)]);
  // The id right after the prefix cycles through the pool from a random
  // start, so that any two prompts (of up to pool.size()) differ there.
  const size_t start = pick(rng);
  for (int c = 0; c < count; ++c) {
    std::vector<int32_t> p = prefix;
    p.push_back(pool[(start + static_cast<size_t>(c)) % pool.size()]);
    while (static_cast<int>(p.size()) < prompt_tokens) p.push_back(pool[pick(rng)]);
    out.push_back(std::move(p));
  }
  return out;
}

StreamEvent read_stream_event(std::string_view data) {
  StreamEvent ev;
  if (data == "[DONE]") {
    ev.done = true;
    return ev;
  }
  boost::system::error_code ec;
  json::value v = json::parse(data, ec);
  if (ec || !v.is_object()) {
    ev.error = true;
    ev.error_message = "malformed event: " + std::string(data.substr(0, 200));
    return ev;
  }
  const json::object& o = v.as_object();
  if (const json::value* e = o.if_contains("error")) {
    ev.error = true;
    const json::value* m = e->is_object() ? e->as_object().if_contains("message") : nullptr;
    ev.error_message = m && m->is_string() ? std::string(m->as_string()) : json::serialize(*e);
    return ev;
  }
  if (const json::value* ch = o.if_contains("choices"); ch && ch->is_array() && !ch->as_array().empty()) {
    const json::value& c0 = ch->as_array()[0];
    if (c0.is_object()) {
      const json::object& c = c0.as_object();
      if (const json::value* t = c.if_contains("text"); t && t->is_string()) ev.text = t->as_string();
      if (const json::value* d = c.if_contains("delta"); d && d->is_object())
        if (const json::value* t = d->as_object().if_contains("content"); t && t->is_string())
          ev.text = t->as_string();
      if (const json::value* f = c.if_contains("finish_reason"); f && f->is_string()) ev.finished = true;
    }
  }
  if (const json::value* u = o.if_contains("usage"); u && u->is_object()) {
    const json::object& uo = u->as_object();
    auto get_int = [](const json::object& obj, const char* key, int* out) {
      const json::value* x = obj.if_contains(key);
      if (!x || !x->is_number()) return false;
      *out = static_cast<int>(x->to_number<double>());
      return true;
    };
    ev.has_usage = get_int(uo, "prompt_tokens", &ev.prompt_tokens);
    get_int(uo, "completion_tokens", &ev.completion_tokens);
    if (const json::value* d = uo.if_contains("prompt_tokens_details"); d && d->is_object())
      ev.has_cached = get_int(d->as_object(), "cached_tokens", &ev.cached_tokens);
  }
  return ev;
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  p = std::clamp(p, 0.0, 100.0);
  // Nearest rank: the smallest value with at least p% of the values <= it.
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size())));
  if (rank < 1) rank = 1;
  return values[rank - 1];
}

ServeStats summarize(const std::vector<RequestSample>& samples, double wall_seconds) {
  ServeStats s;
  s.requests = static_cast<int>(samples.size());
  s.wall_seconds = wall_seconds;
  std::vector<double> ttft, tpot;
  bool any_cached = false;
  for (const RequestSample& r : samples) {
    if (r.http_status == 429) {
      ++s.rejected;
      continue;
    }
    if (!r.ok) {
      ++s.failed;
      if (s.first_error.empty())
        s.first_error = r.error.empty() ? "HTTP " + std::to_string(r.http_status) : r.error;
      continue;
    }
    ++s.ok;
    s.generated_tokens += r.completion_tokens;
    if (r.completion_tokens >= 1) ttft.push_back(r.ttft);
    if (r.completion_tokens >= 2) tpot.push_back((r.last_token - r.ttft) / (r.completion_tokens - 1));
    if (r.has_usage) {
      s.prompt_tokens += r.prompt_tokens;
      s.cached_tokens += r.cached_tokens;
      any_cached = any_cached || r.has_cached;
    }
  }
  s.tok_s = wall_seconds > 0 ? static_cast<double>(s.generated_tokens) / wall_seconds : 0;
  s.ttft_p50 = percentile(ttft, 50);
  s.ttft_p99 = percentile(ttft, 99);
  s.tpot_p50 = percentile(tpot, 50);
  s.tpot_p99 = percentile(tpot, 99);
  if (any_cached && s.prompt_tokens > 0)
    s.prefix_hit_rate = static_cast<double>(s.cached_tokens) / static_cast<double>(s.prompt_tokens);
  return s;
}

}  // namespace scn::bench
