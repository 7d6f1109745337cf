#include "tests/fault/fault_load.h"

#include <random>

namespace scn::fault {

LoadDriver::LoadDriver(std::vector<std::string> broker_urls, std::string api_key, std::string body,
                       std::string expected_text, int clients_per_broker, std::chrono::milliseconds pause)
    : urls_(std::move(broker_urls)),
      key_(std::move(api_key)),
      body_(std::move(body)),
      expected_(std::move(expected_text)),
      per_broker_(clients_per_broker),
      pause_(pause),
      epoch_(std::chrono::steady_clock::now()) {}

LoadDriver::~LoadDriver() { stop(); }

double LoadDriver::now() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_).count();
}

void LoadDriver::start() {
  stop_ = false;
  int index = 0;
  for (int b = 0; b < static_cast<int>(urls_.size()); ++b)
    for (int c = 0; c < per_broker_; ++c) threads_.emplace_back([this, i = index++, b] { client(i, b); });
}

void LoadDriver::stop() {
  stop_ = true;
  for (auto& t : threads_) t.join();
  threads_.clear();
}

std::vector<RequestRecord> LoadDriver::take() {
  std::lock_guard lock(mu_);
  std::vector<RequestRecord> out;
  out.swap(records_);
  return out;
}

void LoadDriver::client(int index, int broker) {
  std::mt19937 rng(static_cast<unsigned>(index) * 7919u + 17u);
  std::uniform_int_distribution<int> jitter(0, static_cast<int>(pause_.count()));
  const std::string url = urls_[broker] + "/v1/completions";
  while (!stop_) {
    RequestRecord r;
    r.broker = broker;
    r.id = "fault-" + std::to_string(index) + "-" + std::to_string(next_id_++);
    r.t0 = now();
    bench::StreamOutcome o =
        bench::stream_completion(url, key_, body_, {{"x-request-id", r.id}}, std::chrono::milliseconds(20000));
    r.t1 = now();
    r.result = o.result;
    r.status = o.status;
    r.error = o.error;
    if (r.result == bench::StreamResult::kOk && o.text != expected_) {
      r.result = bench::StreamResult::kUnclean;
      r.error = "wrong text: " + o.text.substr(0, 200);
    }
    const bool ok = r.ok();
    {
      std::lock_guard lock(mu_);
      records_.push_back(std::move(r));
    }
    std::this_thread::sleep_for(ok ? pause_ / 2 + std::chrono::milliseconds(jitter(rng)) / 2
                                   : std::chrono::milliseconds(200));
  }
}

}  // namespace scn::fault
