#include "broker/gateway/request_log.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <random>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <vector>
#include <deque>
#include <mutex>

#include <pqxx/tablewriter>

#include "common/crypto/crypto.h"
#include "common/db/pg.h"
#include "common/log.h"
#include "common/periodic.h"
#include "common/metrics.h"
#include "common/utf8.h"

namespace scn::broker {
namespace {

double finite(double v) { return std::isfinite(v) ? v : 0.0; }

// The rows go to PostgreSQL by COPY, in its text format, written here: one
// tab-separated line per row, \N for NULL, backslash escapes. COPY costs the
// server about half of what an INSERT of the same rows from a JSON parameter
// did (json_lex alone was a sixth of PostgreSQL's time at 20k requests/s),
// and building the lines here costs the broker a tenth of what pqxx's
// per-field stream_to did. A bad field would fail the whole batch, so every
// text is made acceptable first: valid UTF-8 (ill-formed bytes become
// U+FFFD), no NULs (PostgreSQL's text cannot hold them).

// `s` as one COPY text field; at most `max_chars` characters.
void append_text(std::string& out, std::string_view s, std::size_t max_chars = std::string::npos) {
  std::size_t plain = 0;  // the common case: printable ASCII, nothing to escape
  while (plain < s.size() && plain < max_chars) {
    const unsigned char c = static_cast<unsigned char>(s[plain]);
    if (c < 0x20 || c >= 0x80 || c == '\\') break;
    ++plain;
  }
  if (plain == s.size() || plain == max_chars) {
    out.append(s.substr(0, plain));
    return;
  }
  std::string repaired;
  if (!common::valid_utf8(s)) {
    repaired = common::sanitize_utf8(s);
    s = repaired;
  }
  std::size_t chars = 0;
  for (const char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if ((c & 0xC0) != 0x80 && chars++ == max_chars) break;  // the first byte of character max_chars + 1
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case 0: break;
      default: out += ch;
    }
  }
}

template <typename Number>
void append_number(std::string& out, Number value) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, r.ptr);
}

// timestamptz input: "YYYY-MM-DD HH:MM:SS.ffffff+00".
void append_timestamp(std::string& out, std::chrono::system_clock::time_point t) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(us / 1000000);
  long long frac = us % 1000000;
  if (frac < 0) {
    frac += 1000000;
    --secs;
  }
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[64];
  const int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d.%06lld+00", tm.tm_year + 1900,
                              tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
  out.append(buf, static_cast<std::size_t>(std::clamp(n, 0, static_cast<int>(sizeof buf) - 1)));
}

const std::vector<std::string> kColumns = {
    "request_id", "tenant_id", "api_key_id", "service_id", "service_name", "model", "path",
    "stream", "replica_id", "node_id", "center_id", "replica_url", "attempts", "status",
    "error", "prompt_tokens", "cached_prompt_tokens", "completion_tokens", "latency_ms", "ttfb_ms",
    "started_at"};

// The fields of one COPY line, tab-separated; end() adds the newline.
class CopyLine {
 public:
  explicit CopyLine(std::string& out) : out_(out) {}
  CopyLine& text(std::string_view s, std::size_t max_chars = std::string::npos) {
    next();
    append_text(out_, s, max_chars);
    return *this;
  }
  CopyLine& text_or_null(std::string_view s, std::size_t max_chars = std::string::npos) {  // NULL for ""
    if (s.empty()) return null();
    return text(s, max_chars);
  }
  template <typename Number>
  CopyLine& number(Number value) {
    next();
    append_number(out_, value);
    return *this;
  }
  CopyLine& boolean(bool value) {
    next();
    out_ += value ? 't' : 'f';
    return *this;
  }
  CopyLine& timestamp(std::chrono::system_clock::time_point t) {
    next();
    append_timestamp(out_, t);
    return *this;
  }
  CopyLine& null() {
    next();
    out_ += "\\N";
    return *this;
  }
  void end() { out_ += '\n'; }

 private:
  void next() {
    if (!first_) out_ += '\t';
    first_ = false;
  }
  std::string& out_;
  bool first_ = true;
};

// One row of the COPY, in kColumns' order, with its newline.
void append_row(std::string& out, const RequestLogEntry& e) {
  CopyLine line(out);
  line.text(e.request_id).text(e.tenant_id).text_or_null(e.api_key_id).text_or_null(e.service_id);
  line.text(e.service_name).text(e.model).text(e.path).boolean(e.stream);
  line.text_or_null(e.replica_id).text_or_null(e.node_id).text_or_null(e.center_id).text_or_null(e.replica_url);
  line.number(e.attempts).number(e.status).text_or_null(e.error, 1000);
  line.number(std::max<std::int64_t>(0, e.prompt_tokens))
      .number(std::max<std::int64_t>(0, e.cached_prompt_tokens))
      .number(std::max<std::int64_t>(0, e.completion_tokens));
  line.number(finite(e.latency_ms));
  if (e.ttfb_ms < 0) line.null();
  else line.number(finite(e.ttfb_ms));
  line.timestamp(e.started_at).end();
}

// COPY request_log FROM STDIN with `batch`, in chunks of about 64 KiB (the
// stream does not care where one chunk ends). pqxx 6.4's only public way to
// send COPY text built elsewhere is tablewriter::write_raw_line, deprecated
// in favour of stream_to, which escapes every field itself (see above).
void copy_rows(pqxx::work& tx, const std::deque<RequestLogEntry>& batch) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  pqxx::tablewriter copy(tx, "request_log", kColumns.begin(), kColumns.end());
#pragma GCC diagnostic pop
  std::string chunk;
  chunk.reserve(80 * 1024);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    append_row(chunk, batch[i]);
    if (chunk.size() >= 64 * 1024 || i + 1 == batch.size()) {
      chunk.pop_back();  // write_raw_line adds the last newline
      copy.write_raw_line(chunk);
      chunk.clear();
    }
  }
  copy.complete();
}

}  // namespace

std::string new_request_id() {
  // 12 hex digits of the milliseconds since the epoch, then 64 random bits
  // from a per-thread generator seeded once from the CSPRNG. Ids need to be
  // unique, not secret (they are looked up within the caller's tenant); the
  // CSPRNG per request cost ~4% of a proxied request's CPU. Time first, so
  // that the request log's request_id index grows at its end: a random id
  // lands on a random leaf of the whole index, which costs PostgreSQL more
  // per row as the log grows.
  thread_local std::mt19937_64 gen = [] {
    auto bytes = crypto::random_bytes(32);
    std::string seed = bytes.is_ok() ? *bytes
                                     : std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
    std::seed_seq seq(seed.begin(), seed.end());
    return std::mt19937_64(seq);
  }();
  const auto ms = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                 std::chrono::system_clock::now().time_since_epoch())
                                                 .count());
  const std::uint64_t random = gen();
  char bytes[14];  // big-endian: the low 48 bits of ms, then the random ones
  for (int i = 0; i < 6; ++i) bytes[i] = static_cast<char>(ms >> (8 * (5 - i)));
  for (int i = 0; i < 8; ++i) bytes[6 + i] = static_cast<char>(random >> (8 * (7 - i)));
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
    if (!batch.empty()) copy_rows(tx, batch);
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
