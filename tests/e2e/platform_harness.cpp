#include "tests/e2e/platform_harness.h"

#include <thread>

#include "broker/up/demo_setup.h"
#include "broker/up/ports.h"
#include "common/db/migrate.h"
#include "common/db/test_db.h"

namespace scn::e2e {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::unique_ptr<Platform> Platform::start(const PlatformOptions& options) {
  auto server = db::testing::pg_url_for_tests();
  if (!server) return nullptr;
  std::unique_ptr<Platform> p(new Platform());
  auto scratch = db::ScratchDatabase::create(*server, "scn_e2e");
  REQUIRE_MESSAGE(scratch.is_ok(), scratch.status().to_string());
  p->db_.emplace(std::move(scratch).value());
  db::PgOptions po;
  po.url = p->db_->url();
  po.pool_size = 2;
  auto pool = db::PgPool::connect(po);
  REQUIRE_MESSAGE(pool.is_ok(), pool.status().to_string());
  p->pool_ = std::move(pool).value();
  Status st = db::migrate(*p->pool_);
  REQUIRE_MESSAGE(st.is_ok(), st.to_string());
  st = broker::import_demo_catalog(*p->pool_, scn::testing::shared_dir());
  REQUIRE_MESSAGE(st.is_ok(), st.to_string());

  auto redis = broker::LocalRedis::start(p->tmp_.path());
  REQUIRE_MESSAGE(redis.is_ok(), redis.status().to_string());
  p->redis_ = std::move(redis).value();

  const std::string bin = scn::testing::scn_binary();
  const fs::path logs = p->tmp_.path() / "logs";
  p->scheduler_port_ = broker::pick_port();
  std::vector<std::string> scheduler_args{
      "scheduler", "--pg-url", p->pg_url(), "--redis-url", p->redis_url(), "--host",
      "127.0.0.1", "--port", std::to_string(p->scheduler_port_), "--heartbeat-ms",
      std::to_string(kHeartbeatMs), "--node-ttl-ms", std::to_string(kNodeTtlMs),
      "--loop-ms", "500"};
  scheduler_args.insert(scheduler_args.end(), options.scheduler_args.begin(), options.scheduler_args.end());
  p->scheduler_ = std::make_unique<ScnProcess>("scheduler", bin, scheduler_args, logs / "scheduler.log");
  st = p->scheduler_->start_listening(p->scheduler_port_, 30s);
  REQUIRE_MESSAGE(st.is_ok(), st.to_string());

  p->broker_port_ = broker::pick_port();
  std::vector<std::string> broker_args{
      "broker", "--pg-url", p->pg_url(), "--redis-url", p->redis_url(), "--host",
      "127.0.0.1", "--port", std::to_string(p->broker_port_), "--usage-flush-ms",
      "1000", "--model-store", scn::testing::shared_path("models"), "--kdf-cost",
      "10"};
  broker_args.insert(broker_args.end(), options.broker_args.begin(), options.broker_args.end());
  p->broker_ = std::make_unique<ScnProcess>("broker", bin, broker_args, logs / "broker.log");
  st = p->broker_->start_listening(p->broker_port_, 30s);
  REQUIRE_MESSAGE(st.is_ok(), st.to_string());
  return p;
}

Platform::~Platform() {
  for (auto it = agents_.rbegin(); it != agents_.rend(); ++it) (*it)->stop(5s);
  if (broker_) broker_->stop(5s);
  if (scheduler_) scheduler_->stop(5s);
  if (redis_) redis_->stop();
  pool_.reset();
}

ScnProcess& Platform::add_agent(const std::string& name, const std::string& join_token,
                                const std::string& simulate) {
  std::vector<std::string> args = {"agent",        "--scheduler", scheduler_url(),
                                   "--join-token", join_token,    "--name",
                                   name,           "--state-dir", (tmp_.path() / "agents" / name).string()};
  if (!simulate.empty()) {
    args.push_back("--simulate");
    args.push_back(simulate);
  }
  agents_.push_back(std::make_unique<ScnProcess>("agent " + name, scn::testing::scn_binary(), args,
                                                 tmp_.path() / "logs" / ("agent-" + name + ".log")));
  Status st = agents_.back()->start();
  REQUIRE_MESSAGE(st.is_ok(), st.to_string());
  return *agents_.back();
}

ScnProcess* Platform::agent(const std::string& name) {
  for (auto& a : agents_)
    if (a->name() == "agent " + name) return a.get();
  return nullptr;
}

Status Platform::restart_scheduler() {
  scheduler_->stop(10s);
  return scheduler_->start_listening(scheduler_port_, 30s);
}

Status Platform::restart_broker() {
  broker_->stop(10s);
  return broker_->start_listening(broker_port_, 30s);
}

std::string Platform::logs(int lines) const {
  std::string out;
  auto add = [&](const ScnProcess* p) {
    if (p == nullptr) return;
    out += "\n--- " + p->name() + " (" + p->log_path().string() + ") ---\n" + p->log_tail(lines);
  };
  add(scheduler_.get());
  add(broker_.get());
  for (const auto& a : agents_) add(a.get());
  return out;
}

bool eventually(std::chrono::milliseconds timeout, const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(200ms);
  }
}

std::vector<boost::json::object> rows(const ApiAnswer& a) {
  std::vector<boost::json::object> out;
  if (!a.body.is_object()) return out;
  const auto* d = a.body.as_object().if_contains("data");
  if (d == nullptr || !d->is_array()) return out;
  for (const auto& v : d->as_array())
    if (v.is_object()) out.push_back(v.as_object());
  return out;
}

std::string field(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::int64_t int_field(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_int64() ? v->as_int64() : 0;
}

std::int64_t sql_count(db::PgPool& pg, const std::string& query) {
  auto r = pg.with_tx(
      [&](pqxx::work& tx) -> Result<std::int64_t> { return tx.exec1(query)[0].as<std::int64_t>(); });
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  return r.value();
}

}  // namespace scn::e2e
