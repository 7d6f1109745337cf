#include "broker/gateway/request_log.h"

#include <algorithm>
#include <charconv>
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

// The rows are written as JSON text directly (building a boost::json DOM
// per row and serialising it cost a fifth of a proxied request's CPU).

// `s` as a JSON string PostgreSQL accepts: valid UTF-8 (ill-formed bytes
// become U+FFFD), without NULs, escaped.
void append_string(std::string& out, std::string_view s) {
  std::size_t plain = 0;  // the common case: printable ASCII, nothing to escape
  while (plain < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[plain]);
    if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') break;
    ++plain;
  }
  if (plain == s.size()) {
    out += '"';
    out.append(s);
    out += '"';
    return;
  }
  std::string repaired;
  if (!common::valid_utf8(s)) {
    repaired = common::sanitize_utf8(s);
    s = repaired;
  }
  out += '"';
  std::size_t run = 0;  // start of the bytes not yet copied
  for (std::size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.substr(run, i - run));
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case 0: break;  // PostgreSQL's text cannot hold NUL: dropped
      default: {
        static constexpr char kHex[] = "0123456789abcdef";
        const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        out.append(esc, sizeof esc);
      }
    }
  }
  out.append(s.substr(run));
  out += '"';
}

void append_key(std::string& out, std::string_view key) {
  out += '"';
  out += key;
  out += "\":";
}

void field(std::string& out, std::string_view key, const std::string& value) {
  append_key(out, key);
  append_string(out, value);
  out += ',';
}

void field_or_null(std::string& out, std::string_view key, const std::string& value) {  // null for ""
  append_key(out, key);
  if (value.empty()) out += "null";
  else append_string(out, value);
  out += ',';
}

template <typename Number>
void field(std::string& out, std::string_view key, Number value) {
  append_key(out, key);
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, r.ptr);
  out += ',';
}

// One row of the INSERT's json_to_recordset parameter (SQL below): values
// travel as one bound parameter, never inside the statement's text.
void append_row(std::string& out, const RequestLogEntry& e) {
  out += '{';
  field(out, "request_id", e.request_id);
  field(out, "tenant_id", e.tenant_id);
  field_or_null(out, "api_key_id", e.api_key_id);
  field_or_null(out, "service_id", e.service_id);
  field(out, "service_name", e.service_name);
  field(out, "model", e.model);
  field(out, "path", e.path);
  append_key(out, "stream");
  out += e.stream ? "true," : "false,";
  field_or_null(out, "replica_id", e.replica_id);
  field_or_null(out, "node_id", e.node_id);
  field_or_null(out, "center_id", e.center_id);
  field_or_null(out, "replica_url", e.replica_url);
  field(out, "attempts", e.attempts);
  field(out, "status", e.status);
  field_or_null(out, "error", e.error);
  field(out, "prompt_tokens", e.prompt_tokens);
  field(out, "cached_prompt_tokens", e.cached_prompt_tokens);
  field(out, "completion_tokens", e.completion_tokens);
  field(out, "latency_ms", finite(e.latency_ms));
  if (e.ttfb_ms < 0) out += "\"ttfb_ms\":null,";
  else field(out, "ttfb_ms", finite(e.ttfb_ms));
  append_key(out, "started_at");
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, finite(epoch_seconds(e.started_at)));
  out.append(buf, r.ptr);
  out += '}';
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
      std::string rows = "[";
      rows.reserve(512 * (last - first));
      for (std::size_t i = first; i < last; ++i) {
        if (i > first) rows += ',';
        append_row(rows, batch[i]);
      }
      rows += ']';
      tx.exec_params(kInsertSql, rows);
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
