// Internal to common/http: the threads that run the server's handlers.
//
// Contract: tasks run in submission order on `n` threads; submit() refuses a
// task when `max_pending` are already waiting; shutdown() runs what is
// queued, then joins the threads.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace scn::http::detail {

class WorkerPool {
 public:
  void start(int n);
  bool submit(std::function<void()> task, std::size_t max_pending);
  void shutdown();

 private:
  void loop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  std::vector<std::thread> threads_;
  bool stopping_ = false;
};

}  // namespace scn::http::detail
