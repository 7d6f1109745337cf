// An agent across a scheduler failover (issue 7): two real `scn scheduler`
// processes on one database and Redis, a real `scn agent` given both URLs
// (the leader's first) running one stories260K replica. The leader is either
// SIGKILLed or frozen (SIGSTOP: it keeps its PostgreSQL session and so its
// advisory lock, which the standby ends once it has been idle past
// --leader-stale-ms). Either way the agent's heartbeats reach the surviving
// instance (now the leader) within a few seconds, the node stays ready and
// its replica is never marked lost — watched past the new leader's start-up
// grace plus a node TTL, when a silent node would have been lost — and the
// invariant checker (`scn scheduler check`) stays clean throughout. A frozen
// leader that thaws stands by.
#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "broker/up/demo_setup.h"
#include "broker/up/local_services.h"
#include "broker/up/ports.h"
#include "broker/up/scn_process.h"
#include "common/crypto/crypto.h"
#include "common/db/migrate.h"
#include "common/db/pg.h"
#include "common/db/scratch_db.h"
#include "common/db/test_db.h"
#include "common/http/client.h"
#include "common/json.h"
#include "common/process/subprocess.h"
#include "tests/testing.h"

namespace scn::e2e {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kTtlMs = 3000;

std::string one(db::PgPool& pg, const std::string& sql) {
  auto r = pg.with_tx([&](pqxx::work& tx) -> Result<std::string> {
    pqxx::result res = tx.exec(sql);
    if (res.empty() || res[0][0].is_null()) return std::string();
    return res[0][0].as<std::string>();
  });
  REQUIRE_MESSAGE(r.is_ok(), (r.status().to_string() + " in " + sql));
  return *r;
}

std::string q(const std::string& s) { return "'" + s + "'"; }

struct Instance {
  int port = 0;
  std::unique_ptr<broker::ScnProcess> proc;
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
};

constexpr int kLeaderStaleMs = 2000;

Instance start_scheduler(const std::string& name, const std::string& pg, const std::string& redis,
                         const fs::path& logs) {
  Instance s;
  s.port = broker::pick_port();
  s.proc = std::make_unique<broker::ScnProcess>(
      "scheduler " + name, scn::testing::scn_binary(),
      std::vector<std::string>{"scheduler", "--pg-url", pg, "--redis-url", redis, "--port",
                               std::to_string(s.port), "--heartbeat-ms", "500", "--node-ttl-ms",
                               std::to_string(kTtlMs), "--loop-ms", "200", "--leader-stale-ms",
                               std::to_string(kLeaderStaleMs)},
      logs / ("scheduler-" + name + ".log"));
  Status st = s.proc->start_listening(s.port, 30s);
  REQUIRE_MESSAGE(st.is_ok(), st.to_string());
  return s;
}

std::optional<boost::json::object> health(const Instance& s) {
  auto r = http::request("GET", s.url() + "/health", {}, {}, 1000ms);
  if (!r.is_ok() || r->status != 200) return std::nullopt;
  auto o = common::parse_json_object(r->body);
  if (!o.is_ok()) return std::nullopt;
  return o.value();
}

bool leads(const Instance& s) {
  auto h = health(s);
  return h && h->contains("leader") && h->at("leader").is_bool() && h->at("leader").as_bool();
}

// scn_scheduler_heartbeats_total of an instance (-1 when it does not answer).
long heartbeats_served(const Instance& s) {
  auto r = http::request("GET", s.url() + "/metrics", {}, {}, 1000ms);
  if (!r.is_ok() || r->status != 200) return -1;
  std::istringstream in(r->body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("scn_scheduler_heartbeats_total", 0) == 0) {
      const auto sp = line.rfind(' ');
      return sp == std::string::npos ? -1 : static_cast<long>(std::stod(line.substr(sp + 1)));
    }
  }
  return -1;
}

// `scn scheduler check`: 0 clean; its output goes to `log`.
int invariant_check(const std::string& pg, const fs::path& log) {
  process::SpawnOptions o;
  o.argv = {scn::testing::scn_binary(), "scheduler", "check", "--pg-url", pg, "--node-ttl-ms",
            std::to_string(kTtlMs)};
  o.log_path = log.string();
  auto p = process::Subprocess::spawn(o);
  REQUIRE_MESSAGE(p.is_ok(), p.status().to_string());
  auto rc = (*p)->wait_for(30s);
  REQUIRE_MESSAGE(rc.has_value(), "scn scheduler check did not finish");
  return *rc;
}

std::string tail(const broker::ScnProcess& p) {
  return "\n--- " + p.name() + " ---\n" + p.log_tail(25);
}

// Two schedulers (a leads, b stands by), a CPU center whose agent is given
// both URLs, and a one-replica stories260K service whose replica is ready.
struct FailoverWorld {
  scn::testing::TempDir tmp;
  fs::path logs = tmp.path() / "logs";
  std::optional<db::ScratchDatabase> scratch;
  std::string pg_url;
  std::unique_ptr<db::PgPool> pool;
  std::unique_ptr<broker::LocalRedis> redis;
  Instance a, b;
  std::unique_ptr<broker::ScnProcess> agent;
  std::string replica, node;

  db::PgPool& pg() { return *pool; }
  std::string logs_of_all() { return tail(*a.proc) + tail(*b.proc) + tail(*agent); }

  // False when the test is skipped (no servers outside CI).
  bool start() {
    auto server = db::testing::pg_url_for_tests();
    if (!server) return false;
    if (!fs::exists(scn::testing::shared_path("models/stories260K.gguf"))) {
      if (scn::testing::in_ci()) FAIL("stories260K.gguf missing");
      MESSAGE("skipped: stories260K.gguf missing");
      return false;
    }
    auto sc = db::ScratchDatabase::create(*server, "scn_e2e_fo");
    REQUIRE_MESSAGE(sc.is_ok(), sc.status().to_string());
    scratch.emplace(std::move(*sc));
    pg_url = scratch->url();
    db::PgOptions po;
    po.url = pg_url;
    po.pool_size = 2;
    auto p = db::PgPool::connect(po);
    REQUIRE_MESSAGE(p.is_ok(), p.status().to_string());
    pool = std::move(*p);
    REQUIRE(db::migrate(pg()).is_ok());
    Status imported = broker::import_demo_catalog(pg(), scn::testing::shared_dir());
    REQUIRE_MESSAGE(imported.is_ok(), imported.to_string());
    auto r = broker::LocalRedis::start(tmp.path());
    REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
    redis = std::move(*r);

    // a leads, then b starts and stands by.
    a = start_scheduler("a", pg_url, redis->url(), logs);
    bool ok = false;
    for (int i = 0; i < 200 && !(ok = leads(a)); ++i) std::this_thread::sleep_for(50ms);
    REQUIRE_MESSAGE(ok, ("scheduler a never led" + tail(*a.proc)));
    b = start_scheduler("b", pg_url, redis->url(), logs);
    std::this_thread::sleep_for(1500ms);  // b has polled the lock
    REQUIRE(health(b).has_value());
    REQUIRE(!leads(b));

    // A CPU center, its join token, a tenant and a one-replica service.
    const std::string center =
        one(pg(), "INSERT INTO centers (name, region, price_gpu_hour, price_cpu_core_hour) "
                  "VALUES ('fo-1', 'guangdong', 10, 0.1) RETURNING id");
    const std::string token = crypto::new_secret("scn-join-").value();
    one(pg(), "INSERT INTO join_tokens (center_id, token_hash, prefix, expires_at) VALUES (" + q(center) +
                  ", decode(" + q(crypto::to_hex(crypto::sha256(token))) +
                  ", 'hex'), 'scn-join', now() + interval '1 hour') RETURNING id");
    const std::string tenant =
        one(pg(), "INSERT INTO tenants (name, display_name) VALUES ('fo', 'fo') RETURNING id");
    one(pg(), "INSERT INTO services (tenant_id, name, model_id, model_file_id, replicas_wanted, "
              "context_length, placement) SELECT " + q(tenant) + ", 'stories', model_id, id, 1, 256, "
              "'{\"device_kind\":\"cpu\"}' FROM model_files WHERE file_name = 'stories260K.gguf' "
              "RETURNING id");

    agent = std::make_unique<broker::ScnProcess>(
        "agent", scn::testing::scn_binary(),
        std::vector<std::string>{"agent", "--scheduler", a.url() + "," + b.url(), "--join-token", token,
                                 "--name", "fo-node", "--state-dir", (tmp.path() / "agent").string()},
        logs / "agent.log");
    REQUIRE(agent->start().is_ok());

    // The replica is ready on the node (heartbeats so far went to a).
    ok = false;
    for (int i = 0; i < 300 && !ok; ++i) {
      replica = one(pg(), "SELECT id FROM replicas WHERE state = 'ready'");
      ok = !replica.empty();
      if (!ok) std::this_thread::sleep_for(200ms);
    }
    REQUIRE_MESSAGE(ok, ("the replica never became ready" + logs_of_all()));
    node = one(pg(), "SELECT id FROM nodes WHERE name = 'fo-node'");
    REQUIRE(!node.empty());
    CHECK(invariant_check(pg_url, logs / "check-before.log") == 0);
    return true;
  }

  // Called right after the leader is killed or frozen: within `within`, b
  // leads and a heartbeat of the node reached b and was written
  // (last_heartbeat_at after `gone_at`). Returns the milliseconds it took.
  long failover(Clock::time_point gone, const std::string& gone_at, long b_before,
                std::chrono::milliseconds within) {
    bool b_leads = false, reached = false;
    long reach_ms = -1;
    while (Clock::now() - gone < within && !(b_leads && reached)) {
      if (!b_leads) b_leads = leads(b);
      if (!reached) {
        reached = heartbeats_served(b) > b_before &&
                  one(pg(), "SELECT (last_heartbeat_at > " + q(gone_at) + "::timestamptz)::text FROM nodes "
                            "WHERE id = " + q(node)) == "true";
        if (reached)
          reach_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - gone).count();
      }
      std::this_thread::sleep_for(100ms);
    }
    REQUIRE_MESSAGE(b_leads, ("the standby did not lead" + logs_of_all()));
    REQUIRE_MESSAGE(reached, ("no heartbeat of the agent reached the new leader" + logs_of_all()));
    CHECK(agent->log_tail(200).find("switching to " + b.url()) != std::string::npos);
    return reach_ms;
  }

  // Past the new leader's start-up grace (one TTL) plus a TTL after `gone`:
  // the node stays ready, its replica ready and the same one, nothing lost,
  // invariants clean; `also` runs at every sample.
  void stays_whole(Clock::time_point gone, long b_before, const std::function<void()>& also) {
    int checks = 0;
    while (Clock::now() - gone < std::chrono::milliseconds(3 * kTtlMs + 1500)) {
      REQUIRE_MESSAGE(one(pg(), "SELECT status FROM nodes WHERE id = " + q(node)) == "ready", logs_of_all());
      REQUIRE_MESSAGE(one(pg(), "SELECT state FROM replicas WHERE id = " + q(replica)) == "ready",
                      logs_of_all());
      CHECK(one(pg(), "SELECT count(*) FROM replicas WHERE state = 'lost'") == "0");
      CHECK(invariant_check(pg_url, logs / ("check-" + std::to_string(checks) + ".log")) == 0);
      if (also) also();
      ++checks;
      std::this_thread::sleep_for(500ms);
    }
    CHECK(checks >= 5);
    CHECK(one(pg(), "SELECT count(*) FROM replicas WHERE state IN ('scheduled','starting','ready')") == "1");
    CHECK(heartbeats_served(b) > b_before + 5);
    CHECK(agent->running());
  }

  void stop() {
    agent->stop(5s);
    b.proc->stop(5s);
    if (a.proc->running()) a.proc->stop(5s);
    redis->stop();
  }
};

TEST_CASE("e2e failover: SIGKILL the leading scheduler; the agent given both URLs moves to the new leader") {
  FailoverWorld w;
  if (!w.start()) return;
  const long b_before = heartbeats_served(w.b);
  REQUIRE(b_before >= 0);

  w.a.proc->kill();
  const auto killed = Clock::now();
  const std::string killed_at = one(w.pg(), "SELECT clock_timestamp()::text");
  const long reach_ms = w.failover(killed, killed_at, b_before, 8s);
  MESSAGE("the agent's heartbeats reached the new leader " << reach_ms << " ms after the SIGKILL");
  CHECK(reach_ms < 5000);
  w.stays_whole(killed, b_before, nullptr);
  w.stop();
}

TEST_CASE("e2e failover: a frozen leader (SIGSTOP) is deposed by the standby and stands by when it thaws") {
  FailoverWorld w;
  if (!w.start()) return;
  const long b_before = heartbeats_served(w.b);
  REQUIRE(b_before >= 0);

  // SIGSTOP: a's sockets stay open, its PostgreSQL session keeps the lock.
  w.a.proc->signal(SIGSTOP);
  const auto frozen = Clock::now();
  const std::string frozen_at = one(w.pg(), "SELECT clock_timestamp()::text");
  const long reach_ms = w.failover(frozen, frozen_at, b_before, std::chrono::milliseconds(kLeaderStaleMs + 8000));
  MESSAGE("the standby led and the agent's heartbeats reached it " << reach_ms << " ms after the SIGSTOP"
          " (--leader-stale-ms " << kLeaderStaleMs << ")");
  CHECK(reach_ms < kLeaderStaleMs + 5000);
  CHECK(w.b.proc->log_tail(100).find("the leader is frozen") != std::string::npos);

  // a thaws: its lock session is gone, so it stands by; b keeps leading.
  w.a.proc->signal(SIGCONT);
  std::this_thread::sleep_for(1s);  // a's next poll (every --loop-ms) finds its session gone
  w.stays_whole(frozen, b_before, [&] {
    CHECK(leads(w.b));
    CHECK(!leads(w.a));
  });
  CHECK(w.a.proc->running());
  w.stop();
}

}  // namespace
}  // namespace scn::e2e
