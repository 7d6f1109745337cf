// UsageMeter: the gateway's token counters, written to PostgreSQL in batches.
//
// Contract:
//  - record() adds one request's counts to the in-memory total of its
//    (tenant, service, API key, model, center); cheap and thread-safe.
//  - flush() writes one usage_records row per key with counts, covering the
//    period from the first record() since the last successful flush to now,
//    all in one transaction. On failure nothing is written and the counts
//    stay (merged with what arrives meanwhile) for the next flush.
//  - start(period) runs flush() every `period` on its own thread; stop()
//    ends it and flushes once more. Idempotent.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"

namespace scn::db {
class PgPool;
}

namespace scn::broker {

struct UsageKey {
  std::string tenant_id;
  std::string service_id;
  std::string api_key_id;  // "" when the caller used no key
  std::string model;       // the service's model name ("" unknown)
  std::string center_id;   // of the replica that answered ("" or not a uuid: NULL)
  bool operator<(const UsageKey& o) const;
};

struct UsageCounts {
  std::int64_t requests = 0;
  std::int64_t prompt_tokens = 0;         // cached ones included (OpenAI's usage)
  std::int64_t cached_prompt_tokens = 0;  // prompt_tokens_details.cached_tokens
  std::int64_t completion_tokens = 0;
};

class UsageMeter {
 public:
  explicit UsageMeter(db::PgPool& pg);
  ~UsageMeter();  // stop()s
  UsageMeter(const UsageMeter&) = delete;
  UsageMeter& operator=(const UsageMeter&) = delete;

  void record(const UsageKey& key, const UsageCounts& counts);
  Status flush();
  // Keys with counts not yet written.
  std::size_t pending() const;

  void start(std::chrono::milliseconds period);
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace scn::broker
