// Scheduler, driven step by step on stories260K: in-flight prefix sharing
// computes a common prefix once, prefill goes shortest remaining first, a
// long prompt passed over kMaxStarvedSteps steps goes first, and the prefill
// is spread over the fewest steps, each ending at a prompt boundary; outputs
// stay the golden ones.
#include "inference/engine/scheduler.h"

#include <doctest/doctest.h>

#include <memory>
#include <vector>

#include "inference/engine/batching_test_util.h"
#include "inference/model/model_test_util.h"

namespace scn::inference {
namespace {

using batching_test::Case;
using batching_test::make_case;

// A model, pool, batch context and scheduler (1 CPU thread, blocks of 4).
struct Rig {
  std::unique_ptr<Model> model = model_test::load_model(model_test::open_stories(), make_cpu_backend(1));
  KvPool pool{model->backend(), model->hparams().n_layer, model->hparams().kv_dim(), 4, 256};
  std::unique_ptr<BatchContext> batch;
  std::unique_ptr<Scheduler> sched;

  explicit Rig(int max_batch_tokens) {
    auto b = BatchContext::create(*model, pool, max_batch_tokens, 256, 16);
    REQUIRE(b.is_ok());
    batch = std::move(b).value();
    SchedulerOptions o;
    o.max_batch_tokens = max_batch_tokens;
    o.max_running = 16;
    o.n_ctx = 256;
    sched = std::make_unique<Scheduler>(*batch, pool, o, [](int32_t) { return false; });
  }
};

// One request with its job, callback and the tokens it got.
struct Req {
  GenerateRequest req;
  std::vector<int32_t> got;
  TokenCallback cb;
  EngineJob job;
  int first_token_step = -1;  // the step that produced its first token
  int* step_counter = nullptr;

  Req(std::vector<int32_t> prompt, int max_tokens, int* steps) : step_counter(steps) {
    req.prompt = std::move(prompt);
    req.max_tokens = max_tokens;
    req.sampling.temperature = 0;
    cb = [this](const TokenEvent& ev) {
      if (got.empty()) first_token_step = *step_counter;
      got.push_back(ev.token);
      return true;
    };
    job.req = &req;
    job.on_token = &cb;
  }
};

// Steps until nothing runs (at most `limit` steps); returns the steps run.
int run_to_end(Scheduler& s, int* step, int limit = 400) {
  int n = 0;
  while (!s.idle() && n < limit) {
    ++*step;
    ++n;
    for (EngineJob* j : s.step()) REQUIRE_MESSAGE(j->result->is_ok(), j->result->status().to_string());
  }
  return n;
}

TEST_CASE("scheduler: prompts with a common prefix arriving together compute it once") {
  Rig rig(8);  // chunked: the leader's prefix takes several steps
  int step = 0;
  const Case c = make_case(4);  // 6 + 28 prompt tokens
  // Four prompts: the same 34 tokens, then one distinct token each (the
  // golden continuation for the first; others get unrelated tails).
  std::vector<std::unique_ptr<Req>> reqs;
  for (int i = 0; i < 4; ++i) {
    std::vector<int32_t> p = c.prompt;
    if (i > 0) p.push_back(static_cast<int32_t>(100 + i));
    reqs.push_back(std::make_unique<Req>(p, i == 0 ? static_cast<int>(c.want.size()) : 3, &step));
  }
  CHECK(rig.sched->try_admit(&reqs[0]->job) == Scheduler::Admission::kAdmitted);
  std::vector<Req*> waiting;
  for (int i = 1; i < 4; ++i) {
    CHECK(rig.sched->try_admit(&reqs[i]->job) == Scheduler::Admission::kWaitPrefix);
    waiting.push_back(reqs[i].get());
  }
  // The engine's admission loop: waiting requests are tried before every step.
  while (!rig.sched->idle() || !waiting.empty()) {
    std::erase_if(waiting, [&](Req* r) {
      return rig.sched->try_admit(&r->job) == Scheduler::Admission::kAdmitted;
    });
    ++step;
    for (EngineJob* j : rig.sched->step()) REQUIRE(j->result->is_ok());
    REQUIRE(step < 400);
  }
  CHECK(reqs[0]->got == c.want);
  const auto n = static_cast<int64_t>(c.prompt.size());
  const int64_t shared = n / 4 * 4;  // whole blocks of the 34 common tokens (within n + 1 - 1)
  int64_t prompt_total = 0;
  for (int i = 0; i < 4; ++i) {
    prompt_total += static_cast<int64_t>(reqs[i]->req.prompt.size());
    CHECK(reqs[i]->job.result->value().cached_prompt_tokens == (i == 0 ? 0 : shared));
  }
  // The common blocks were evaluated once: every other prompt row once too.
  CHECK(rig.sched->prefill_rows() == prompt_total - 3 * shared);
  CHECK(rig.pool.used() == 0);

  // The same followers again: now all cached, nothing waits.
  Req again(reqs[1]->req.prompt, 3, &step);
  CHECK(rig.sched->try_admit(&again.job) == Scheduler::Admission::kAdmitted);
  run_to_end(*rig.sched, &step);
  CHECK(again.got == reqs[1]->got);
}

TEST_CASE("scheduler: without the prefix cache nothing waits") {
  Rig rig(8);
  SchedulerOptions o;
  o.max_batch_tokens = 8;
  o.n_ctx = 256;
  o.prefix_cache = false;
  Scheduler s(*rig.batch, rig.pool, o, [](int32_t) { return false; });
  int step = 0;
  const Case c = make_case(4);
  Req a(c.prompt, static_cast<int>(c.want.size()), &step), b(c.prompt, static_cast<int>(c.want.size()), &step);
  CHECK(s.try_admit(&a.job) == Scheduler::Admission::kAdmitted);
  CHECK(s.try_admit(&b.job) == Scheduler::Admission::kAdmitted);
  run_to_end(s, &step);
  CHECK(a.got == c.want);
  CHECK(b.got == c.want);
  CHECK(s.prefill_rows() == 2 * static_cast<int64_t>(c.prompt.size()));
}

TEST_CASE("scheduler: prefill goes shortest remaining first; a passed-over prompt goes first after 4 steps") {
  Rig rig(16);
  int step = 0;
  // A long prompt (40 tokens: 3 steps of 16 rows) admitted first, then one
  // short prompt (16 tokens: a whole step) arriving before every step. With
  // shortest-first alone the long one would wait for as long as short ones
  // keep coming.
  const Case long_case = make_case(3);  // 6 + 21 tokens
  Req long_req(long_case.prompt, 4, &step);
  long_req.req.prompt.insert(long_req.req.prompt.end(), 13, 5);
  CHECK(rig.sched->try_admit(&long_req.job) == Scheduler::Admission::kAdmitted);
  const std::vector<int32_t> story = make_case(1).prompt;
  std::vector<std::unique_ptr<Req>> shorts;
  const int n_shorts = 20;
  for (int i = 0; i < n_shorts; ++i) {
    // BOS, a distinct token (no common first block), then a golden prompt.
    std::vector<int32_t> p{1, static_cast<int32_t>(40 + i)};
    p.insert(p.end(), story.begin() + 1, story.end());
    p.resize(16, 7);
    shorts.push_back(std::make_unique<Req>(p, 1, &step));
    CHECK(rig.sched->try_admit(&shorts.back()->job) == Scheduler::Admission::kAdmitted);
    ++step;
    for (EngineJob* j : rig.sched->step()) REQUIRE(j->result->is_ok());
  }
  run_to_end(*rig.sched, &step);
  // Shortest first: the first short prompt is done at step 1, not after the
  // long one's 40 rows.
  CHECK(shorts[0]->first_token_step == 1);
  // Passed over in steps 1-4, the long prompt gets step 5's rows, then
  // step 10's; its last 8 rows are then the shortest: done at step 11, while
  // short prompts still arrive (pure shortest-first: after the last one).
  CHECK(long_req.first_token_step == 11);
  CHECK(long_req.got.size() == 4);
  // Outputs as when each runs alone.
  Rig alone(16);
  int s2 = 0;
  for (auto& r : shorts) {
    Req a(r->req.prompt, 1, &s2);
    REQUIRE(alone.sched->try_admit(&a.job) == Scheduler::Admission::kAdmitted);
    run_to_end(*alone.sched, &s2);
    CHECK(a.got == r->got);
  }
  Req a(long_req.req.prompt, 4, &s2);
  REQUIRE(alone.sched->try_admit(&a.job) == Scheduler::Admission::kAdmitted);
  run_to_end(*alone.sched, &s2);
  CHECK(a.got == long_req.got);
  CHECK(rig.pool.used() == 0);
}

// A prompt of `n` tokens: BOS, a distinct token (no common first block),
// then story tokens (padded with 7).
std::vector<int32_t> distinct_prompt(int i, size_t n) {
  const std::vector<int32_t> story = make_case(1).prompt;
  std::vector<int32_t> p{1, static_cast<int32_t>(40 + i)};
  p.insert(p.end(), story.begin() + 1, story.end());
  p.resize(n, 7);
  return p;
}

// Each request's output equals its output alone.
void check_alone(const std::vector<std::unique_ptr<Req>>& reqs, int max_batch_tokens) {
  Rig alone(max_batch_tokens);
  int step = 0;
  for (const auto& r : reqs) {
    Req a(r->req.prompt, r->req.max_tokens, &step);
    REQUIRE(alone.sched->try_admit(&a.job) == Scheduler::Admission::kAdmitted);
    run_to_end(*alone.sched, &step);
    CHECK(a.got == r->got);
  }
}

TEST_CASE("scheduler: prefill is spread evenly over the fewest steps and a step ends at a prompt boundary") {
  // Eight prompts of 10 rows, 48 rows a step: two steps are needed; the
  // first takes four whole prompts (40 rows) rather than four and 8 rows of
  // a fifth, so its four first tokens are not held back by rows that
  // complete nothing; the second takes the other four.
  Rig rig(48);
  int step = 0;
  std::vector<std::unique_ptr<Req>> reqs;
  for (int i = 0; i < 8; ++i) {
    reqs.push_back(std::make_unique<Req>(distinct_prompt(i, 10), 1, &step));
    REQUIRE(rig.sched->try_admit(&reqs.back()->job) == Scheduler::Admission::kAdmitted);
  }
  ++step;
  for (EngineJob* j : rig.sched->step()) REQUIRE(j->result->is_ok());
  CHECK(rig.sched->prefill_rows() == 40);
  CHECK(run_to_end(*rig.sched, &step) == 1);
  CHECK(rig.sched->prefill_rows() == 80);
  for (int i = 0; i < 8; ++i) CHECK(reqs[static_cast<size_t>(i)]->first_token_step == (i < 4 ? 1 : 2));
  check_alone(reqs, 48);
  CHECK(rig.pool.used() == 0);
}

TEST_CASE("scheduler: a step that completes a prompt still takes the rows the fewest steps need") {
  // A 4-token and a 40-token prompt, 32 rows a step: two steps are needed.
  // The first completes the short prompt and takes 9 rows of the long one:
  // the other 31 fit beside the short one's decode row in the second step.
  Rig rig(32);
  int step = 0;
  std::vector<std::unique_ptr<Req>> reqs;
  reqs.push_back(std::make_unique<Req>(distinct_prompt(0, 4), 3, &step));
  reqs.push_back(std::make_unique<Req>(distinct_prompt(1, 40), 3, &step));
  for (auto& r : reqs) REQUIRE(rig.sched->try_admit(&r->job) == Scheduler::Admission::kAdmitted);
  ++step;
  for (EngineJob* j : rig.sched->step()) REQUIRE(j->result->is_ok());
  CHECK(rig.sched->prefill_rows() == 4 + 9);
  run_to_end(*rig.sched, &step);
  CHECK(reqs[0]->first_token_step == 1);
  CHECK(reqs[1]->first_token_step == 2);
  CHECK(reqs[0]->got.size() == 3);
  CHECK(reqs[1]->got.size() == 3);
  check_alone(reqs, 32);
  CHECK(rig.pool.used() == 0);
}

}  // namespace
}  // namespace scn::inference
