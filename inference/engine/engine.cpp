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
#include "inference/gguf/gguf.h"
#include "inference/model/context.h"
#include "inference/model/model.h"
#include "inference/tokenizer/chat_template.h"
#include "inference/tokenizer/vocab.h"

namespace scn::inference {

namespace {

// One generate() call while it waits for, and runs on, the compute thread.
struct Job {
  enum class State { kQueued, kRunning, kDone };
  const GenerateRequest* req = nullptr;
  const TokenCallback* on_token = nullptr;
  State state = State::kQueued;
  std::optional<Result<GenerateResult>> result;
};

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
  std::unique_ptr<Context> ctx;
  std::unique_ptr<Generator> generator;
  std::string name;
  int max_queue = 64;

  mutable std::mutex mu;
  std::condition_variable work_cv;  // the compute thread waits for jobs
  std::condition_variable done_cv;  // callers wait for their job to finish
  std::deque<Job*> queue;           // waiting jobs, oldest first
  bool busy = false;                // a job is running
  bool stop = false;
  std::thread worker;

  void work_loop();
  void run_job(Job* job);
};

void Engine::Impl::work_loop() {
  for (;;) {
    Job* job = nullptr;
    {
      std::unique_lock lock(mu);
      work_cv.wait(lock, [&] { return stop || !queue.empty(); });
      if (stop) return;
      job = queue.front();
      queue.pop_front();
      job->state = Job::State::kRunning;
      busy = true;
    }
    run_job(job);
    {
      std::lock_guard lock(mu);
      job->state = Job::State::kDone;
      busy = false;
    }
    done_cv.notify_all();
  }
}

void Engine::Impl::run_job(Job* job) {
  const GenerateRequest& req = *job->req;
  if (cancel_set(req)) {
    job->result = cancelled_before_start(req);
    return;
  }
  try {
    job->result = generator->run(req, *job->on_token);
  } catch (const std::exception& e) {
    job->result = Status::internal(std::string("generation failed: ") + e.what());
  } catch (...) {
    job->result = Status::internal("generation failed");
  }
}

Engine::Engine() : impl_(std::make_unique<Impl>()) {}

Engine::~Engine() {
  if (!impl_ || !impl_->worker.joinable()) return;
  {
    std::lock_guard lock(impl_->mu);
    impl_->stop = true;
    for (Job* job : impl_->queue) {
      job->result = Status::unavailable("the engine is shutting down");
      job->state = Job::State::kDone;
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

  std::unique_ptr<Engine> engine(new Engine());
  Impl& im = *engine->impl_;
  im.max_queue = options.max_queue;
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
    im.backend = make_cpu_backend(options.n_threads);
    if (!im.backend) return Status::internal("cannot create the CPU backend");
    SCN_ASSIGN_OR_RETURN(im.model, Model::load(im.file, im.backend));

    int32_t n_ctx = 0;  // the model's, capped by Context
    if (options.n_ctx > 0) {
      const int64_t train = im.model->hparams().n_ctx_train;
      n_ctx = static_cast<int32_t>(train > 0 ? std::min<int64_t>(options.n_ctx, train)
                                             : options.n_ctx);
    }
    SCN_ASSIGN_OR_RETURN(im.ctx, Context::create(*im.model, n_ctx));
    const Vocab* vocab = im.vocab.get();
    im.generator = std::make_unique<Generator>(
        *im.ctx, [vocab](int32_t token) { return vocab->is_eog(token); });
    im.name = im.model->name();
    if (im.name.empty()) im.name = std::filesystem::path(gguf_path).stem().string();
    im.worker = std::thread([&im] { im.work_loop(); });
  } catch (const std::exception& e) {
    return Status::internal("loading " + gguf_path + ": " + e.what());
  }
  return engine;
}

const Vocab& Engine::vocab() const { return *impl_->vocab; }
const ChatTemplate& Engine::chat_template() const { return *impl_->chat_template; }
const std::string& Engine::model_name() const { return impl_->name; }
int Engine::n_ctx() const { return impl_->ctx->n_ctx(); }

int Engine::queue_depth() const {
  std::lock_guard lock(impl_->mu);
  return static_cast<int>(impl_->queue.size()) + (impl_->busy ? 1 : 0);
}

Result<GenerateResult> Engine::generate(const GenerateRequest& req, const TokenCallback& on_token) {
  Impl& im = *impl_;
  SCN_RETURN_IF_ERROR(im.generator->check(req));
  Job job;
  job.req = &req;
  job.on_token = &on_token;

  std::unique_lock lock(im.mu);
  if (im.stop) return Status::unavailable("the engine is shutting down");
  const bool runs_now = !im.busy && im.queue.empty();
  if (!runs_now && static_cast<int>(im.queue.size()) >= im.max_queue)
    return Status::exhausted("the request queue is full (" + std::to_string(im.max_queue) +
                             " waiting)");
  im.queue.push_back(&job);
  im.work_cv.notify_one();

  while (job.state != Job::State::kDone) {
    if (job.state == Job::State::kQueued && cancel_set(req)) {
      // Cancelled while waiting: leave the queue at once.
      std::erase(im.queue, &job);
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
