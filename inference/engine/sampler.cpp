#include "inference/engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace scn::inference {

namespace {

// Best first: higher logit, then lower id (a strict weak order for finite
// logits; NaN never reaches it, see Sampler::filter).
bool better(const SamplerCandidate& a, const SamplerCandidate& b) {
  return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

bool better_lp(const TokenLogprob& a, const TokenLogprob& b) {
  return a.logprob > b.logprob || (a.logprob == b.logprob && a.token < b.token);
}

uint64_t random_seed() {
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

}  // namespace

Status validate_sampling(const SamplingParams& p) {
  auto bad = [](const char* name, double v, const char* range) {
    return Status::invalid_argument(std::string(name) + " = " + std::to_string(v) +
                                    " is out of range (" + range + ")");
  };
  if (!std::isfinite(p.temperature) || p.temperature < 0)
    return bad("temperature", p.temperature, ">= 0");
  if (p.top_k < 0) return bad("top_k", p.top_k, ">= 0");
  if (!std::isfinite(p.top_p) || p.top_p <= 0 || p.top_p > 1)
    return bad("top_p", p.top_p, "0 < top_p <= 1");
  if (!std::isfinite(p.min_p) || p.min_p < 0 || p.min_p > 1)
    return bad("min_p", p.min_p, "0 <= min_p <= 1");
  if (!std::isfinite(p.repeat_penalty) || p.repeat_penalty <= 0)
    return bad("repeat_penalty", p.repeat_penalty, "> 0");
  if (p.repeat_last_n < -1) return bad("repeat_last_n", p.repeat_last_n, ">= -1");
  if (!std::isfinite(p.frequency_penalty) || std::fabs(p.frequency_penalty) > 2)
    return bad("frequency_penalty", p.frequency_penalty, "-2 .. 2");
  if (!std::isfinite(p.presence_penalty) || std::fabs(p.presence_penalty) > 2)
    return bad("presence_penalty", p.presence_penalty, "-2 .. 2");
  return Status::ok();
}

bool plain_greedy(const SamplingParams& p) {
  const bool repeat = p.repeat_penalty != 1.0f && p.repeat_last_n != 0;
  return p.temperature <= 0 && !repeat && p.frequency_penalty == 0 && p.presence_penalty == 0;
}

Sampler::Sampler(const SamplingParams& params, int32_t n_vocab)
    : params_(params),
      n_vocab_(n_vocab),
      seed_(params.seed ? *params.seed : random_seed()),
      rng_(seed_),
      work_(static_cast<size_t>(n_vocab)) {}

void Sampler::add_context(std::span<const int32_t> tokens) {
  context_.insert(context_.end(), tokens.begin(), tokens.end());
}

void Sampler::accept(int32_t token) {
  context_.push_back(token);
  ++generated_[token];
}

void Sampler::apply_penalties(float* logits) const {
  const float rp = params_.repeat_penalty;
  if (rp != 1.0f && params_.repeat_last_n != 0 && !context_.empty()) {
    size_t n = params_.repeat_last_n < 0 ? context_.size()
                                         : std::min(context_.size(),
                                                    static_cast<size_t>(params_.repeat_last_n));
    std::vector<int32_t> window(context_.end() - static_cast<std::ptrdiff_t>(n), context_.end());
    std::sort(window.begin(), window.end());
    window.erase(std::unique(window.begin(), window.end()), window.end());
    for (int32_t id : window) {
      if (id < 0 || id >= n_vocab_) continue;
      float& l = logits[id];
      l = l > 0 ? l / rp : l * rp;
    }
  }
  if (params_.frequency_penalty != 0 || params_.presence_penalty != 0) {
    for (const auto& [id, count] : generated_) {
      if (id < 0 || id >= n_vocab_) continue;
      logits[id] -= static_cast<float>(count) * params_.frequency_penalty +
                    (count > 0 ? params_.presence_penalty : 0.0f);
    }
  }
}

void Sampler::apply_top_p() {
  // Exact without sorting the vocabulary: a histogram of the probability
  // mass by distance below the best logit finds the bucket in which the
  // cumulative mass reaches top_p; only that bucket is sorted.
  constexpr int kPerNat = 64;
  constexpr int kBuckets = 64 * 40;  // 40 nats; anything lower shares the last
  float max_l = -std::numeric_limits<float>::infinity();
  for (const auto& c : cands_) max_l = std::max(max_l, c.logit);
  if (std::isinf(max_l)) return;
  auto bucket_of = [&](float l) {
    const float d = (max_l - l) * kPerNat;
    return d < kBuckets - 1 ? static_cast<int>(d) : kBuckets - 1;
  };
  mass_.assign(kBuckets, 0.0);
  double z = 0;
  for (auto& c : cands_) {
    c.p = std::exp(c.logit - max_l);
    mass_[bucket_of(c.logit)] += c.p;
    z += c.p;
  }
  const double target = static_cast<double>(params_.top_p) * z;
  double cum = 0;
  int cut = kBuckets - 1;
  for (int b = 0; b < kBuckets; ++b) {
    if (cum + mass_[b] >= target) {
      cut = b;
      break;
    }
    cum += mass_[b];
  }
  auto head_end = std::partition(cands_.begin(), cands_.end(),
                                 [&](const SamplerCandidate& c) { return bucket_of(c.logit) < cut; });
  auto cut_end = std::partition(head_end, cands_.end(),
                                [&](const SamplerCandidate& c) { return bucket_of(c.logit) == cut; });
  std::sort(head_end, cut_end, better);
  auto keep = cut_end;
  for (auto it = head_end; it != cut_end; ++it) {
    cum += it->p;
    if (cum >= target) {
      keep = it + 1;
      break;
    }
  }
  cands_.erase(keep, cands_.end());
}

void Sampler::normalise() {
  float max_l = -std::numeric_limits<float>::infinity();
  for (const auto& c : cands_) max_l = std::max(max_l, c.logit);
  double z = 0;
  for (auto& c : cands_) {
    c.p = std::isinf(max_l) ? 1.0f : std::exp(c.logit - max_l);
    z += c.p;
  }
  for (auto& c : cands_) c.p = static_cast<float>(c.p / z);
}

void Sampler::filter(const float* logits) {
  std::copy(logits, logits + n_vocab_, work_.begin());
  // NaN logits (a broken model) must not poison the ordering: they lose.
  for (float& l : work_)
    if (std::isnan(l)) l = -std::numeric_limits<float>::infinity();
  apply_penalties(work_.data());
  cands_.clear();

  if (params_.temperature <= 0) {
    int32_t best = 0;
    for (int32_t i = 1; i < n_vocab_; ++i)
      if (work_[i] > work_[best]) best = i;
    cands_.push_back({best, work_[best], 1.0f});
    return;
  }

  cands_.resize(static_cast<size_t>(n_vocab_));
  for (int32_t i = 0; i < n_vocab_; ++i) cands_[i] = {i, work_[i], 0.f};

  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < cands_.size()) {
    const auto k = static_cast<std::ptrdiff_t>(params_.top_k);
    std::nth_element(cands_.begin(), cands_.begin() + k, cands_.end(), better);
    cands_.resize(static_cast<size_t>(k));
  }

  if (params_.top_p < 1.0f && cands_.size() > 1) apply_top_p();

  if (params_.min_p > 0.0f && cands_.size() > 1) {
    float max_l = -std::numeric_limits<float>::infinity();
    for (const auto& c : cands_) max_l = std::max(max_l, c.logit);
    const float threshold = max_l + std::log(params_.min_p);
    std::erase_if(cands_, [&](const SamplerCandidate& c) { return c.logit < threshold; });
  }

  if (params_.temperature != 1.0f)
    for (auto& c : cands_) c.logit /= params_.temperature;
  normalise();
}

std::span<const SamplerCandidate> Sampler::candidates(const float* logits) {
  filter(logits);
  return cands_;
}

double Sampler::uniform() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }

int32_t Sampler::sample(const float* logits) {
  filter(logits);
  if (cands_.size() == 1) return cands_[0].id;
  const double u = uniform();
  double cum = 0;
  for (const auto& c : cands_) {
    cum += c.p;
    if (u < cum) return c.id;
  }
  // Rounding left u above the total: the last candidate with mass takes it.
  for (auto it = cands_.rbegin(); it != cands_.rend(); ++it)
    if (it->p > 0) return it->id;
  return cands_.back().id;
}

Logprobs compute_logprobs(std::span<const float> logits, int32_t token, int top_n) {
  Logprobs out;
  if (logits.empty()) return out;
  float max_l = -std::numeric_limits<float>::infinity();
  for (float l : logits)
    if (l > max_l) max_l = l;
  double z = 0;
  for (float l : logits)
    if (!std::isnan(l)) z += std::exp(l - max_l);  // float exp, double sum
  const double lse = static_cast<double>(max_l) + std::log(z);
  auto lp = [&](int32_t id) {
    const float l = logits[static_cast<size_t>(id)];
    return std::isnan(l) ? -std::numeric_limits<float>::infinity()
                         : static_cast<float>(static_cast<double>(l) - lse);
  };
  if (token >= 0 && static_cast<size_t>(token) < logits.size()) out.chosen = lp(token);

  const size_t n = std::min(static_cast<size_t>(std::max(top_n, 0)), logits.size());
  if (n == 0) return out;
  // A min-heap (worst on top) of the n best seen so far: O(V log n).
  std::vector<TokenLogprob>& heap = out.top;
  heap.reserve(n + 1);
  auto worse_on_top = [](const TokenLogprob& a, const TokenLogprob& b) { return better_lp(a, b); };
  for (size_t i = 0; i < logits.size(); ++i) {
    const float l = logits[i];
    if (std::isnan(l)) continue;
    TokenLogprob t{static_cast<int32_t>(i), l};  // raw logit for now
    if (heap.size() < n) {
      heap.push_back(t);
      std::push_heap(heap.begin(), heap.end(), worse_on_top);
    } else if (better_lp(t, heap.front())) {
      std::pop_heap(heap.begin(), heap.end(), worse_on_top);
      heap.back() = t;
      std::push_heap(heap.begin(), heap.end(), worse_on_top);
    }
  }
  std::sort(heap.begin(), heap.end(), better_lp);
  for (auto& t : heap) t.logprob = static_cast<float>(static_cast<double>(t.logprob) - lse);
  return out;
}

}  // namespace scn::inference
