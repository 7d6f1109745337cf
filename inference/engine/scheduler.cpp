// Scheduler: admission with prefix reuse, step planning with preemption,
// sampling and callbacks (see scheduler.h).
#include "inference/engine/scheduler.h"

#include <time.h>

#include <algorithm>
#include <exception>
#include <string>
#include <utility>

#include "common/log.h"
#include "inference/engine/sampler.h"

namespace scn::inference {

namespace {

using Clock = std::chrono::steady_clock;

double thread_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

bool cancel_set(const GenerateRequest& req) {
  return req.cancel && req.cancel->load(std::memory_order_relaxed);
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Steps a sequence's pending prefill may be passed over before it goes first.
constexpr int kMaxStarvedSteps = 4;

}  // namespace

struct Scheduler::Sequence {
  EngineJob* job = nullptr;
  std::vector<int32_t> tokens;     // the prompt, then the generated tokens
  int64_t n_computed = 0;          // positions whose K/V are in `blocks`
  std::vector<int> blocks;         // block table
  int64_t n_published = 0;         // leading blocks that are in the prefix index
  uint64_t chain = KvPool::kRootHash;  // chain hash of those blocks
  std::unique_ptr<Sampler> sampler;
  std::vector<float> logits;       // [n_vocab] (empty when device_greedy)
  bool device_greedy = false;      // plain greedy, no logprobs: the backend picks the token
  int32_t device_token = 0;        // ... into here (SeqChunk::argmax_out)
  GenerateResult result;
  uint64_t order = 0;              // admission order (renewed on re-admission)
  uint64_t first_order = 0;        // order of the first admission
  bool in_running = false;
  bool ever_admitted = false;
  bool prompt_done = false;        // the prompt's logits were sampled once
  int starved = 0;                 // steps in a row its pending prefill got no rows
  Clock::time_point t_admit, t_decode;

  int64_t pending() const { return static_cast<int64_t>(tokens.size()) - n_computed; }
};

Scheduler::Scheduler(BatchContext& batch, KvPool& pool, const SchedulerOptions& options,
                     std::function<bool(int32_t)> is_eog)
    : batch_(batch), pool_(pool), opt_(options), is_eog_(std::move(is_eog)) {}

Scheduler::~Scheduler() {
  for (auto& s : running_) release_blocks(*s);
}

bool Scheduler::prefix_in_flight(const std::vector<int32_t>& tokens, size_t cached) const {
  const int bt = pool_.block_tokens();
  if (!opt_.prefix_cache) return false;
  // Full blocks of `tokens` that admission may reuse: within its first n - 1.
  const auto reusable = static_cast<size_t>((static_cast<int64_t>(tokens.size()) - 1) / bt);
  if (reusable <= cached) return false;
  for (const auto& s : running_) {
    // A sequence still prefilling its prompt (never a recomputation after
    // preemption: its prompt's blocks were computed once already).
    if (s->prompt_done) continue;
    const size_t prompt_blocks = static_cast<size_t>(s->result.prompt_tokens / bt);
    const size_t limit = std::min(reusable, prompt_blocks);
    if (limit <= cached || s->n_published >= static_cast<int64_t>(limit)) continue;
    // Does its prompt start with the same tokens up to the end of block
    // `cached` (the first one not in the index), which it will publish?
    const auto off = static_cast<std::ptrdiff_t>(cached) * bt;
    if (std::equal(tokens.begin(), tokens.begin() + off + bt, s->tokens.begin()) &&
        s->n_published <= static_cast<int64_t>(cached))
      return true;
  }
  return false;
}

std::vector<int> Scheduler::lookup_prefix(const std::vector<int32_t>& tokens,
                                          uint64_t* chain) const {
  const int bt = pool_.block_tokens();
  const auto n = static_cast<int64_t>(tokens.size());
  // Reuse cached blocks over at most n - 1 tokens.
  std::vector<int> hits;
  *chain = KvPool::kRootHash;
  if (!opt_.prefix_cache) return hits;
  for (int64_t i = 0; (i + 1) * bt <= n - 1; ++i) {
    std::span<const int32_t> blk(tokens.data() + i * bt, static_cast<size_t>(bt));
    const int b = pool_.lookup(*chain, blk);
    if (b < 0) break;
    hits.push_back(b);
    *chain = KvPool::chain_hash(*chain, blk);
  }
  return hits;
}

Scheduler::Admission Scheduler::admit(SeqPtr& seq, bool wait_for_prefix) {
  if (static_cast<int>(running_.size()) >= opt_.max_running) return Admission::kNoRoom;
  const int bt = pool_.block_tokens();
  const auto n = static_cast<int64_t>(seq->tokens.size());
  uint64_t chain = KvPool::kRootHash;
  std::vector<int> hits = lookup_prefix(seq->tokens, &chain);
  if (wait_for_prefix && prefix_in_flight(seq->tokens, hits.size())) {
    for (int b : hits) pool_.release(b);
    return Admission::kWaitPrefix;
  }
  const int64_t need = ceil_div(n + 1, bt) - static_cast<int64_t>(hits.size());
  if (!running_.empty() && need + reserved_ > pool_.available()) {
    for (int b : hits) pool_.release(b);
    return Admission::kNoRoom;
  }
  reserved_ += static_cast<int>(std::max<int64_t>(0, need));
  seq->blocks = std::move(hits);
  seq->n_published = static_cast<int64_t>(seq->blocks.size());
  seq->chain = chain;
  seq->n_computed = seq->n_published * bt;
  seq->order = next_order_++;
  seq->in_running = true;
  if (!seq->ever_admitted) {
    seq->ever_admitted = true;
    seq->first_order = seq->order;
    seq->t_admit = Clock::now();
    seq->result.cached_prompt_tokens = static_cast<int>(seq->n_computed);
    seq->result.queue_seconds = seconds_between(seq->job->t_submit, seq->t_admit);
    ++admitted_;
    prompt_tokens_ += seq->result.prompt_tokens;
    cached_prompt_tokens_ += seq->result.cached_prompt_tokens;
  }
  running_.push_back(std::move(seq));
  return Admission::kAdmitted;
}

bool Scheduler::resume() {
  if (preempted_.empty()) return false;
  if (admit(preempted_.front(), false) != Admission::kAdmitted) return false;
  preempted_.pop_front();
  return true;
}

Scheduler::Admission Scheduler::try_admit(EngineJob* job) {
  const GenerateRequest& req = *job->req;
  auto seq = std::make_unique<Sequence>();
  seq->job = job;
  seq->tokens = req.prompt;
  seq->result.prompt_tokens = static_cast<int>(req.prompt.size());
  if (const Admission a = admit(seq, true); a != Admission::kAdmitted) return a;
  Sequence& s = *running_.back();
  s.sampler = std::make_unique<Sampler>(req.sampling, batch_.n_vocab());
  s.sampler->add_context(req.prompt);
  s.device_greedy = plain_greedy(req.sampling) && !req.logprobs && req.top_logprobs == 0;
  if (!s.device_greedy) s.logits.resize(static_cast<size_t>(batch_.n_vocab()));
  job->state = EngineJob::State::kRunning;
  return Admission::kAdmitted;
}

void Scheduler::release_blocks(Sequence& seq) {
  for (int b : seq.blocks) pool_.release(b);
  seq.blocks.clear();
  seq.n_computed = 0;
  seq.n_published = 0;
  seq.chain = KvPool::kRootHash;
}

Scheduler::Sequence* Scheduler::newest_running() {
  Sequence* best = nullptr;
  for (auto& s : running_)
    if (!best || s->order > best->order) best = s.get();
  return best;
}

void Scheduler::preempt(Sequence* seq) {
  release_blocks(*seq);
  auto it = std::find_if(running_.begin(), running_.end(),
                         [&](const SeqPtr& p) { return p.get() == seq; });
  SeqPtr owned = std::move(*it);
  running_.erase(it);
  owned->in_running = false;
  // Keep the preempted list in first-admitted order.
  auto pos = std::find_if(preempted_.begin(), preempted_.end(), [&](const SeqPtr& p) {
    return p->first_order > owned->first_order;
  });
  preempted_.insert(pos, std::move(owned));
  ++preemptions_;
}

bool Scheduler::grow(Sequence& seq, int64_t positions) {
  const int bt = pool_.block_tokens();
  while (static_cast<int64_t>(seq.blocks.size()) * bt < positions) {
    const int b = pool_.allocate();
    if (b < 0) return false;
    seq.blocks.push_back(b);
  }
  return true;
}

void Scheduler::publish_full_blocks(Sequence& seq) {
  if (!opt_.prefix_cache) return;
  const int bt = pool_.block_tokens();
  while ((seq.n_published + 1) * bt <= seq.n_computed) {
    std::span<const int32_t> blk(seq.tokens.data() + seq.n_published * bt,
                                 static_cast<size_t>(bt));
    seq.chain = pool_.publish(seq.blocks[static_cast<size_t>(seq.n_published)], seq.chain, blk);
    ++seq.n_published;
  }
}

void Scheduler::finish(Sequence& seq, FinishReason reason) {
  const auto now = Clock::now();
  seq.result.finish = reason;
  if (seq.prompt_done) seq.result.decode_seconds = seconds_between(seq.t_decode, now);
  seq.job->result = seq.result;
  finished_.push_back(seq.job);
  seq.job = nullptr;
}

void Scheduler::finish_error(Sequence& seq, Status st) {
  seq.job->result = std::move(st);
  finished_.push_back(seq.job);
  seq.job = nullptr;
}

bool Scheduler::sample_next(Sequence& seq) {
  const GenerateRequest& req = *seq.job->req;
  const auto now = Clock::now();
  if (!seq.prompt_done) {
    seq.prompt_done = true;
    seq.result.prompt_seconds = seconds_between(seq.t_admit, now);
    seq.t_decode = now;
  }
  if (cancel_set(req)) {
    finish(seq, FinishReason::kCancelled);
    return false;
  }
  const int32_t token =
      seq.device_greedy ? seq.device_token : seq.sampler->sample(seq.logits.data());
  if (seq.result.completion_tokens == 0)
    seq.result.first_token_seconds = seconds_between(seq.job->t_submit, Clock::now());
  if (!req.ignore_eos && is_eog_(token)) {
    finish(seq, FinishReason::kStop);
    return false;
  }
  TokenEvent event;
  event.token = token;
  if (req.logprobs || req.top_logprobs > 0) {
    Logprobs lp = compute_logprobs(seq.logits, token, req.top_logprobs);
    event.logprob = lp.chosen;
    event.top = std::move(lp.top);
  }
  seq.sampler->accept(token);
  seq.tokens.push_back(token);
  ++seq.result.completion_tokens;
  ++generated_tokens_;
  bool go_on = true;
  try {
    go_on = *seq.job->on_token ? (*seq.job->on_token)(event) : true;
  } catch (const std::exception& e) {
    finish_error(seq, Status::internal(std::string("token callback threw: ") + e.what()));
    return false;
  } catch (...) {
    finish_error(seq, Status::internal("token callback threw"));
    return false;
  }
  if (!go_on || cancel_set(req)) {
    finish(seq, FinishReason::kCancelled);
    return false;
  }
  if (seq.result.completion_tokens >= req.max_tokens ||
      static_cast<int64_t>(seq.tokens.size()) - 1 >= opt_.n_ctx) {
    finish(seq, FinishReason::kLength);
    return false;
  }
  return true;
}

std::vector<EngineJob*> Scheduler::abort_all(const Status& error) {
  finished_.clear();
  for (auto& s : running_) {
    release_blocks(*s);
    finish_error(*s, error);
  }
  for (auto& s : preempted_) finish_error(*s, error);
  running_.clear();
  preempted_.clear();
  return std::move(finished_);
}

std::vector<EngineJob*> Scheduler::step() {
  const bool trace = common::log_enabled(common::LogLevel::kDebug);
  const Clock::time_point t_step = trace ? Clock::now() : Clock::time_point{};
  finished_.clear();
  reserved_ = 0;  // admission's promises end here: planning allocates the blocks
  // Cancelled sequences leave before the step.
  for (auto& s : running_)
    if (cancel_set(*s->job->req)) finish(*s, FinishReason::kCancelled);
  for (auto& s : preempted_)
    if (cancel_set(*s->job->req)) finish(*s, FinishReason::kCancelled);
  auto drop_done = [&] {
    for (auto& s : running_)
      if (!s->job) release_blocks(*s);
    std::erase_if(running_, [](const SeqPtr& s) { return !s->job; });
    std::erase_if(preempted_, [](const SeqPtr& s) { return !s->job; });
  };
  drop_done();
  if (running_.empty()) return std::move(finished_);

  // ---- plan ----
  const int bt = pool_.block_tokens();
  struct Planned {
    Sequence* seq;
    int64_t n;
    bool decode;  // pass 1's one token, else a prefill chunk
  };
  std::vector<Planned> plan;
  int64_t budget = opt_.max_batch_tokens;
  auto planned = [&](const Sequence* s) {
    return std::any_of(plan.begin(), plan.end(), [&](const Planned& p) { return p.seq == s; });
  };
  // Pass 1: decode tokens, oldest first; the newest sequence is preempted
  // when blocks run out (it is never one already planned: those are older).
  std::vector<Sequence*> order;
  for (auto& s : running_) order.push_back(s.get());
  for (Sequence* s : order) {
    if (budget == 0) break;
    if (!s->in_running || !s->prompt_done || s->pending() != 1) continue;
    bool ok = true;
    while (!grow(*s, s->n_computed + 1)) {
      Sequence* victim = newest_running();
      preempt(victim);
      if (victim == s) {
        ok = false;
        break;
      }
    }
    if (!ok) continue;
    plan.push_back({s, 1, true});
    --budget;
  }
  // Pass 2: prefill chunks (prompts, and recomputation after preemption),
  // shortest remaining first so that prompts finish one after another
  // rather than all late; one that was passed over kMaxStarvedSteps steps
  // in a row goes first (oldest first among those), so a long prompt still
  // advances while shorter ones keep arriving.
  std::vector<Sequence*> prefill;
  for (Sequence* s : order)
    if (s->in_running && !planned(s) && s->pending() >= 1) prefill.push_back(s);
  std::stable_sort(prefill.begin(), prefill.end(), [](const Sequence* a, const Sequence* b) {
    const bool sa = a->starved >= kMaxStarvedSteps, sb = b->starved >= kMaxStarvedSteps;
    if (sa != sb) return sa;
    if (sa) return a->order < b->order;
    return a->pending() < b->pending();
  });
  // Step sizes (scheduler.h): aim at T = ceil(P / k) prefill rows, k the
  // fewest steps of this capacity that hold the pending prefill P; once a
  // prompt completes here, a chunk past T gets only the rows the other
  // k - 1 steps could not hold (each prompt completed here adds a decode
  // row to them).
  int64_t pending_prefill = 0;
  for (const Sequence* s : prefill) pending_prefill += s->pending();
  const int64_t capacity = budget;
  const int64_t steps_needed = capacity > 0 ? ceil_div(pending_prefill, capacity) : 0;
  const int64_t target = steps_needed > 0 ? ceil_div(pending_prefill, steps_needed) : 0;
  int64_t taken = 0, completed = 0;
  bool step_full = false;
  for (Sequence* s : prefill) {
    if (budget == 0 || step_full) break;
    if (!s->in_running) continue;  // preempted by an earlier one of this pass
    for (;;) {
      const int64_t room = static_cast<int64_t>(s->blocks.size()) * bt - s->n_computed +
                           static_cast<int64_t>(pool_.available()) * bt;
      int64_t n = std::min({s->pending(), budget, room});
      if (n > 0 && completed > 0 && taken + n > target) {
        const int64_t later = (steps_needed - 1) * std::max<int64_t>(0, capacity - completed);
        n = std::min(n, std::max<int64_t>(0, pending_prefill - taken - later));
        if (n == 0) {
          step_full = true;
          break;
        }
      }
      if (n > 0) {
        grow(*s, s->n_computed + n);
        plan.push_back({s, n, false});
        budget -= n;
        taken += n;
        if (n == s->pending()) ++completed;
        break;
      }
      if (!plan.empty()) break;
      // Nothing else runs: make room by preempting the newest other sequence.
      Sequence* victim = newest_running();
      if (victim == s) break;  // cannot happen while the pool holds n_ctx positions
      preempt(victim);
    }
  }
  if (plan.empty()) return std::move(finished_);
  for (Sequence* s : prefill)
    if (s->in_running) s->starved = planned(s) ? 0 : s->starved + 1;

  // ---- run ----
  std::vector<SeqChunk> chunks;
  chunks.reserve(plan.size());
  for (const Planned& p : plan) {
    Sequence& s = *p.seq;
    SeqChunk c;
    c.tokens = std::span<const int32_t>(s.tokens.data() + s.n_computed, static_cast<size_t>(p.n));
    c.pos0 = static_cast<int32_t>(s.n_computed);
    c.blocks = s.blocks;
    // The last pending token's output: the arg-max alone for plain greedy
    // sequences (sampled on the device), else the logits.
    if (s.n_computed + p.n == static_cast<int64_t>(s.tokens.size())) {
      if (s.device_greedy)
        c.argmax_out = &s.device_token;
      else
        c.logits = s.logits.data();
    }
    chunks.push_back(c);
  }
  Status st = Status::ok();
  const Clock::time_point t0 = trace ? Clock::now() : Clock::time_point{};
  const double c0 = trace ? thread_cpu_seconds() : 0;
  try {
    st = batch_.eval(chunks);
  } catch (const std::exception& e) {
    st = Status::internal(std::string("forward pass failed: ") + e.what());
  }
  if (!st.is_ok()) {
    for (const Planned& p : plan) finish_error(*p.seq, st.with_context("evaluating a batch"));
    drop_done();
    return std::move(finished_);
  }
  const Clock::time_point t1 = trace ? Clock::now() : Clock::time_point{};
  const double cpu = trace ? thread_cpu_seconds() - c0 : 0;
  int64_t decode_rows = 0, step_prefill = 0, outputs = 0;
  for (const Planned& p : plan) {
    Sequence& s = *p.seq;
    (p.decode ? decode_rows : step_prefill) += p.n;
    outputs += s.n_computed + p.n == static_cast<int64_t>(s.tokens.size());
    if (!p.decode) prefill_rows_ += p.n;
    s.n_computed += p.n;
    publish_full_blocks(s);
    if (s.pending() == 0) sample_next(s);
  }
  if (trace)
    common::log_debug("engine step: ", plan.size(), " chunks, ", decode_rows, " decode + ",
                      step_prefill, " prefill rows, ", outputs, " outputs; eval ",
                      1e3 * seconds_between(t0, t1), " ms wall, ", 1e3 * cpu,
                      " ms cpu (compute thread); step ", 1e3 * seconds_between(t_step, Clock::now()),
                      " ms wall (", 1e3 * seconds_between(t_step, t0), " before eval, ",
                      1e3 * seconds_between(t1, Clock::now()), " after it: ",
                      1e3 * (thread_cpu_seconds() - c0 - cpu), " ms cpu)");
  drop_done();
  return std::move(finished_);
}

}  // namespace scn::inference
