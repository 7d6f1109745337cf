#include "inference/engine/generation.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <string>
#include <utility>

#include "inference/engine/sampler.h"

namespace scn::inference {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

bool cancelled(const GenerateRequest& req) {
  return req.cancel && req.cancel->load(std::memory_order_relaxed);
}

}  // namespace

Generator::Generator(Context& ctx, std::function<bool(int32_t)> is_eog)
    : ctx_(ctx), is_eog_(std::move(is_eog)) {
  ctx_.truncate(0);
}

Status Generator::check(const GenerateRequest& req) const {
  return check_request(req, ctx_.n_vocab(), ctx_.n_ctx());
}

Status check_request(const GenerateRequest& req, int32_t n_vocab, int32_t n_ctx) {
  if (req.prompt.empty()) return Status::invalid_argument("the prompt has no tokens");
  for (size_t i = 0; i < req.prompt.size(); ++i) {
    const int32_t id = req.prompt[i];
    if (id < 0 || id >= n_vocab)
      return Status::invalid_argument("prompt token " + std::to_string(i) + " has id " +
                                      std::to_string(id) + ", outside the vocabulary [0, " +
                                      std::to_string(n_vocab) + ")");
  }
  if (req.max_tokens < 1)
    return Status::invalid_argument("max_tokens must be at least 1, got " +
                                    std::to_string(req.max_tokens));
  if (req.top_logprobs < 0 || req.top_logprobs > 20)
    return Status::invalid_argument("top_logprobs must be in 0..20, got " +
                                    std::to_string(req.top_logprobs));
  SCN_RETURN_IF_ERROR(validate_sampling(req.sampling));
  if (req.prompt.size() + 1 > static_cast<size_t>(n_ctx))
    return Status::too_large("the prompt has " + std::to_string(req.prompt.size()) +
                             " tokens; the context holds " + std::to_string(n_ctx) +
                             " (prompt and at least one generated token)");
  return Status::ok();
}

Result<GenerateResult> Generator::run(const GenerateRequest& req, const TokenCallback& on_token) {
  SCN_RETURN_IF_ERROR(check(req));
  GenerateResult result;
  result.prompt_tokens = static_cast<int>(req.prompt.size());
  if (cancelled(req)) {
    result.finish = FinishReason::kCancelled;
    return result;
  }

  // Reuse the cached prefix; the last prompt token is always evaluated.
  const size_t limit = std::min(cached_.size(), req.prompt.size() - 1);
  size_t common = 0;
  while (common < limit && cached_[common] == req.prompt[common]) ++common;
  ctx_.truncate(static_cast<int32_t>(common));
  cached_.resize(common);
  last_reused_ = static_cast<int>(common);

  logits_.resize(static_cast<size_t>(ctx_.n_vocab()));
  const auto t_prompt = Clock::now();
  std::span<const int32_t> rest(req.prompt.data() + common, req.prompt.size() - common);
  if (Status st = ctx_.eval(rest, static_cast<int32_t>(common), logits_.data(), false);
      !st.is_ok()) {
    ctx_.truncate(0);
    cached_.clear();
    return st.with_context("evaluating the prompt");
  }
  cached_.insert(cached_.end(), rest.begin(), rest.end());
  result.prompt_seconds = seconds_since(t_prompt);

  const auto t_decode = Clock::now();
  Sampler sampler(req.sampling, ctx_.n_vocab());
  sampler.add_context(req.prompt);
  const bool want_logprobs = req.logprobs || req.top_logprobs > 0;
  TokenEvent event;
  result.finish = FinishReason::kLength;
  for (;;) {
    if (cancelled(req)) {
      result.finish = FinishReason::kCancelled;
      break;
    }
    const int32_t token = sampler.sample(logits_.data());
    if (!req.ignore_eos && is_eog_(token)) {
      result.finish = FinishReason::kStop;
      break;
    }
    event.token = token;
    if (want_logprobs) {
      Logprobs lp = compute_logprobs(logits_, token, req.top_logprobs);
      event.logprob = lp.chosen;
      event.top = std::move(lp.top);
    }
    sampler.accept(token);
    ++result.completion_tokens;
    bool go_on = true;
    try {
      go_on = on_token ? on_token(event) : true;
    } catch (const std::exception& e) {
      return Status::internal(std::string("token callback threw: ") + e.what());
    } catch (...) {
      return Status::internal("token callback threw");
    }
    if (!go_on || cancelled(req)) {
      result.finish = FinishReason::kCancelled;
      break;
    }
    if (result.completion_tokens >= req.max_tokens) break;        // kLength
    if (ctx_.n_past() >= ctx_.n_ctx()) break;                      // context full: kLength
    const int32_t pos = ctx_.n_past();
    if (Status st = ctx_.eval(std::span<const int32_t>(&token, 1), pos, logits_.data(), false);
        !st.is_ok()) {
      ctx_.truncate(0);
      cached_.clear();
      return st.with_context("evaluating generated token " +
                             std::to_string(result.completion_tokens));
    }
    cached_.push_back(token);
  }
  result.decode_seconds = seconds_since(t_decode);
  return result;
}

}  // namespace scn::inference
