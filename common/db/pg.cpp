#include "common/db/pg.h"

#include <libpq-fe.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <map>
#include <string_view>

#include "common/log.h"

namespace scn::db {
namespace {

// First line of a PostgreSQL / libpq message, without "ERROR:  ".
std::string first_line(std::string_view what) {
  auto nl = what.find('\n');
  std::string line(what.substr(0, nl));
  for (std::string_view prefix : {"ERROR:  ", "FATAL:  "}) {
    if (line.rfind(prefix, 0) == 0) line.erase(0, prefix.size());
  }
  while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
  return line.empty() ? std::string(what) : line;
}

// The first line plus the DETAIL (which says which key or row), on one line.
std::string one_line(std::string_view what) {
  std::string out = first_line(what);
  auto d = what.find("\nDETAIL:");
  if (d != std::string_view::npos) {
    std::string_view detail = what.substr(d + 8);
    detail = detail.substr(0, detail.find('\n'));
    while (!detail.empty() && detail.front() == ' ') detail.remove_prefix(1);
    out += " (" + std::string(detail) + ")";
  }
  return out;
}

Code code_for_sqlstate(std::string_view state, std::string_view what) {
  if (state == "23505" || state == "23P01") return Code::kConflict;  // unique, exclusion
  if (state == "23503") {  // foreign key: which side?
    // Insert/update of the referencing row: "... violates foreign key
    // constraint ..." + DETAIL "Key (x)=(y) is not present in table".
    // Delete/update of the referenced row: "update or delete on table ...".
    return what.find("update or delete on table") != std::string_view::npos ? Code::kConflict
                                                                            : Code::kNotFound;
  }
  if (state == "23514" || state == "23502" || state == "23001") return Code::kInvalidArgument;
  if (state.substr(0, 2) == "22") return Code::kInvalidArgument;  // data exception
  if (state == "40001" || state == "40P01") return Code::kConflict;
  if (state.substr(0, 2) == "08" || state.substr(0, 2) == "53" || state == "57P01" ||
      state == "57P02" || state == "57P03" || state == "57014" || state == "55P03")
    return Code::kUnavailable;  // connection, resources, shutdown, timeouts, lock timeout
  return Code::kInternal;
}

// Rebuilds the options libpq parsed as a "key='value' ..." string, adding
// our defaults where the URL sets nothing.
Result<std::string> build_conninfo(const PgOptions& o) {
  if (o.url.empty()) return Status::invalid_argument("empty PostgreSQL URL");
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(o.url.c_str(), &err);
  if (opts == nullptr) {
    std::string msg = err ? first_line(err) : "out of memory";
    if (err) PQfreemem(err);
    return Status::invalid_argument("invalid PostgreSQL URL: " + msg);
  }
  std::map<std::string, std::string> kv;
  for (auto* p = opts; p->keyword != nullptr; ++p) {
    if (p->val != nullptr) kv[p->keyword] = p->val;
  }
  PQconninfoFree(opts);
  if (auto it = kv.find("port"); it != kv.end()) {  // libpq checks it only when connecting
    for (char c : it->second) {
      if (!std::isdigit(static_cast<unsigned char>(c)) && c != ',')
        return Status::invalid_argument("invalid PostgreSQL URL: bad port '" + it->second + "'");
    }
  }
  if (!kv.count("connect_timeout")) kv["connect_timeout"] = std::to_string(o.connect_timeout_s);
  if (!kv.count("application_name") && !o.application_name.empty())
    kv["application_name"] = o.application_name;
  std::string out;
  for (const auto& [k, v] : kv) {
    if (!out.empty()) out += ' ';
    out += k + "='";
    for (char c : v) {
      if (c == '\'' || c == '\\') out += '\\';
      out += c;
    }
    out += '\'';
  }
  return out;
}

class NoticeLogger : public pqxx::errorhandler {
 public:
  explicit NoticeLogger(pqxx::connection_base& c) : pqxx::errorhandler(c) {}
  bool operator()(const char msg[]) noexcept override {
    std::string_view m(msg);
    while (!m.empty() && m.back() == '\n') m.remove_suffix(1);
    common::log_debug("postgres: ", m);
    return false;  // not to stderr
  }
};

// True when an idle connection has something to read - the server's goodbye
// (restart, pg_terminate_backend) or EOF - so it must not be reused.
bool idle_connection_dropped(const pqxx::connection& c) {
  int fd = c.sock();
  if (fd < 0) return true;
  pollfd p{fd, POLLIN, 0};
  int r = ::poll(&p, 1, 0);
  return r != 0;  // readable, hung up, or poll failed
}

}  // namespace

Status pg_status(const std::exception& e) {
  const std::string what = e.what();
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    const std::string& state = sql->sqlstate();
    Code code = code_for_sqlstate(state, what);
    std::string msg = one_line(what);
    if (!state.empty()) msg += " [SQLSTATE " + state + "]";
    return Status(code, "postgres: " + msg);
  }
  if (dynamic_cast<const pqxx::in_doubt_error*>(&e)) {
    return Status::unavailable("postgres: connection lost during commit, outcome unknown: " +
                               first_line(what));
  }
  if (dynamic_cast<const pqxx::transaction_rollback*>(&e)) {
    return Status::conflict("postgres: transaction rolled back: " + first_line(what));
  }
  if (dynamic_cast<const pqxx::broken_connection*>(&e)) {
    return Status::unavailable("postgres: connection failed: " + first_line(what));
  }
  if (dynamic_cast<const pqxx::pqxx_exception*>(&e)) {
    return Status::internal("postgres: " + first_line(what));
  }
  return Status::internal("exception in a database transaction: " + what);
}

std::string redact_pg_url(const std::string& url) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(url.c_str(), &err);
  if (opts == nullptr) {
    if (err) PQfreemem(err);
    return "(invalid PostgreSQL URL)";
  }
  std::map<std::string, std::string> kv;
  for (auto* p = opts; p->keyword != nullptr; ++p) {
    if (p->val != nullptr) kv[p->keyword] = p->val;
  }
  PQconninfoFree(opts);
  std::string out = "postgresql://";
  if (kv.count("user")) out += kv["user"] + (kv.count("password") ? ":***@" : "@");
  out += kv.count("host") ? kv["host"] : (kv.count("hostaddr") ? kv["hostaddr"] : "localhost");
  if (kv.count("port")) out += ":" + kv["port"];
  if (kv.count("dbname")) out += "/" + kv["dbname"];
  return out;
}

struct PgPool::Slot {
  std::unique_ptr<pqxx::connection> conn;
  std::unique_ptr<NoticeLogger> notices;  // destroyed before conn

  // Returns whether a connection was open.
  bool close() {
    bool was_open = conn != nullptr;
    notices.reset();
    conn.reset();
    return was_open;
  }
};

// A borrowed slot, given back on destruction.
class PgPool::Lease {
 public:
  Lease(PgPool* pool, int slot) : pool_(pool), slot_(slot) {}
  Lease(Lease&& o) noexcept : pool_(std::exchange(o.pool_, nullptr)), slot_(o.slot_) {}
  Lease& operator=(Lease&&) = delete;
  ~Lease() {
    if (pool_) pool_->release(slot_);
  }
  Slot& slot() { return *pool_->slots_[slot_]; }

 private:
  PgPool* pool_;
  int slot_;
};

PgPool::PgPool(PgOptions options, std::string conninfo)
    : options_(std::move(options)), conninfo_(std::move(conninfo)) {
  redacted_url_ = redact_pg_url(options_.url);
  int n = std::max(1, options_.pool_size);
  for (int i = 0; i < n; ++i) {
    slots_.push_back(std::make_unique<Slot>());
    free_.push_back(n - 1 - i);  // hand out slot 0 first
  }
}

PgPool::~PgPool() {
  for (auto& s : slots_) s->close();
}

Result<std::unique_ptr<PgPool>> PgPool::connect(PgOptions options) {
  SCN_ASSIGN_OR_RETURN(std::string conninfo, build_conninfo(options));
  std::unique_ptr<PgPool> pool(new PgPool(std::move(options), std::move(conninfo)));
  {
    SCN_ASSIGN_OR_RETURN(Lease lease, pool->acquire());
    SCN_RETURN_IF_ERROR(pool->open(lease.slot()));
  }
  return pool;
}

int PgPool::open_connections() const { return open_count_.load(); }

void PgPool::close(Slot& slot) {
  if (slot.close()) --open_count_;
}

Result<PgPool::Lease> PgPool::acquire() {
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, options_.acquire_timeout, [&] { return !free_.empty(); })) {
    return Status::unavailable("postgres: no free connection in the pool of " +
                               std::to_string(slots_.size()) + " within " +
                               std::to_string(options_.acquire_timeout.count()) + " ms");
  }
  int slot = free_.back();
  free_.pop_back();
  return Lease(this, slot);
}

void PgPool::release(int slot) {
  {
    std::lock_guard lock(mu_);
    free_.push_back(slot);
  }
  cv_.notify_one();
}

Status PgPool::open(Slot& slot) {
  close(slot);
  try {
    auto conn = std::make_unique<pqxx::connection>(conninfo_);
    auto notices = std::make_unique<NoticeLogger>(*conn);
    if (options_.statement_timeout.count() > 0) {
      pqxx::nontransaction setup(*conn);
      setup.exec("SET statement_timeout = " + std::to_string(options_.statement_timeout.count()));
    }
    slot.conn = std::move(conn);
    slot.notices = std::move(notices);
    ++open_count_;
    return Status::ok();
  } catch (const std::exception& e) {
    return Status::unavailable("postgres: cannot connect to " + redacted_url_ + ": " +
                               first_line(e.what()));
  }
}

Status PgPool::run_tx(const std::function<Status(pqxx::work&)>& body, const TxOptions& options) {
  const int attempts = std::max(1, options.max_attempts);
  bool retried_stale = false;
  for (int attempt = 1;;) {
    SCN_ASSIGN_OR_RETURN(Lease lease, acquire());
    Slot& slot = lease.slot();
    const bool fresh =
        slot.conn == nullptr || !slot.conn->is_open() || idle_connection_dropped(*slot.conn);
    if (fresh) SCN_RETURN_IF_ERROR(open(slot));
    try {
      pqxx::work tx(*slot.conn);
      if (options.isolation == Isolation::kRepeatableRead) {
        tx.exec("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ");
      } else if (options.isolation == Isolation::kSerializable) {
        tx.exec("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE");
      }
      if (options.read_only) tx.exec("SET TRANSACTION READ ONLY");
      Status st = body(tx);
      if (!st.is_ok()) {
        tx.abort();
        return st;
      }
      tx.commit();
      return Status::ok();
    } catch (const pqxx::in_doubt_error& e) {
      close(slot);
      return pg_status(e);
    } catch (const pqxx::broken_connection& e) {
      close(slot);
      // A pooled connection the server dropped while idle: once, on a new one.
      if (!fresh && !retried_stale) {
        retried_stale = true;
        common::log_info("postgres: reconnecting to ", redacted_url_, " (", first_line(e.what()), ")");
        continue;
      }
      return pg_status(e);
    } catch (const pqxx::transaction_rollback& e) {  // serialization failure, deadlock
      if (attempt < attempts) {
        ++attempt;
        continue;
      }
      return pg_status(e);
    } catch (const std::exception& e) {
      if (slot.conn && !slot.conn->is_open()) close(slot);
      return pg_status(e);
    }
  }
}

Status PgPool::with_connection(const std::function<Status(pqxx::connection&)>& fn) {
  SCN_ASSIGN_OR_RETURN(Lease lease, acquire());
  Slot& slot = lease.slot();
  if (slot.conn == nullptr || !slot.conn->is_open() || idle_connection_dropped(*slot.conn)) {
    SCN_RETURN_IF_ERROR(open(slot));
  }
  // No retry here: fn may have committed something before the connection broke.
  try {
    return fn(*slot.conn);
  } catch (const std::exception& e) {
    if (dynamic_cast<const pqxx::broken_connection*>(&e) || !slot.conn->is_open()) close(slot);
    return pg_status(e);
  }
}

}  // namespace scn::db
