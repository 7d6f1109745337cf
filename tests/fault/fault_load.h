// The steady load of the fault-injection suite: a few client threads, each
// bound to one broker, sending streaming golden completions (each with its
// own x-request-id) with a short pause between them, and recording every
// request: broker, id, start and end (seconds on the suite's clock), outcome.
//
// Contract:
//  - start() launches the threads; stop() ends them after their request in
//    flight and joins them. take() hands over the records since the last
//    take() (stopped or not).
//  - A request is kOk only when its streamed text equals the golden text
//    (greedy: every replica must give it). After a failed request a client
//    waits 200 ms (a dead broker is not hammered).
//  - now() is the suite's clock (seconds since the driver was made).
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/stream_client.h"

namespace scn::fault {

struct RequestRecord {
  int broker = 0;
  std::string id;
  double t0 = 0, t1 = 0;  // now() at send / at the end
  bench::StreamResult result = bench::StreamResult::kUnclean;
  int status = 0;
  std::string error;
  bool ok() const { return result == bench::StreamResult::kOk; }
};

class LoadDriver {
 public:
  LoadDriver(std::vector<std::string> broker_urls, std::string api_key, std::string body,
             std::string expected_text, int clients_per_broker, std::chrono::milliseconds pause);
  ~LoadDriver();

  void start();
  void stop();
  std::vector<RequestRecord> take();
  double now() const;

 private:
  void client(int index, int broker);

  std::vector<std::string> urls_;
  std::string key_, body_, expected_;
  int per_broker_;
  std::chrono::milliseconds pause_;
  std::chrono::steady_clock::time_point epoch_;
  std::atomic<bool> stop_{false};
  std::atomic<long> next_id_{0};
  std::mutex mu_;
  std::vector<RequestRecord> records_;
  std::vector<std::thread> threads_;
};

}  // namespace scn::fault
