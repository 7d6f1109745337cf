#include "bench/load_pool.h"

#include <boost/json.hpp>
#include <thread>

#include "broker/accounts.h"
#include "broker/up/api_session.h"
#include "broker/up/demo_setup.h"
#include "broker/up/local_services.h"
#include "broker/up/ports.h"
#include "broker/up/scn_process.h"
#include "common/db/migrate.h"
#include "common/db/pg.h"
#include "common/http/client.h"

namespace scn::bench {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using broker::ScnProcess;

namespace {

// Simulated nodes, large enough for many stories260k replicas each.
const char* const kSimulated[] = {"8xH200-141G", "8xA100-80G", "4xAscend-910B-64G"};

bool poll_until(std::chrono::milliseconds timeout, const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(200ms);
  }
}

}  // namespace

Result<std::unique_ptr<LoadPool>> LoadPool::start(const LoadPoolOptions& options) {
  std::unique_ptr<LoadPool> p(new LoadPool());
  p->options_ = options;
  Status st = p->start_all();
  if (!st.is_ok()) return Status(st.code(), st.message() + "\n" + p->logs(15));
  return p;
}

Status LoadPool::start_all() {
  const fs::path& dir = options_.dir;
  const fs::path logs = dir / "logs";
  SCN_ASSIGN_OR_RETURN(postgres_, broker::LocalPostgres::start(dir / "pgdata"));
  pg_port_ = postgres_->port();
  SCN_ASSIGN_OR_RETURN(redis_, broker::LocalRedis::start(dir / "redisdata"));
  redis_port_ = redis_->port();
  db::PgOptions po;
  po.url = pg_url();
  po.pool_size = 4;
  po.acquire_timeout = 5000ms;
  po.connect_timeout_s = 2;
  SCN_ASSIGN_OR_RETURN(pg_, db::PgPool::connect(po));
  SCN_RETURN_IF_ERROR(db::migrate(*pg_));
  SCN_RETURN_IF_ERROR(broker::import_demo_catalog(*pg_, options_.shared_dir));

  // Accounts: one center, one tenant with an API key (straight on PostgreSQL).
  broker::Actor actor;
  SCN_ASSIGN_OR_RETURN(auto center, broker::create_center(*pg_, {"fault-center", "beijing", 2.0, 0.05}, actor));
  broker::NewTenant nt;
  nt.name = "load-tenant";
  nt.max_replicas = 64;
  SCN_ASSIGN_OR_RETURN(auto tenant, broker::create_tenant(*pg_, nt, actor));
  tenant_id_ = tenant.id;
  SCN_ASSIGN_OR_RETURN(auto key, broker::create_api_key(*pg_, {tenant.id, "load", std::nullopt, ""}, actor));
  api_key_ = key.secret;
  broker::NewJoinToken jt;
  jt.center_id = center.id;
  jt.max_uses = options_.agents;
  SCN_ASSIGN_OR_RETURN(auto join, broker::create_join_token(*pg_, jt, actor));

  const std::string& bin = options_.binary;
  for (int i = 0; i < options_.schedulers; ++i) {
    const int port = broker::pick_port();
    scheduler_ports_.push_back(port);
    std::vector<std::string> args{"scheduler",    "--pg-url",       pg_url(),
                                  "--redis-url",  redis_url(),      "--host",
                                  "127.0.0.1",    "--port",         std::to_string(port),
                                  "--heartbeat-ms", std::to_string(options_.heartbeat_ms), "--node-ttl-ms",
                                  std::to_string(options_.node_ttl_ms), "--loop-ms", "500"};
    schedulers_.push_back(std::make_unique<ScnProcess>("scheduler-" + std::to_string(i), bin, args,
                                                       logs / ("scheduler-" + std::to_string(i) + ".log")));
    SCN_RETURN_IF_ERROR(schedulers_.back()->start_listening(port, 30s));
    if (i == 0 && !poll_until(15s, [&] { return leader() == 0; }))
      return Status::unavailable("scheduler 0 did not become leader");
  }
  for (int i = 0; i < options_.brokers; ++i) {
    const int port = broker::pick_port();
    broker_ports_.push_back(port);
    std::vector<std::string> args{"broker",       "--pg-url",        pg_url(),
                                  "--redis-url",  redis_url(),       "--host",
                                  "127.0.0.1",    "--port",          std::to_string(port),
                                  "--usage-flush-ms", std::to_string(options_.usage_flush_ms), "--model-store",
                                  (options_.shared_dir / "models").string(), "--kdf-cost", "10"};
    if (options_.broker_workers > 0) {
      args.push_back("--workers");
      args.push_back(std::to_string(options_.broker_workers));
    }
    args.insert(args.end(), options_.broker_args.begin(), options_.broker_args.end());
    brokers_.push_back(std::make_unique<ScnProcess>("broker-" + std::to_string(i), bin, args,
                                                    logs / ("broker-" + std::to_string(i) + ".log")));
    SCN_RETURN_IF_ERROR(brokers_.back()->start_listening(port, 30s));
  }
  for (int i = 0; i < options_.agents; ++i) {
    std::vector<std::string> args{"agent",        "--scheduler", scheduler_url(options_.schedulers - 1),
                                  "--join-token", join.secret,   "--name",
                                  agent_name(i),  "--state-dir", (dir / "agents" / agent_name(i)).string(),
                                  "--simulate",   kSimulated[i % 3]};
    agents_.push_back(
        std::make_unique<ScnProcess>(agent_name(i), bin, args, logs / (agent_name(i) + ".log")));
    SCN_RETURN_IF_ERROR(agents_.back()->start());
  }
  const std::string count_ready =
      "SELECT count(*) FROM nodes WHERE status = 'ready' AND center_id = '" + center.id + "'";
  std::int64_t ready_nodes = 0;
  poll_until(60s, [&] {
    auto r = pg_->with_tx([&](pqxx::work& tx) -> Result<std::int64_t> {
      return tx.exec1(count_ready)[0].as<std::int64_t>();
    });
    ready_nodes = r.is_ok() ? *r : 0;
    return ready_nodes == options_.agents;
  });
  if (ready_nodes != options_.agents)
    return Status::unavailable(std::to_string(ready_nodes) + " of " + std::to_string(options_.agents) +
                               " agents joined");

  broker::ApiSession api(broker_url(0));
  api.use_api_key(api_key_);
  auto svc = api.call("POST", "/api/v1/services",
                      json::serialize(json::object{{"name", service_name_},
                                                   {"model", "stories260k"},
                                                   {"replicas", options_.replicas}}));
  if (!svc.is_ok()) return svc.status().with_context("create the service");
  if (svc->status != 201) return Status::internal("create the service: " + svc->raw);
  service_id_ = svc->str("id");
  std::string last;
  const bool ready = poll_until(options_.ready_timeout, [&] {
    auto a = api.call("GET", "/api/v1/services/" + service_id_);
    if (!a.is_ok() || !a->body.is_object()) return false;
    last = a->raw;
    const auto* r = a->body.as_object().if_contains("replicas_ready");
    return r != nullptr && r->is_int64() && r->as_int64() == options_.replicas;
  });
  if (!ready) return Status::unavailable("the service did not become ready: " + last);
  return Status::ok();
}

LoadPool::~LoadPool() {
  for (auto it = agents_.rbegin(); it != agents_.rend(); ++it) (*it)->stop(5s);
  for (auto& b : brokers_) b->stop(5s);
  for (auto& s : schedulers_) s->stop(5s);
  pg_.reset();
  if (redis_) redis_->stop();
  if (postgres_) postgres_->stop();
}

std::string LoadPool::pg_url() const { return "postgresql://postgres@127.0.0.1:" + std::to_string(pg_port_) + "/scn"; }
std::string LoadPool::redis_url() const { return "redis://127.0.0.1:" + std::to_string(redis_port_) + "/0"; }
std::string LoadPool::broker_url(int i) const { return "http://127.0.0.1:" + std::to_string(broker_ports_.at(i)); }
std::string LoadPool::scheduler_url(int i) const {
  return "http://127.0.0.1:" + std::to_string(scheduler_ports_.at(i));
}

int LoadPool::agent_index(const std::string& name) const {
  for (int i = 0; i < agents(); ++i)
    if (agent_name(i) == name) return i;
  return -1;
}

int LoadPool::leader() {
  for (int i = 0; i < schedulers(); ++i) {
    auto r = http::request("GET", scheduler_url(i) + "/health", {}, {}, 1000ms);
    if (!r.is_ok() || r->status != 200) continue;
    boost::system::error_code ec;
    json::value v = json::parse(r->body, ec);
    if (ec || !v.is_object()) continue;
    const auto* l = v.as_object().if_contains("leader");
    if (l != nullptr && l->is_bool() && l->as_bool()) return i;
  }
  return -1;
}

Status LoadPool::wait_listening_of(ScnProcess& p) {
  for (int i = 0; i < schedulers(); ++i)
    if (schedulers_[i].get() == &p) return p.start_listening(scheduler_ports_[i], 30s);
  for (int i = 0; i < brokers(); ++i)
    if (brokers_[i].get() == &p) return p.start_listening(broker_ports_[i], 30s);
  return p.start();
}

Status LoadPool::restart(ScnProcess& p) {
  p.stop(10s);
  return wait_listening_of(p);
}

Status LoadPool::restart_postgres(std::chrono::milliseconds down) {
  SCN_RETURN_IF_ERROR(postgres_->stop());
  std::this_thread::sleep_for(down);
  postgres_.reset();
  SCN_ASSIGN_OR_RETURN(postgres_, broker::LocalPostgres::start(options_.dir / "pgdata", pg_port_));
  if (postgres_->port() != pg_port_)
    return Status::unavailable("PostgreSQL came back on port " + std::to_string(postgres_->port()) +
                               " instead of " + std::to_string(pg_port_));
  return Status::ok();
}

Status LoadPool::restart_redis(std::chrono::milliseconds down) {
  SCN_RETURN_IF_ERROR(redis_->stop());
  redis_.reset();
  std::this_thread::sleep_for(down);
  SCN_ASSIGN_OR_RETURN(redis_, broker::LocalRedis::start(options_.dir / "redisdata", redis_port_));
  if (redis_->port() != redis_port_)
    return Status::unavailable("Redis came back on port " + std::to_string(redis_->port()) + " instead of " +
                               std::to_string(redis_port_));
  return Status::ok();
}

std::string LoadPool::logs(int lines) const {
  std::string out;
  auto add = [&](const std::unique_ptr<ScnProcess>& p) {
    out += "\n--- " + p->name() + " (" + p->log_path().string() + ") ---\n" + p->log_tail(lines);
  };
  for (const auto& s : schedulers_) add(s);
  for (const auto& b : brokers_) add(b);
  for (const auto& a : agents_) add(a);
  return out;
}

}  // namespace scn::bench
