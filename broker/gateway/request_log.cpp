#include "broker/gateway/request_log.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <deque>
#include <mutex>

#include "common/crypto/crypto.h"
#include "common/db/pg.h"
#include "common/log.h"
#include "common/periodic.h"
#include "common/metrics.h"

namespace scn::broker {
namespace {

constexpr std::size_t kRowsPerStatement = 500;

// A quoted literal, or NULL for "".
std::string opt(pqxx::work& tx, const std::string& s) { return s.empty() ? "NULL" : tx.quote(s); }

std::string number(double v) {
  if (!std::isfinite(v)) return "0";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest exact form
  return std::string(buf, r.ptr);
}

double epoch_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

// "(...)" with the values of one row, in the column order of the INSERT.
void append_row(std::string& sql, pqxx::work& tx, const RequestLogEntry& e) {
  sql += '(';
  sql += tx.quote(e.request_id) + ", " + tx.quote(e.tenant_id) + "::uuid, " + opt(tx, e.api_key_id) + "::uuid, ";
  sql += opt(tx, e.service_id) + "::uuid, " + tx.quote(e.service_name) + ", " + tx.quote(e.model) + ", ";
  sql += tx.quote(e.path) + ", " + (e.stream ? "true" : "false") + ", " + opt(tx, e.replica_id) + ", ";
  sql += opt(tx, e.node_id) + ", " + opt(tx, e.center_id) + ", " + opt(tx, e.replica_url) + ", ";
  sql += std::to_string(e.attempts) + ", " + std::to_string(e.status) + ", ";
  sql += e.error.empty() ? std::string("NULL") : "left(" + tx.quote(e.error) + ", 1000)";
  sql += ", " + std::to_string(e.prompt_tokens) + ", " + std::to_string(e.cached_prompt_tokens) + ", ";
  sql += std::to_string(e.completion_tokens) + ", " + number(e.latency_ms) + "::double precision, ";
  sql += e.ttfb_ms < 0 ? std::string("NULL") : number(e.ttfb_ms);
  sql += "::double precision, to_timestamp(" + number(epoch_seconds(e.started_at)) + "))";
}

}  // namespace

std::string new_request_id() {
  auto bytes = crypto::random_bytes(12);
  if (!bytes.is_ok()) return "req_" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  return "req_" + crypto::to_hex(*bytes);
}

bool sane_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

struct RequestLog::Impl {
  Impl(db::PgPool& p, std::chrono::hours r, std::size_t m)
      : pg(p),
        retention(r),
        max_pending(m),
        dropped(metrics::default_registry().counter("scn_broker_request_log_dropped_total",
                                                    "Request log entries dropped while the database lagged")) {}
  db::PgPool& pg;
  std::chrono::hours retention;
  std::size_t max_pending;
  metrics::Counter& dropped;

  mutable std::mutex mu;
  std::deque<RequestLogEntry> queue;
  std::mutex flush_mu;
  std::chrono::steady_clock::time_point last_prune{};

  common::Periodic flusher;
};

RequestLog::RequestLog(db::PgPool& pg, std::chrono::hours retention, std::size_t max_pending)
    : impl_(std::make_unique<Impl>(pg, retention, max_pending)) {}

RequestLog::~RequestLog() { stop(); }

void RequestLog::record(RequestLogEntry entry) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->queue.push_back(std::move(entry));
  while (impl_->queue.size() > impl_->max_pending) {
    impl_->queue.pop_front();
    impl_->dropped.inc();
  }
}

std::size_t RequestLog::pending() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->queue.size();
}

Status RequestLog::flush() {
  std::lock_guard<std::mutex> flush_lock(impl_->flush_mu);
  std::deque<RequestLogEntry> batch;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    batch.swap(impl_->queue);
  }
  const auto now = std::chrono::steady_clock::now();
  const bool prune = now - impl_->last_prune >= std::chrono::minutes(1);
  if (batch.empty() && !prune) return Status::ok();
  Status st = impl_->pg.with_tx([&](pqxx::work& tx) -> Status {
    // One multi-row INSERT per kRowsPerStatement entries (a statement per row
    // cost a tenth of the gateway's CPU at high request rates).
    for (std::size_t first = 0; first < batch.size(); first += kRowsPerStatement) {
      const std::size_t last = std::min(batch.size(), first + kRowsPerStatement);
      std::string sql =
          "INSERT INTO request_log (request_id, tenant_id, api_key_id, service_id, service_name, model, path,"
          " stream, replica_id, node_id, center_id, replica_url, attempts, status, error, prompt_tokens,"
          " cached_prompt_tokens, completion_tokens, latency_ms, ttfb_ms, started_at) VALUES ";
      for (std::size_t i = first; i < last; ++i) {
        if (i > first) sql += ", ";
        append_row(sql, tx, batch[i]);
      }
      tx.exec(sql);
    }
    if (prune) {
      tx.exec_params("DELETE FROM request_log WHERE started_at < now() - make_interval(hours => $1)",
                     static_cast<int>(impl_->retention.count()));
    }
    return Status::ok();
  });
  if (!st.is_ok()) {
    std::lock_guard<std::mutex> lock(impl_->mu);
    for (auto it = batch.rbegin(); it != batch.rend(); ++it) impl_->queue.push_front(std::move(*it));
    while (impl_->queue.size() > impl_->max_pending) {
      impl_->queue.pop_front();
      impl_->dropped.inc();
    }
    common::log_warn("gateway: writing the request log failed (kept for the next try): ", st.to_string());
    return st;
  }
  if (prune) impl_->last_prune = now;
  return Status::ok();
}

void RequestLog::start(std::chrono::milliseconds period) {
  impl_->flusher.start(period, [this] { (void)flush(); });
}

void RequestLog::stop() {
  impl_->flusher.stop();
  (void)flush();
}

}  // namespace scn::broker
