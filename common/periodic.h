// A background thread that calls a function every `period` until stopped —
// the flush loop of batched writers (the gateway's usage meter and request log).
//
// Contract:
//  - start(period, fn) starts the thread; fn runs first after one period, then
//    every period. A second start(), or a start() after stop(), does nothing.
//  - stop() wakes the thread, waits for a running fn to return and joins; it is
//    idempotent and called by the destructor. fn is never called after stop().
//  - fn runs on the background thread with no lock of this class held.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace scn::common {

class Periodic {
 public:
  Periodic() = default;
  Periodic(const Periodic&) = delete;
  Periodic& operator=(const Periodic&) = delete;
  ~Periodic() { stop(); }

  void start(std::chrono::milliseconds period, std::function<void()> fn) {
    std::lock_guard<std::mutex> lock(mu_);
    if (thread_.joinable() || stopping_) return;
    thread_ = std::thread([this, period, fn = std::move(fn)] {
      std::unique_lock<std::mutex> lock(mu_);
      while (!stopping_) {
        cv_.wait_for(lock, period, [this] { return stopping_; });
        if (stopping_) break;
        lock.unlock();
        fn();
        lock.lock();
      }
    });
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace scn::common
