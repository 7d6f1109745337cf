#include "broker/gateway/request_log.h"

#include <boost/json.hpp>

#include <algorithm>
#include <cstring>
#include <random>
#include <cmath>
#include <deque>
#include <mutex>

#include "common/crypto/crypto.h"
#include "common/db/pg.h"
#include "common/log.h"
#include "common/periodic.h"
#include "common/metrics.h"
#include "common/utf8.h"

namespace scn::broker {
namespace {

constexpr std::size_t kRowsPerStatement = 500;

double finite(double v) { return std::isfinite(v) ? v : 0.0; }

double epoch_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

// Text for a JSON document PostgreSQL accepts: valid UTF-8 without NULs.
std::string clean(const std::string& s) {
  std::string out = common::sanitize_utf8(s);
  out.erase(std::remove(out.begin(), out.end(), '\0'), out.end());
  return out;
}

boost::json::value opt(const std::string& s) {  // null for ""
  return s.empty() ? boost::json::value(nullptr) : boost::json::value(clean(s));
}

// One row of the INSERT's json_to_recordset parameter (SQL below): values
// travel as one bound parameter, never inside the statement's text.
boost::json::object row_json(const RequestLogEntry& e) {
  return boost::json::object{
      {"request_id", clean(e.request_id)},
      {"tenant_id", clean(e.tenant_id)},
      {"api_key_id", opt(e.api_key_id)},
      {"service_id", opt(e.service_id)},
      {"service_name", clean(e.service_name)},
      {"model", clean(e.model)},
      {"path", clean(e.path)},
      {"stream", e.stream},
      {"replica_id", opt(e.replica_id)},
      {"node_id", opt(e.node_id)},
      {"center_id", opt(e.center_id)},
      {"replica_url", opt(e.replica_url)},
      {"attempts", e.attempts},
      {"status", e.status},
      {"error", opt(e.error)},
      {"prompt_tokens", e.prompt_tokens},
      {"cached_prompt_tokens", e.cached_prompt_tokens},
      {"completion_tokens", e.completion_tokens},
      {"latency_ms", finite(e.latency_ms)},
      {"ttfb_ms", e.ttfb_ms < 0 ? boost::json::value(nullptr) : boost::json::value(finite(e.ttfb_ms))},
      {"started_at", finite(epoch_seconds(e.started_at))}};
}

constexpr const char* kInsertSql =
    "INSERT INTO request_log (request_id, tenant_id, api_key_id, service_id, service_name, model, path,"
    " stream, replica_id, node_id, center_id, replica_url, attempts, status, error, prompt_tokens,"
    " cached_prompt_tokens, completion_tokens, latency_ms, ttfb_ms, started_at) "
    "SELECT request_id, tenant_id, api_key_id, service_id, service_name, model, path, stream, replica_id,"
    " node_id, center_id, replica_url, attempts, status, left(error, 1000), prompt_tokens,"
    " cached_prompt_tokens, completion_tokens, latency_ms, ttfb_ms, to_timestamp(started_at) "
    "FROM json_to_recordset($1::json) AS r(request_id text, tenant_id uuid, api_key_id uuid,"
    " service_id uuid, service_name text, model text, path text, stream boolean, replica_id text,"
    " node_id text, center_id text, replica_url text, attempts integer, status integer, error text,"
    " prompt_tokens bigint, cached_prompt_tokens bigint, completion_tokens bigint,"
    " latency_ms double precision, ttfb_ms double precision, started_at double precision)";

}  // namespace

std::string new_request_id() {
  // 96 random bits from a per-thread generator seeded once from the CSPRNG:
  // ids need to be unique, not secret (they are looked up within the
  // caller's tenant), and the CSPRNG per request cost ~4% of a proxied
  // request's CPU.
  thread_local std::mt19937_64 gen = [] {
    auto bytes = crypto::random_bytes(32);
    std::string seed = bytes.is_ok() ? *bytes
                                     : std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
    std::seed_seq seq(seed.begin(), seed.end());
    return std::mt19937_64(seq);
  }();
  const std::uint64_t a = gen(), b = gen();
  char bytes[12];
  std::memcpy(bytes, &a, 8);
  std::memcpy(bytes + 8, &b, 4);
  return "req_" + crypto::to_hex(std::string_view(bytes, sizeof bytes));
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
    // One INSERT per kRowsPerStatement entries (a statement per row cost a
    // tenth of the gateway's CPU at high request rates), its rows bound as
    // one JSON parameter (every query is parameterised).
    for (std::size_t first = 0; first < batch.size(); first += kRowsPerStatement) {
      const std::size_t last = std::min(batch.size(), first + kRowsPerStatement);
      boost::json::array rows;
      rows.reserve(last - first);
      for (std::size_t i = first; i < last; ++i) rows.push_back(row_json(batch[i]));
      tx.exec_params(kInsertSql, boost::json::serialize(rows));
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
