#include "common/http/worker_pool.h"

#include <algorithm>

namespace scn::http::detail {

void WorkerPool::start(int n) {
  for (int i = 0; i < std::max(1, n); ++i) threads_.emplace_back([this] { loop(); });
}

bool WorkerPool::submit(std::function<void()> task, std::size_t max_pending) {
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= max_pending) return false;
    queue_.push_back(std::move(task));
  }
  cv_.notify_one();  // after unlocking: the woken worker does not block on mu_ at once
  return true;
}

void WorkerPool::shutdown() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void WorkerPool::loop() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

}  // namespace scn::http::detail
