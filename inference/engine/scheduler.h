// The engine's continuous-batching scheduler: admits requests into the
// running batch, plans every forward step (decode tokens + prefill chunks),
// runs it on a BatchContext over the paged KvPool, samples, and calls back.
//
// Contract (all members are called from the engine's compute thread only):
//  - try_admit(job) admits a queued request when fewer than max_running
//    sequences run and the pool can hold its remaining prompt (blocks of a
//    cached prefix are reused first: the prefix index is walked block by
//    block over at most prompt.size() - 1 tokens, so the last prompt token is
//    always evaluated into a block of its own sequence): kAdmitted, else
//    kNoRoom. In-flight prefix sharing: a request whose next block after its
//    cached ones (within its first prompt.size() - 1 tokens) equals the
//    block at that place of a prompt still being prefilled is not admitted
//    (kWaitPrefix) until that block is published, and is then admitted with
//    the blocks computed meanwhile: n > 1 and prompts with a common prefix
//    arriving together compute the prefix once, not once each. A waiting
//    request holds no blocks; the engine may admit later requests past it.
//    A preempted sequence is re-admitted before any new request (resume()).
//  - step() runs one forward pass: first one decode token of every running
//    sequence that has one (oldest first), then prefill chunks up to
//    max_batch_tokens rows in all, shortest remaining prefill first (ties:
//    oldest first), so that with many prompts pending each one's first
//    token comes as early as the work before it allows instead of all of
//    them coming late together; a sequence whose pending prefill got no rows
//    in kMaxStarvedSteps (4) steps in a row goes before all others (oldest
//    first among those), so no prompt waits forever. Step sizes: the
//    pending prefill P needs k = ceil(P / C) steps at the step's prefill
//    capacity C (the cap less its decode rows); a step aims at ceil(P / k)
//    rows and, once it completes a prompt, does not start rows of another
//    it would only partly compute unless the rest would otherwise need more
//    than k - 1 further steps: the prompts a step completes get their first
//    token without waiting for rows that complete nothing, in as few steps
//    as the cap allows (a step that completes no prompt fills up to the
//    cap). When a sequence needs a block and none is free (cached
//    unreferenced blocks are evicted, LRU first), the most recently
//    admitted running sequence is preempted: its
//    blocks are released and it waits to be re-admitted, then recomputes its
//    prompt and the tokens it already generated (which are not emitted
//    again; its sampler state is kept, so greedy and seeded outputs are
//    unchanged).
//  - A sequence finishes at an end-of-generation token (kStop; not with
//    req.ignore_eos, where it is emitted like any other token), max_tokens
//    or a full context (kLength), or when its callback returns false / its
//    cancel flag is set (kCancelled; checked before every step too). A
//    finished sequence releases its blocks at once; step() returns its job
//    with job->result set.
//  - Full blocks are published to the prefix index as soon as they are
//    computed (when prefix_cache).
//  - At log level debug every step logs its chunks, decode and prefill
//    rows, outputs, the forward pass's wall and compute-thread CPU time and
//    the whole step's wall time (planning and sampling included).
//  - Sampling on the device: a sequence whose sampling is plain greedy
//    (plain_greedy(), engine/sampler.h) and that wants no logprobs asks the
//    BatchContext for the arg-max only (SeqChunk::argmax_out), so only the
//    token id leaves the device; the others get the logits and sample on the
//    host. Both give the same token for the same logits.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "common/status.h"
#include "inference/engine/engine.h"
#include "inference/model/batch_context.h"
#include "inference/model/kv_pool.h"

namespace scn::inference {

class Sampler;

// One generate() call, shared by the calling thread and the compute thread
// (under the engine's lock, except req/on_token which are read-only).
struct EngineJob {
  enum class State { kQueued, kRunning, kDone };
  const GenerateRequest* req = nullptr;
  const TokenCallback* on_token = nullptr;
  State state = State::kQueued;
  std::chrono::steady_clock::time_point t_submit = std::chrono::steady_clock::now();
  std::optional<Result<GenerateResult>> result;
};

struct SchedulerOptions {
  int max_batch_tokens = 512;
  int max_running = 32;
  int n_ctx = 0;              // per-sequence positions
  bool prefix_cache = true;
};

class Scheduler {
 public:
  Scheduler(BatchContext& batch, KvPool& pool, const SchedulerOptions& options,
            std::function<bool(int32_t)> is_eog);
  ~Scheduler();

  // A preempted sequence is re-admitted if it fits (true when one was).
  bool resume();
  bool has_preempted() const { return !preempted_.empty(); }
  enum class Admission { kAdmitted, kWaitPrefix, kNoRoom };
  // Admits a queued job or says why it stays queued.
  Admission try_admit(EngineJob* job);
  // Runs one step; returns the jobs that finished (result set).
  std::vector<EngineJob*> step();
  // Ends every admitted or preempted sequence with `error` (shutdown) and
  // returns their jobs.
  std::vector<EngineJob*> abort_all(const Status& error);

  int running() const { return static_cast<int>(running_.size()); }
  int preempted() const { return static_cast<int>(preempted_.size()); }
  bool idle() const { return running_.empty() && preempted_.empty(); }
  int64_t preemptions() const { return preemptions_; }
  int64_t admitted() const { return admitted_; }
  int64_t prompt_tokens() const { return prompt_tokens_; }
  int64_t cached_prompt_tokens() const { return cached_prompt_tokens_; }
  int64_t generated_tokens() const { return generated_tokens_; }
  // Rows of prompt (and recomputed) positions evaluated so far.
  int64_t prefill_rows() const { return prefill_rows_; }

 private:
  struct Sequence;
  using SeqPtr = std::unique_ptr<Sequence>;

  // Prefix lookup + capacity check (+ the in-flight wait for new requests).
  Admission admit(SeqPtr& seq, bool wait_for_prefix);
  // The cached blocks (retained) that `tokens` may reuse; *chain: their hash.
  std::vector<int> lookup_prefix(const std::vector<int32_t>& tokens, uint64_t* chain) const;
  void preempt(Sequence* seq);
  Sequence* newest_running();
  // Grows seq's block table to cover `positions`; false if the pool is out.
  bool grow(Sequence& seq, int64_t positions);
  void release_blocks(Sequence& seq);
  void publish_full_blocks(Sequence& seq);
  // Samples the next token after a computed step; false when seq finished.
  bool sample_next(Sequence& seq);
  void finish(Sequence& seq, FinishReason reason);
  void finish_error(Sequence& seq, Status st);
  // Whether a prompt being prefilled will publish the block of `tokens`
  // right after its `cached` leading blocks found in the index.
  bool prefix_in_flight(const std::vector<int32_t>& tokens, size_t cached) const;

  BatchContext& batch_;
  KvPool& pool_;
  SchedulerOptions opt_;
  std::function<bool(int32_t)> is_eog_;
  std::vector<SeqPtr> running_;     // admission order, oldest first
  std::deque<SeqPtr> preempted_;    // waiting to be re-admitted, oldest first
  std::vector<EngineJob*> finished_;
  int reserved_ = 0;                // blocks promised to sequences admitted this step
  uint64_t next_order_ = 0;
  int64_t preemptions_ = 0, admitted_ = 0;
  int64_t prompt_tokens_ = 0, cached_prompt_tokens_ = 0, generated_tokens_ = 0;
  int64_t prefill_rows_ = 0;
};

}  // namespace scn::inference
