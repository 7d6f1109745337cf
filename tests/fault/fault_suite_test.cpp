// The fault-injection suite (issue 9, "Fault injection"): one private pool
// (own PostgreSQL and Redis, 2 schedulers, 2 brokers, 3 agents, a service of
// stories260K with 2 replicas; bench/load_pool.h) under a steady load of
// streaming golden completions through both brokers (fault_load.h). Six
// faults, one after the other, each asserting that nothing is lost; the
// suite prints a table (fault, recovery time, requests sent / succeeded /
// failed, usage rows expected / found). Skipped loudly without PostgreSQL 15
// or redis-server (failed when CI=true).
#include <doctest/doctest.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <optional>
#include <thread>

#include <boost/json.hpp>

#include "bench/load_pool.h"
#include "broker/up/scn_process.h"
#include "common/db/pg.h"
#include "common/redis/redis.h"
#include "tests/fault/fault_load.h"
#include "tests/fault/pool_watch.h"
#include "tests/testing.h"

namespace scn::fault {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using bench::LoadPool;

constexpr int kHeartbeatMs = 2000;
constexpr int kNodeTtlMs = 6000;
constexpr int kReplicas = 2;

bool poll(std::chrono::milliseconds timeout, const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(100ms);
  }
}

struct Row {
  std::string fault;
  double recovery_s = -1;
  long sent = 0, ok = 0, failed = 0;
  long usage_expected = 0, usage_found = 0;
  std::string note;
};

std::string golden_text() {
  std::ifstream in(scn::testing::shared_path("golden/stories260K-prompts.json"));
  std::stringstream ss;
  ss << in.rdbuf();
  return std::string(json::parse(ss.str()).as_array().at(0).at("greedy_text").as_string());
}

std::string golden_body() {
  return json::serialize(json::object{{"model", "stories"},
                                      {"prompt", "Once upon a time"},
                                      {"temperature", 0},
                                      {"max_tokens", 48},
                                      {"stream", true},
                                      {"stream_options", json::object{{"include_usage", true}}}});
}

void print_table(const std::vector<Row>& table);

class Suite {
 public:
  Suite(LoadPool& pool, LoadDriver& load, ReplicaMonitor& monitor) : pool_(pool), load_(load), monitor_(monitor) {}
  ~Suite() { print_table(table); }  // also when a REQUIRE ended the suite early

  // Counts a phase's records into `row` (sent / ok / failed).
  static void count(const std::vector<RequestRecord>& records, Row& row) {
    row.sent = static_cast<long>(records.size());
    for (const auto& r : records) (r.ok() ? row.ok : row.failed)++;
  }

  // Every request in `expected` must have exactly one request_log row (it
  // is flushed within --usage-flush-ms); fills usage_expected/found.
  void check_logged(const std::vector<std::string>& expected, Row& row) {
    row.usage_expected = static_cast<long>(expected.size());
    std::map<std::string, int> rows;
    poll(8s, [&] {
      auto r = request_log_rows(pool_.pg(), expected);
      if (!r.is_ok()) return false;
      rows = std::move(*r);
      return rows.size() == expected.size();
    });
    long once = 0, twice = 0;
    std::string missing;
    for (const auto& id : expected) {
      auto it = rows.find(id);
      if (it == rows.end()) {
        if (missing.size() < 200) missing += id + " ";
      } else if (it->second == 1) {
        ++once;
      } else {
        ++twice;
      }
    }
    row.usage_found = once;
    INFO(row.fault, ": request_log rows missing for ", missing, "; logged more than once: ", twice);
    CHECK(once == row.usage_expected);
    CHECK(twice == 0);
  }

  // usage_records (aggregated counters) against the request log: every
  // metered request counted once, none twice. `offset` absorbs what a
  // killed broker had counted but not yet flushed into one of the two.
  void check_metered(Row& row) {
    std::int64_t usage = -1, metered = -2;
    const bool equal = poll(8s, [&] {
      auto u = usage_requests(pool_.pg(), pool_.service_id());
      auto m = metered_rows(pool_.pg(), pool_.service_id());
      if (!u.is_ok() || !m.is_ok()) return false;
      usage = *u;
      metered = *m;
      return usage == metered + offset_;
    });
    INFO(row.fault, ": usage_records requests ", usage, ", metered request_log rows ", metered, ", offset ",
         offset_);
    CHECK(equal);
    row.note += " usage_records=" + std::to_string(usage);
  }

  // Called with the load stopped: the surviving brokers flush their usage
  // meters and request logs on their own ~1 s ticks, so the difference is
  // taken once two readings 1.5 s apart agree (at most ~9 s).
  void set_offset_from_now() {
    std::optional<long> last;
    for (int i = 0; i < 6; ++i) {
      auto u = usage_requests(pool_.pg(), pool_.service_id());
      auto m = metered_rows(pool_.pg(), pool_.service_id());
      if (u.is_ok() && m.is_ok()) {
        const long diff = *u - *m;
        offset_ = diff;
        if (last && *last == diff) return;
        last = diff;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    }
  }

  std::vector<std::string> ok_ids(const std::vector<RequestRecord>& records,
                                  const std::function<bool(const RequestRecord&)>& keep = {}) {
    std::vector<std::string> out;
    for (const auto& r : records)
      if (r.ok() && (!keep || keep(r))) out.push_back(r.id);
    return out;
  }

  // The ready replicas' node names and the service back at full strength.
  void wait_healthy(const std::string& phase) {
    std::string last;
    const bool ok = poll(40s, [&] {
      auto live = live_replicas(pool_.pg(), pool_.service_id());
      if (!live.is_ok()) return false;
      int ready = 0;
      for (const auto& r : *live) ready += r.state == "ready";
      last = std::to_string(ready) + " ready, " + std::to_string(ready_nodes(pool_.pg())) + " nodes ready";
      return ready == kReplicas && static_cast<int>(live->size()) == kReplicas &&
             ready_nodes(pool_.pg()) == pool_.agents();
    });
    INFO("after ", phase, ": ", last, pool_.logs(12));
    REQUIRE(ok);
  }

  // The victim: the agent running the first ready replica.
  int victim_agent(LiveReplica* replica) {
    auto live = live_replicas(pool_.pg(), pool_.service_id());
    REQUIRE(live.is_ok());
    for (const auto& r : *live)
      if (r.state == "ready") {
        *replica = r;
        return pool_.agent_index(r.node_name);
      }
    return -1;
  }

  // Ends a phase's load and counts its requests into `row`.
  std::vector<RequestRecord> stop_load(Row& row) {
    load_.stop();
    auto records = load_.take();
    count(records, row);
    return records;
  }

  // Every failed request is one `allowed` admits (none when null).
  static void expect_no_failures(const std::vector<RequestRecord>& records,
                                 const std::function<bool(const RequestRecord&)>& allowed,
                                 const std::string& what) {
    const std::string bad =
        failures(records, allowed ? allowed : [](const RequestRecord&) { return false; });
    INFO(what, ":\n", bad);
    CHECK(bad.empty());
  }

  // Every answered request is in the request log and metered once.
  void account(const std::vector<RequestRecord>& records, Row& row) {
    check_logged(ok_ids(records), row);
    check_metered(row);
  }

  // The service back at full strength, then the phase's row in the table.
  void done(const Row& row) {
    wait_healthy(row.fault);
    table.push_back(row);
  }

  static std::string failures(const std::vector<RequestRecord>& records,
                              const std::function<bool(const RequestRecord&)>& allowed) {
    std::string out;
    for (const auto& r : records)
      if (!r.ok() && !allowed(r) && out.size() < 1500)
        out += r.id + " broker " + std::to_string(r.broker) + " [" + std::to_string(r.t0) + ", " +
               std::to_string(r.t1) + "] " + bench::to_string(r.result) + ": " + r.error.substr(0, 160) + "\n";
    return out;
  }

  LoadPool& pool_;
  LoadDriver& load_;
  ReplicaMonitor& monitor_;
  std::int64_t offset_ = 0;
  std::vector<Row> table;
};

void print_table(const std::vector<Row>& table) {
  std::printf("\n%-34s %10s %6s %6s %6s %15s  %s\n", "fault", "recovery", "sent", "ok", "failed",
              "usage exp/found", "notes");
  for (const auto& r : table) {
    char rec[32];
    if (r.recovery_s >= 0)
      std::snprintf(rec, sizeof rec, "%.2f s", r.recovery_s);
    else
      std::snprintf(rec, sizeof rec, "-");
    std::printf("%-34s %10s %6ld %6ld %6ld %7ld/%-7ld  %s\n", r.fault.c_str(), rec, r.sent, r.ok, r.failed,
                r.usage_expected, r.usage_found, r.note.c_str());
  }
  std::fflush(stdout);
}

bool servers_present() {
  const char* bin = std::getenv("SCN_PG_BIN");
  const fs::path pg = bin ? fs::path(bin) : fs::path("/usr/lib/postgresql/15/bin");
  const char* redis = std::getenv("SCN_REDIS_SERVER");
  const std::string r = redis ? redis : "redis-server";
  bool redis_found = r.find('/') != std::string::npos ? fs::exists(r) : false;
  for (const char* dir : {"/usr/bin", "/usr/local/bin", "/usr/sbin"})
    redis_found = redis_found || fs::exists(fs::path(dir) / r);
  return fs::exists(pg / "initdb") && redis_found;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

TEST_CASE("fault injection: six faults under streaming load through two brokers, nothing lost") {
  if (!servers_present()) {
    std::printf("SKIPPED: fault suite: PostgreSQL 15 (initdb) or redis-server not found\n");
    if (scn::testing::in_ci()) FAIL("PostgreSQL 15 and redis-server are required when CI=true");
    return;
  }
  scn::testing::TempDir tmp;
  bench::LoadPoolOptions po;
  po.dir = tmp.path();
  po.binary = scn::testing::scn_binary();
  po.shared_dir = scn::testing::shared_dir();
  po.schedulers = 2;
  po.brokers = 2;
  po.agents = 3;
  po.replicas = kReplicas;
  po.heartbeat_ms = kHeartbeatMs;
  po.node_ttl_ms = kNodeTtlMs;
  po.usage_flush_ms = 1000;
  const auto setup_started = std::chrono::steady_clock::now();
  auto started = LoadPool::start(po);
  REQUIRE_MESSAGE(started.is_ok(), started.status().to_string());
  LoadPool& pool = **started;
  INFO("pool logs: ", tmp.path().string(), "/logs");
  std::printf("fault suite: pool ready after %.1f s\n", seconds_since(setup_started));

  // Rate limits on, high enough never to refuse: their Redis state exists.
  REQUIRE(pool.pg()
              .with_tx([&](pqxx::work& tx) {
                tx.exec_params(
                    "UPDATE tenants SET limit_requests_per_minute = 1000000, limit_concurrent_requests = 1000"
                    " WHERE id = $1",
                    pool.tenant_id());
                return Status::ok();
              })
              .is_ok());

  std::vector<std::string> urls;
  for (int i = 0; i < pool.brokers(); ++i) urls.push_back(pool.broker_url(i));
  LoadDriver load(urls, pool.api_key(), golden_body(), golden_text(), 2, 80ms);
  ReplicaMonitor monitor(pool.pg(), pool.service_id(), std::chrono::milliseconds(kNodeTtlMs), 300ms);
  Suite s(pool, load, monitor);

  // ---- 1. SIGKILL an agent ----------------------------------------------
  {
    Row row;
    row.fault = "1 SIGKILL agent";
    LiveReplica victim_replica;
    const int victim = s.victim_agent(&victim_replica);
    REQUIRE(victim >= 0);
    load.start();
    std::this_thread::sleep_for(2s);
    const double t_kill = load.now();
    const auto killed = std::chrono::steady_clock::now();
    pool.agent(victim).kill();
    const bool healed = poll(20s, [&] {
      return ready_elsewhere(pool.pg(), pool.service_id(), kReplicas, victim_replica.node_id);
    });
    row.recovery_s = seconds_since(killed);
    std::this_thread::sleep_for(2s);
    auto records = s.stop_load(row);
    INFO(pool.logs(15));
    CHECK_MESSAGE(healed, "the killed agent's replica was not ready elsewhere within 20 s");
    CHECK(row.recovery_s <= 15.0);
    // Only requests in flight at the kill may fail, and cleanly.
    auto allowed = [&](const RequestRecord& r) {
      return r.result == bench::StreamResult::kCleanError && r.t0 <= t_kill + 0.05 && r.t1 >= t_kill;
    };
    s.expect_no_failures(records, allowed, "failures not allowed");
    s.account(records, row);
    // The node comes back (its state dir keeps its credentials).
    REQUIRE(pool.agent(victim).start().is_ok());
    s.done(row);
  }

  // ---- 2. SIGKILL the leading scheduler ------------------------------------
  {
    Row row;
    row.fault = "2 SIGKILL leading scheduler";
    const int leader = pool.leader();
    REQUIRE(leader >= 0);
    const int standby = 1 - leader;
    monitor.reset_max();
    load.start();
    std::this_thread::sleep_for(2s);
    const auto killed = std::chrono::steady_clock::now();
    pool.scheduler(leader).kill();
    const bool led = poll(10s, [&] { return pool.leader() == standby; });
    row.recovery_s = seconds_since(killed);
    std::this_thread::sleep_for(std::chrono::milliseconds(kNodeTtlMs));  // past the new leader's grace
    auto records = s.stop_load(row);
    INFO(pool.logs(15));
    CHECK_MESSAGE(led, "the standby scheduler did not lead within 10 s");
    CHECK(row.recovery_s <= 5.0);
    s.expect_no_failures(records, nullptr, "failures");
    CHECK(monitor.max_live() <= kReplicas);
    row.note = "max live " + std::to_string(monitor.max_live());
    s.account(records, row);
    REQUIRE(pool.restart(pool.scheduler(leader)).is_ok());  // back as the standby
    CHECK(poll(5s, [&] { return pool.leader() == standby; }));
    s.done(row);
  }

  // ---- 3. SIGKILL a broker -------------------------------------------------
  {
    Row row;
    row.fault = "3 SIGKILL broker";
    const int flush_s = 1;
    load.start();
    std::this_thread::sleep_for(3s);
    const double t_kill = load.now();
    pool.broker(0).kill();
    std::this_thread::sleep_for(3s);  // broker 1 alone
    const double t_restart = load.now();
    const auto restarting = std::chrono::steady_clock::now();
    REQUIRE(pool.restart(pool.broker(0)).is_ok());
    row.recovery_s = seconds_since(restarting);
    std::this_thread::sleep_for(2s);
    auto records = s.stop_load(row);
    INFO(pool.logs(15));
    // Broker 1 answered everything; broker 0 everything before its death
    // and after its restart.
    auto allowed = [&](const RequestRecord& r) { return r.broker == 0 && r.t1 >= t_kill && r.t0 <= t_restart + row.recovery_s; };
    s.expect_no_failures(records, allowed, "failures not allowed");
    // Usage: what broker 0 answered up to its last flush (~1 s before the
    // kill) is in PostgreSQL; after that it may be lost with the process.
    long at_risk = 0;
    auto expected = s.ok_ids(records, [&](const RequestRecord& r) {
      const bool risky = r.broker == 0 && r.t1 > t_kill - flush_s - 0.5 && r.t1 < t_restart;
      at_risk += risky;
      return !risky;
    });
    row.note = std::to_string(at_risk) + " answered by broker 0 in its last 1.5 s";
    s.check_logged(expected, row);
    s.set_offset_from_now();  // the killed broker's unflushed counters
    row.note += ", meter offset " + std::to_string(s.offset_);
    s.table.push_back(row);
  }

  // ---- 4. Restart PostgreSQL -----------------------------------------------
  {
    Row row;
    row.fault = "4 restart PostgreSQL";
    load.start();
    std::this_thread::sleep_for(2s);
    const auto down = std::chrono::steady_clock::now();
    Status st = pool.restart_postgres(2s);
    REQUIRE_MESSAGE(st.is_ok(), st.to_string());
    const auto up_wall = std::chrono::system_clock::now();
    const auto up = std::chrono::steady_clock::now();
    const double outage = std::chrono::duration<double>(up - down).count();
    // Writes resume: a usage row recorded after the server came back.
    const bool writes = poll(15s, [&] {
      auto r = pool.pg().with_tx([&](pqxx::work& tx) -> Result<double> {
        return tx.exec1("SELECT coalesce(extract(epoch FROM max(recorded_at)), 0)::float8 FROM usage_records")[0]
            .as<double>();
      });
      return r.is_ok() &&
             *r >= std::chrono::duration<double>(up_wall.time_since_epoch()).count();
    });
    row.recovery_s = seconds_since(up);
    std::this_thread::sleep_for(2s);
    auto records = s.stop_load(row);
    INFO(pool.logs(15));
    CHECK_MESSAGE(writes, "no usage row was written within 15 s after PostgreSQL came back");
    s.expect_no_failures(records, nullptr, "failures (brokers should route from their caches)");
    char note[64];
    std::snprintf(note, sizeof note, "down %.1f s", outage);
    row.note = note;
    s.account(records, row);
    s.done(row);
  }

  // ---- 5. Restart Redis, flushed -------------------------------------------
  {
    Row row;
    row.fault = "5 restart Redis (flushed)";
    std::vector<std::string> nodes;
    for (int i = 0; i < pool.agents(); ++i) nodes.push_back(node_id_of(pool.pg(), pool.agent_name(i)));
    load.start();
    std::this_thread::sleep_for(2s);
    const double t_down = load.now();
    Status st = pool.restart_redis(1s);
    REQUIRE_MESSAGE(st.is_ok(), st.to_string());
    const double t_up = load.now();
    const auto up = std::chrono::steady_clock::now();
    auto redis = redis::RedisClient::connect(pool.redis_url());
    REQUIRE(redis.is_ok());
    std::string missing;
    const bool rebuilt = poll(std::chrono::milliseconds(3 * kHeartbeatMs + 2000), [&] {
      for (const auto& id : nodes) {
        auto v = (*redis)->get("scn:node:" + id + ":alive");
        if (!v.is_ok() || !v->has_value()) {
          missing = "alive key of node " + id;
          return false;
        }
      }
      auto routes = (*redis)->get("scn:routes:" + pool.service_id());
      if (!routes.is_ok() || !routes->has_value() ||
          (*routes)->find("\"endpoints\"") == std::string::npos) {
        missing = "routes of the service";
        return false;
      }
      auto rl = (*redis)->command({"KEYS", "scn:rl:*"});
      if (!rl.is_ok() || !rl->is_array() || rl->elements.empty()) {
        missing = "rate-limit keys scn:rl:*";
        return false;
      }
      return true;
    });
    row.recovery_s = seconds_since(up);
    const double window_end = t_up + 2.0 * kHeartbeatMs / 1000.0;
    std::this_thread::sleep_for(std::chrono::milliseconds(2 * kHeartbeatMs + 2000));
    auto records = s.stop_load(row);
    INFO(pool.logs(15));
    INFO("still missing: ", missing);
    CHECK(rebuilt);
    CHECK(row.recovery_s <= 2.0 * kHeartbeatMs / 1000.0 + 1.5);
    // Failures only inside the restart window, and clean ones.
    auto allowed = [&](const RequestRecord& r) {
      return r.result == bench::StreamResult::kCleanError && r.t1 >= t_down && r.t0 <= window_end;
    };
    s.expect_no_failures(records, allowed,
                         "failures outside the window [" + std::to_string(t_down) + ", " +
                             std::to_string(window_end) + "]");
    s.account(records, row);
    s.done(row);
  }

  // ---- 6. Cut an agent off (SIGSTOP), then back (SIGCONT) ------------------
  {
    Row row;
    row.fault = "6 SIGSTOP agent, SIGCONT";
    LiveReplica victim_replica;
    const int victim = s.victim_agent(&victim_replica);
    REQUIRE(victim >= 0);
    REQUIRE(victim_replica.port > 0);
    const std::string victim_name = pool.agent_name(victim);
    load.start();
    std::this_thread::sleep_for(2s);
    const auto stopped = std::chrono::steady_clock::now();
    pool.agent(victim).signal(SIGSTOP);
    const bool replaced = poll(std::chrono::milliseconds(kNodeTtlMs + 25000), [&] {
      return node_status(pool.pg(), victim_name) == "lost" &&
             ready_elsewhere(pool.pg(), pool.service_id(), kReplicas, victim_replica.node_id);
    });
    row.recovery_s = seconds_since(stopped);
    std::set<std::string> ids_before;
    if (auto live = live_replicas(pool.pg(), pool.service_id()); live.is_ok())
      for (const auto& r : *live) ids_before.insert(r.id);
    monitor.reset_max();
    pool.agent(victim).signal(SIGCONT);
    const auto resumed = std::chrono::steady_clock::now();
    // The scheduler tells it to stop the re-placed replica's old worker.
    const bool old_gone = poll(std::chrono::milliseconds(4 * kHeartbeatMs + 4000),
                               [&] { return worker_pids(victim_replica.port).empty(); });
    const double gone_after = seconds_since(resumed);
    const bool back = poll(std::chrono::milliseconds(3 * kHeartbeatMs + 4000),
                           [&] { return node_status(pool.pg(), victim_name) == "ready"; });
    // Then watch a few heartbeats: no replica appears or disappears.
    int max_after = 0;
    std::set<std::string> ids_after;
    const auto watch_until = std::chrono::steady_clock::now() + std::chrono::milliseconds(2 * kHeartbeatMs + 1000);
    while (std::chrono::steady_clock::now() < watch_until) {
      if (auto live = live_replicas(pool.pg(), pool.service_id()); live.is_ok()) {
        max_after = std::max(max_after, static_cast<int>(live->size()));
        ids_after.clear();
        for (const auto& r : *live) ids_after.insert(r.id);
      }
      std::this_thread::sleep_for(200ms);
    }
    auto records = s.stop_load(row);
    INFO(pool.logs(15));
    CHECK_MESSAGE(replaced, "the cut-off node was not declared lost and its replica replaced");
    CHECK_MESSAGE(old_gone, "the old worker on port ", victim_replica.port, " still runs after the node returned");
    CHECK(back);
    CHECK(max_after == kReplicas);
    CHECK(monitor.max_live() <= kReplicas);
    CHECK(ids_after == ids_before);
    s.expect_no_failures(records, nullptr, "failures");
    char note[96];
    std::snprintf(note, sizeof note, "old worker stopped %.1f s after SIGCONT; max live %d", gone_after,
                  std::max(max_after, monitor.max_live()));
    row.note = note;
    s.account(records, row);
    s.table.push_back(row);
  }

  std::printf("invariant samples: %d (%d while PostgreSQL was unreachable); other checker findings:",
              monitor.samples(), monitor.failed_samples());
  for (const auto& n : monitor.notes()) std::printf(" %s", n.c_str());
  std::printf("\nsuite time %.1f s\n", seconds_since(setup_started));
  const auto violations = monitor.violations();
  std::string v;
  for (const auto& x : violations) v += x + "\n";
  INFO("invariant violations:\n", v);
  CHECK(violations.empty());
}

}  // namespace
}  // namespace scn::fault
