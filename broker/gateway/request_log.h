// RequestLog: one row per gateway request of a known tenant, written to the
// table request_log (sql/0005) in batches.
//
// Contract:
//  - record() queues an entry (cheap, thread-safe). At most `max_pending`
//    entries wait; beyond that the oldest are dropped (counted in
//    scn_broker_request_log_dropped_total) so that a database outage cannot
//    exhaust memory.
//  - flush() inserts the queued entries in one transaction (a failure keeps
//    them for the next flush). At most once a minute it also deletes the
//    rows that started more than `retention` ago.
//  - start(period) flushes every period on its own thread; stop() ends it
//    and flushes once more (idempotent).
//  - new_request_id() is "req_" + 28 hex digits: the milliseconds since the
//    epoch (12 digits, so ids sort by time) and 64 random bits; sane_request_id()
//    tells whether a client's x-request-id may be kept: 1..128 characters
//    of [A-Za-z0-9._:-].
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace scn::db {
class PgPool;
}

namespace scn::broker {

struct RequestLogEntry {
  std::string request_id;
  std::string tenant_id;
  std::string api_key_id;   // "" none
  std::string service_id;   // "" none (unknown model)
  std::string service_name;
  std::string model;
  std::string path;
  bool stream = false;
  std::string replica_id, node_id, center_id, replica_url;  // "" none
  int attempts = 0;
  int status = 0;
  std::string error;        // "" none
  std::int64_t prompt_tokens = 0;
  std::int64_t cached_prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  double latency_ms = 0;
  double ttfb_ms = -1;      // -1: none
  std::chrono::system_clock::time_point started_at;
};

std::string new_request_id();
bool sane_request_id(std::string_view id);

class RequestLog {
 public:
  RequestLog(db::PgPool& pg, std::chrono::hours retention, std::size_t max_pending = 100000);
  ~RequestLog();  // stop()s
  RequestLog(const RequestLog&) = delete;
  RequestLog& operator=(const RequestLog&) = delete;

  void record(RequestLogEntry entry);
  Status flush();
  std::size_t pending() const;

  void start(std::chrono::milliseconds period);
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace scn::broker
