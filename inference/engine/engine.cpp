// Engine: loading, the request queue and the compute thread that drives the
// continuous-batching Scheduler (engine/scheduler.h) over a paged KvPool.
#include "inference/engine/engine.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <filesystem>
#include <mutex>
#include <thread>
#include <utility>

#include "inference/backend/backend.h"
#include "inference/engine/generation.h"
#include "inference/engine/scheduler.h"
#include "inference/gguf/gguf.h"
#include "inference/model/batch_context.h"
#include "inference/model/context.h"
#include "inference/model/kv_pool.h"
#include "inference/model/model.h"
#include "inference/tokenizer/chat_template.h"
#include "inference/tokenizer/vocab.h"

namespace scn::inference {

namespace {

using Clock = std::chrono::steady_clock;

// Arrival bursts: an idle engine that gets a request waits until no other
// has arrived for kBurstGap (at most kBurstMaxWait in all) before its first
// step, so that requests sent together (clients started at once, a fan-out)
// share that step instead of the first arrival's prompt running alone while
// the others queue behind it. Costs a lone request at most kBurstGap.
constexpr auto kBurstGap = std::chrono::milliseconds(4);
constexpr auto kBurstMaxWait = std::chrono::milliseconds(40);

bool cancel_set(const GenerateRequest& req) {
  return req.cancel && req.cancel->load(std::memory_order_relaxed);
}

GenerateResult cancelled_before_start(const GenerateRequest& req) {
  GenerateResult r;
  r.finish = FinishReason::kCancelled;
  r.prompt_tokens = static_cast<int>(req.prompt.size());
  return r;
}

}  // namespace

struct Engine::Impl {
  std::shared_ptr<const GgufFile> file;
  std::unique_ptr<Vocab> vocab;
  std::unique_ptr<ChatTemplate> chat_template;
  std::shared_ptr<Backend> backend;
  std::unique_ptr<Model> model;
  std::unique_ptr<KvPool> pool;
  std::unique_ptr<BatchContext> batch;
  std::unique_ptr<Scheduler> scheduler;
  std::string name;
  int n_ctx = 0;
  int max_queue = 64;
  int max_running = 32;
  int preempted = 0;                // scheduler->preempted() as of the last step, under mu

  mutable std::mutex mu;
  std::condition_variable work_cv;  // the compute thread waits for jobs
  std::condition_variable done_cv;  // callers wait for their job to finish
  std::deque<EngineJob*> queue;     // waiting jobs, oldest first
  bool stop = false;
  Clock::time_point last_arrival;   // of the newest queued request
  std::thread worker;
  EngineStats snapshot;             // refreshed by the compute thread after every step

  void work_loop();
  void refresh_snapshot();  // under mu
};

void Engine::Impl::refresh_snapshot() {
  snapshot.running = scheduler->running();
  snapshot.kv_blocks_total = pool->n_blocks();
  snapshot.kv_blocks_used = pool->used();
  snapshot.prompt_tokens_total = scheduler->prompt_tokens();
  snapshot.cached_prompt_tokens_total = scheduler->cached_prompt_tokens();
  snapshot.generated_tokens_total = scheduler->generated_tokens();
  snapshot.prefill_tokens_total = scheduler->prefill_rows();
  snapshot.preemptions_total = scheduler->preemptions();
  snapshot.requests_total = scheduler->admitted();
  preempted = scheduler->preempted();
  snapshot.queued = static_cast<int>(queue.size()) + preempted;
}

void Engine::Impl::work_loop() {
  for (;;) {
    {
      std::unique_lock lock(mu);
      work_cv.wait(lock, [&] { return stop || !queue.empty() || !scheduler->idle(); });
      if (stop) {
        for (EngineJob* job : scheduler->abort_all(Status::unavailable("the engine is shutting down")))
          job->state = EngineJob::State::kDone;
        done_cv.notify_all();
        return;
      }
      if (scheduler->idle() && !queue.empty()) {
        const Clock::time_point limit = Clock::now() + kBurstMaxWait;
        for (;;) {
          const Clock::time_point quiet = last_arrival + kBurstGap;
          if (stop || quiet <= Clock::now() || limit <= Clock::now()) break;
          work_cv.wait_until(lock, std::min(quiet, limit));
        }
        if (stop) continue;
      }
      // Admission: preempted sequences first, then the queue in order.
      while (scheduler->resume()) {
      }
      if (!scheduler->has_preempted()) {
        // In order; one waiting for a prefix being computed stays queued
        // while those behind it may go, one that does not fit stops it.
        for (auto it = queue.begin(); it != queue.end();) {
          const Scheduler::Admission a = scheduler->try_admit(*it);
          if (a == Scheduler::Admission::kNoRoom) break;
          if (a == Scheduler::Admission::kAdmitted)
            it = queue.erase(it);
          else
            ++it;
        }
      }
      refresh_snapshot();
    }
    std::vector<EngineJob*> done;
    try {
      done = scheduler->step();
    } catch (const std::exception& e) {
      // step() catches the forward pass's failures; this is a last resort.
      done = scheduler->abort_all(Status::internal(std::string("engine step failed: ") + e.what()));
    }
    {
      std::lock_guard lock(mu);
      for (EngineJob* job : done) job->state = EngineJob::State::kDone;
      refresh_snapshot();
    }
    if (!done.empty()) done_cv.notify_all();
  }
}

Engine::Engine() : impl_(std::make_unique<Impl>()) {}

Engine::~Engine() {
  if (!impl_ || !impl_->worker.joinable()) return;
  {
    std::lock_guard lock(impl_->mu);
    impl_->stop = true;
    for (EngineJob* job : impl_->queue) {
      job->result = Status::unavailable("the engine is shutting down");
      job->state = EngineJob::State::kDone;
    }
    impl_->queue.clear();
  }
  impl_->work_cv.notify_all();
  impl_->done_cv.notify_all();
  impl_->worker.join();
}

Result<std::unique_ptr<Engine>> Engine::load(const std::string& gguf_path,
                                             const EngineOptions& options) {
  if (options.n_threads < 0)
    return Status::invalid_argument("n_threads must be >= 0 (0: all cores)");
  if (options.n_ctx < 0) return Status::invalid_argument("n_ctx must be >= 0 (0: the model's)");
  if (options.max_queue < 0) return Status::invalid_argument("max_queue must be >= 0");
  if (options.max_batch_tokens < 1)
    return Status::invalid_argument("max_batch_tokens must be >= 1");
  if (options.max_running < 1) return Status::invalid_argument("max_running must be >= 1");
  if (options.kv_memory_bytes < 0 || options.ctx_total < 0)
    return Status::invalid_argument("kv_memory_bytes and ctx_total must be >= 0");
  if (options.block_tokens < 1 || options.block_tokens > 1024)
    return Status::invalid_argument("block_tokens must be in 1..1024");

  std::unique_ptr<Engine> engine(new Engine());
  Impl& im = *engine->impl_;
  im.max_queue = options.max_queue;
  im.max_running = options.max_running;
  try {
    auto file = GgufFile::open(gguf_path);
    if (!file.is_ok()) {
      const Status& st = file.status();
      return st.message().find(gguf_path) == std::string::npos ? st.with_context(gguf_path) : st;
    }
    im.file = std::move(file).value();
    SCN_ASSIGN_OR_RETURN(im.vocab, Vocab::from_gguf(*im.file));
    im.chat_template = std::make_unique<ChatTemplate>(
        ChatTemplate::detect(im.vocab->chat_template(), *im.vocab));
    if (options.device.empty() || options.device == "cpu") {
      im.backend = make_cpu_backend(options.n_threads);
    } else {
      auto be = make_backend(options.device, options.n_threads);
      if (!be.is_ok()) return be.status().with_context("device '" + options.device + "'");
      im.backend = std::move(be).value();
    }
    if (!im.backend) return Status::internal("cannot create the " + options.device + " backend");
    SCN_ASSIGN_OR_RETURN(im.model, Model::load(im.file, im.backend));
    const ModelHparams& hp = im.model->hparams();

    // Per-sequence context: the option capped by the model's, else the
    // model's capped at Context::kMaxDefaultCtx.
    int64_t n_ctx = options.n_ctx;
    if (n_ctx > 0 && hp.n_ctx_train > 0) n_ctx = std::min<int64_t>(n_ctx, hp.n_ctx_train);
    if (n_ctx <= 0) n_ctx = std::min<int64_t>(hp.n_ctx_train, Context::kMaxDefaultCtx);
    if (n_ctx <= 0) n_ctx = Context::kMaxDefaultCtx;
    if (n_ctx > (1 << 20))
      return Status::invalid_argument("context size " + std::to_string(n_ctx) +
                                      " exceeds the maximum of " + std::to_string(1 << 20));

    // The KV pool: kv_memory_bytes, else ctx_total positions, else n_ctx per
    // sequence for up to 8 sequences. One sequence of n_ctx always fits.
    const int bt = options.block_tokens;
    const size_t block_bytes = KvPool::block_bytes(hp.n_layer, hp.kv_dim(), bt);
    int64_t n_blocks = 0;
    if (options.kv_memory_bytes > 0) {
      n_blocks = options.kv_memory_bytes / static_cast<int64_t>(block_bytes);
    } else {
      const int64_t total = options.ctx_total > 0
                                ? options.ctx_total
                                : n_ctx * std::max(1, std::min(options.max_running, 8));
      n_blocks = (total + bt - 1) / bt;
    }
    if (n_blocks < 2)
      return Status::invalid_argument("the KV pool holds fewer than 2 blocks of " +
                                      std::to_string(bt) + " positions");
    if (n_blocks > (1 << 24)) return Status::invalid_argument("the KV pool is too large");
    // A sequence needs n_ctx positions plus the block its next token would open.
    n_ctx = std::min<int64_t>(n_ctx, (n_blocks - 1) * bt);
    im.n_ctx = static_cast<int>(n_ctx);
    im.pool = std::make_unique<KvPool>(*im.backend, hp.n_layer, hp.kv_dim(), bt,
                                       static_cast<int>(n_blocks));
    SCN_ASSIGN_OR_RETURN(im.batch, BatchContext::create(*im.model, *im.pool,
                                                        options.max_batch_tokens,
                                                        static_cast<int32_t>(n_ctx),
                                                        options.max_running));
    SchedulerOptions so;
    so.max_batch_tokens = options.max_batch_tokens;
    so.max_running = options.max_running;
    so.n_ctx = static_cast<int>(n_ctx);
    so.prefix_cache = options.prefix_cache;
    const Vocab* vocab = im.vocab.get();
    im.scheduler = std::make_unique<Scheduler>(
        *im.batch, *im.pool, so, [vocab](int32_t token) { return vocab->is_eog(token); });
    im.name = im.model->name();
    if (im.name.empty()) im.name = std::filesystem::path(gguf_path).stem().string();
    im.refresh_snapshot();
    im.worker = std::thread([&im] { im.work_loop(); });
  } catch (const std::bad_alloc&) {
    return Status::exhausted("loading " + gguf_path + ": out of memory for the KV pool");
  } catch (const std::exception& e) {
    return Status::internal("loading " + gguf_path + ": " + e.what());
  }
  return engine;
}

const Vocab& Engine::vocab() const { return *impl_->vocab; }
const ChatTemplate& Engine::chat_template() const { return *impl_->chat_template; }
const std::string& Engine::model_name() const { return impl_->name; }
int Engine::n_ctx() const { return impl_->n_ctx; }
std::string Engine::device_description() const { return impl_->backend->describe(); }

int Engine::queue_depth() const {
  std::lock_guard lock(impl_->mu);
  return impl_->snapshot.queued + impl_->snapshot.running;
}

EngineStats Engine::stats() const {
  std::lock_guard lock(impl_->mu);
  return impl_->snapshot;
}

Result<GenerateResult> Engine::generate(const GenerateRequest& req, const TokenCallback& on_token) {
  Impl& im = *impl_;
  SCN_RETURN_IF_ERROR(check_request(req, static_cast<int32_t>(im.model->hparams().n_vocab),
                                    im.n_ctx));
  if (cancel_set(req)) return cancelled_before_start(req);
  EngineJob job;
  job.req = &req;
  job.on_token = &on_token;

  std::unique_lock lock(im.mu);
  if (im.stop) return Status::unavailable("the engine is shutting down");
  if (static_cast<int>(im.queue.size()) >= im.max_queue &&
      !(im.queue.empty() && im.preempted == 0 && im.snapshot.running < im.max_running))
    return Status::exhausted("the request queue is full (" + std::to_string(im.max_queue) +
                             " waiting)");
  im.queue.push_back(&job);
  im.last_arrival = Clock::now();
  im.snapshot.queued += 1;
  im.work_cv.notify_one();

  while (job.state != EngineJob::State::kDone) {
    if (job.state == EngineJob::State::kQueued && cancel_set(req)) {
      // Cancelled while waiting: leave the queue at once.
      std::erase(im.queue, &job);
      im.snapshot.queued = static_cast<int>(im.queue.size()) + im.preempted;
      return cancelled_before_start(req);
    }
    if (req.cancel)
      im.done_cv.wait_for(lock, std::chrono::milliseconds(20));
    else
      im.done_cv.wait(lock);
  }
  return std::move(*job.result);
}

}  // namespace scn::inference
