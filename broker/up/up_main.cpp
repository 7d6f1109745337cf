// `scn up`: PostgreSQL + Redis (local_services.h, unless URLs are given),
// migrations, the demo catalog and accounts (demo_setup.h), then the
// scheduler, the broker and the demo agents as child processes, a stories260K
// service for the demo tenant launched through the broker's API, and a
// summary with a curl command that works as printed. SIGINT/SIGTERM stop
// everything in reverse order (agents, broker, scheduler, Redis, PostgreSQL).
// --schedulers N starts N scheduler instances (one leads, the others stand
// by); the agents and the console's join command get all their URLs.
// TLS is on unless --no-tls (up_tls.h): the broker, the scheduler and the
// workers serve https with certificates of a private CA in <var>/pki.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "broker/up/demo_setup.h"
#include "broker/up/local_services.h"
#include "broker/up/ports.h"
#include "broker/up/scn_process.h"
#include "broker/up/up_cli.h"
#include "broker/up/up_files.h"
#include "broker/up/up_service.h"
#include "broker/up/up_tls.h"
#include "common/config.h"
#include "common/db/migrate.h"
#include "common/db/pg.h"
#include "common/log.h"
#include "common/process/subprocess.h"
#include "common/tls/https_client.h"

namespace scn::broker {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

struct UpOptions {
  std::string var = "var";
  int port = 8000;
  int scheduler_port = 0;
  int schedulers = 1;  // scheduler instances: the first leads, the others stand by
  std::string pg_url, redis_url, shared_dir;
  int ready_timeout_s = 120;
  bool no_tls = false;
};

void say(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

int fail(const Status& st) {
  std::fprintf(stderr, "scn up: %s\n", st.to_string().c_str());
  return 1;
}

fs::path default_shared_dir() {
  if (const char* s = std::getenv("SCN_SHARED_DIR"); s != nullptr && *s != '\0') return s;
  if (auto src = find_source_dir(); src.is_ok()) return src.value() / ".." / "shared";
  return "../shared";
}

// <source>/web/dist when the console was built there (it has index.html).
fs::path console_web_root() {
  auto src = find_source_dir();
  if (!src.is_ok()) return {};
  std::error_code ec;
  const fs::path dist = src.value() / "web" / "dist";
  return fs::is_regular_file(dist / "index.html", ec) ? fs::canonical(dist, ec) : fs::path();
}

class Up {
 public:
  explicit Up(UpOptions o) : o_(std::move(o)) {}
  ~Up() { shutdown(); }

  int run();

 private:
  Status start_platform(const DemoAccounts& accounts, const std::string& pg_url,
                        const std::string& redis_url);
  void supervise();
  void shutdown();
  void print_summary(const UpCredentials& creds, const std::string& api_key);
  // "https://127.0.0.1:<port>" (or http:// with --no-tls).
  std::string url(int port) const {
    return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port);
  }

  UpOptions o_;
  fs::path var_;
  std::unique_ptr<LocalServices> services_;
  std::vector<std::unique_ptr<ScnProcess>> schedulers_;  // the first leads at start
  std::string scheduler_urls_;                           // theirs, comma-separated
  std::unique_ptr<ScnProcess> broker_;
  std::vector<std::unique_ptr<ScnProcess>> agents_;
  fs::path web_root_;  // the console's build (<source>/web/dist); empty: none
  std::optional<UpTls> tls_;  // unless --no-tls
};

int Up::run() {
  std::error_code ec;
  fs::create_directories(fs::path(o_.var) / "logs", ec);
  if (ec) return fail(Status::io_error("create " + o_.var + ": " + ec.message()));
  var_ = fs::canonical(o_.var);
  if (!port_free(o_.port))
    return fail(
        Status::conflict("port " + std::to_string(o_.port) +
                         " is taken on 127.0.0.1 (another scn up or broker?); choose one with --port"));
  const fs::path shared = o_.shared_dir.empty() ? default_shared_dir() : fs::path(o_.shared_dir);
  if (!fs::exists(shared / "models" / "stories260K.gguf", ec))
    return fail(Status::not_found("the shared data folder " + shared.string() +
                                  " has no models/stories260K.gguf; pass --shared-dir"));

  web_root_ = console_web_root();
  if (!o_.no_tls) {
    auto t = prepare_up_tls(var_);
    if (!t.is_ok()) return fail(t.status().with_context("TLS certificates in " + (var_ / "pki").string()));
    tls_ = std::move(t).value();
    tls::set_default_client_tls({tls_->ca, "", ""});  // our own calls to the broker
  }
  std::string pg_url = o_.pg_url, redis_url = o_.redis_url;
  if (pg_url.empty() || redis_url.empty()) {
    say("scn up: starting PostgreSQL and Redis under " + var_.string());
    auto s = LocalServices::start(var_);
    if (!s.is_ok()) return fail(s.status());
    services_ = std::move(s).value();
    if (pg_url.empty()) pg_url = services_->pg_url();
    if (redis_url.empty()) redis_url = services_->redis_url();
  }
  if (g_stop) return 0;
  db::PgOptions po;
  po.url = pg_url;
  po.pool_size = 2;
  po.application_name = "scn-up";
  auto pool = db::PgPool::connect(po);
  if (!pool.is_ok()) return fail(pool.status().with_context("PostgreSQL " + pg_url));
  if (Status st = db::migrate(**pool); !st.is_ok()) return fail(st);
  if (Status st = import_demo_catalog(**pool, fs::absolute(shared)); !st.is_ok()) return fail(st);

  const fs::path cred_path = var_ / "credentials.json";
  auto creds = UpCredentials::load(cred_path);
  if (!creds.is_ok()) return fail(creds.status());
  auto accounts = ensure_demo_accounts(**pool, *creds);
  if (!accounts.is_ok()) return fail(accounts.status());
  if (Status st = creds->save(cred_path); !st.is_ok()) return fail(st);

  if (Status st = start_platform(*accounts, pg_url, redis_url); !st.is_ok()) return fail(st);
  if (g_stop) return 0;

  const std::string base = url(o_.port);
  DemoServiceOptions so;
  so.broker_url = base;
  so.username = demo_plan().member;
  so.password = creds->passwords[demo_plan().member];
  so.ready_timeout = std::chrono::seconds(o_.ready_timeout_s);
  so.stop_requested = [] { return g_stop != 0; };
  so.progress = [](const std::string& line) { say("scn up: " + line); };
  auto key = ensure_api_key(so, *creds);
  if (!key.is_ok()) return fail(key.status());
  if (Status st = creds->save(cred_path); !st.is_ok()) return fail(st);
  Status ready = launch_demo_service(so);
  if (g_stop) return 0;
  if (!ready.is_ok())
    say("scn up: WARNING: " + ready.to_string() + "\n  (the pool keeps running; logs in " +
        (var_ / "logs").string() + ")");
  print_summary(*creds, *key);
  supervise();
  say("scn up: stopping (agents, broker, scheduler, Redis, PostgreSQL) ...");
  shutdown();
  say("scn up: stopped");
  return 0;
}

Status Up::start_platform(const DemoAccounts& accounts, const std::string& pg_url,
                          const std::string& redis_url) {
  const std::string bin = process::self_executable();
  const fs::path logs = var_ / "logs";
  // --schedulers N: N instances on one database; the first one started takes
  // the leader lock, the others stand by; every agent is given all URLs.
  std::string sched_url;  // "url" or "url,url,..."
  int next_port = o_.scheduler_port != 0 ? o_.scheduler_port : 7070;
  for (int i = 0; i < o_.schedulers; ++i) {
    const int port = pick_port(next_port);
    next_port = port + 1;
    const std::string name = i == 0 ? "scheduler" : "scheduler-" + std::to_string(i + 1);
    auto sched = std::make_unique<ScnProcess>(
        name, bin,
        std::vector<std::string>{"scheduler", "--pg-url", pg_url, "--redis-url", redis_url, "--host",
                                 "127.0.0.1", "--port", std::to_string(port)},
        logs / (name + ".log"));
    say("scn up: starting the " + std::string(i == 0 ? "scheduler" : "standby scheduler " + name) +
        " on 127.0.0.1:" + std::to_string(port));
    if (tls_) {
      auto& args = sched->mutable_args();
      args.insert(args.end(), {"--tls-cert", tls_->scheduler_cert, "--tls-key", tls_->scheduler_key,
                               "--tls-client-ca", tls_->ca});
    }
    SCN_RETURN_IF_ERROR(sched->start_listening(port, 30s));
    if (i == 0) std::this_thread::sleep_for(1500ms);  // it takes the lock before any standby starts
    sched_url += (sched_url.empty() ? "" : ",") + url(port);
    schedulers_.push_back(std::move(sched));
  }
  scheduler_urls_ = sched_url;
  std::vector<std::string> broker_args{"broker", "--pg-url", pg_url, "--redis-url", redis_url, "--host",
                                       "127.0.0.1", "--port", std::to_string(o_.port),
                                       "--scheduler-url", sched_url,
                                       // the console when built (web/dist), else none
                                       "--web-root", web_root_.string()};
  if (tls_)
    broker_args.insert(broker_args.end(), {"--tls-cert", tls_->broker_cert, "--tls-key", tls_->broker_key,
                                           "--ca", tls_->ca, "--worker-tls"});
  broker_ = std::make_unique<ScnProcess>("broker", bin, broker_args, logs / "broker.log");
  say("scn up: starting the broker on 127.0.0.1:" + std::to_string(o_.port) +
      (web_root_.empty() ? std::string(" (no web console: web/dist is not built)")
                         : " with the web console from " + web_root_.string()));
  SCN_RETURN_IF_ERROR(broker_->start_listening(o_.port, 30s));
  for (const auto& c : demo_plan().centers) {
    for (const auto& n : c.nodes) {
      std::vector<std::string> args = {"agent",
                                       "--scheduler",
                                       sched_url,
                                       "--join-token",
                                       accounts.join_tokens.at(c.name),
                                       "--name",
                                       n.name,
                                       "--state-dir",
                                       (var_ / "agents" / n.name).string()};
      if (tls_)
        args.insert(args.end(), {"--ca", tls_->ca, "--worker-tls-cert", tls_->worker_cert,
                                 "--worker-tls-key", tls_->worker_key});
      if (!n.simulate.empty()) {
        args.push_back("--simulate");
        args.push_back(n.simulate);
      }
      auto agent =
          std::make_unique<ScnProcess>("agent " + n.name, bin, args, logs / ("agent-" + n.name + ".log"));
      say("scn up: starting agent " + n.name + " (" + c.name + ", " +
          (n.simulate.empty() ? std::string("this machine's CPU") : "simulated " + n.simulate) + ")");
      SCN_RETURN_IF_ERROR(agent->start());
      agents_.push_back(std::move(agent));
    }
  }
  return Status::ok();
}

// Until SIGINT/SIGTERM: a child that exits is reported and restarted (at most
// once every 5 s each), so that the demo pool heals like a real one.
void Up::supervise() {
  std::vector<ScnProcess*> all = {broker_.get()};
  for (auto& s : schedulers_) all.push_back(s.get());
  for (auto& a : agents_) all.push_back(a.get());
  std::vector<std::chrono::steady_clock::time_point> last(all.size());
  while (!g_stop) {
    std::this_thread::sleep_for(200ms);
    for (size_t i = 0; i < all.size() && !g_stop; ++i) {
      if (all[i]->running()) continue;
      const auto now = std::chrono::steady_clock::now();
      if (now - last[i] < 5s) continue;
      last[i] = now;
      std::fprintf(stderr, "scn up: %s exited; restarting it. Its log (%s) ends with:\n%s",
                   all[i]->name().c_str(), all[i]->log_path().c_str(), all[i]->log_tail(10).c_str());
      if (Status st = all[i]->start(); !st.is_ok())
        std::fprintf(stderr, "scn up: %s\n", st.to_string().c_str());
    }
  }
}

void Up::shutdown() {
  for (auto it = agents_.rbegin(); it != agents_.rend(); ++it) (*it)->stop(10s);
  agents_.clear();
  if (broker_) broker_->stop(10s);
  broker_.reset();
  for (auto it = schedulers_.rbegin(); it != schedulers_.rend(); ++it) (*it)->stop(10s);
  schedulers_.clear();
  if (services_) {
    if (Status st = services_->stop(); !st.is_ok())
      std::fprintf(stderr, "scn up: %s\n", st.to_string().c_str());
    services_.reset();
  }
}

void Up::print_summary(const UpCredentials& creds, const std::string& api_key) {
  const std::string base = url(o_.port);
  const std::string cacert = tls_ ? "--cacert " + tls_->ca + " " : std::string();
  auto pw = [&](const std::string& user) {
    auto it = creds.passwords.find(user);
    return it == creds.passwords.end() ? std::string("(unknown: not in credentials.json)") : it->second;
  };
  std::string s;
  s += "\n==================== scn is up ====================\n";
  s += "Broker:       " + base + "   (REST API " + base + "/api/v1, OpenAI API " + base + "/v1)\n";
  s += "Schedulers:   " + scheduler_urls_ +
       (schedulers_.size() > 1 ? "   (the first leads; the others stand by)\n" : "\n");
  s += web_root_.empty() ? std::string("Console:      none (build it: scripts/build.sh builds web/dist)\n")
                         : "Console:      " + base + "/   (open it in a browser; log in as below)\n";
  s +=
      "Data, logs:   " + var_.string() + "   (credentials in " + (var_ / "credentials.json").string() + ")\n";
  s += tls_ ? "TLS:          on; clients trust the CA " + tls_->ca + " (--no-tls turns TLS off)\n"
            : std::string("TLS:          off (--no-tls)\n");
  s += "Centers:      ";
  for (const auto& c : demo_plan().centers)
    s += c.name + " (" + c.region + ", " + std::to_string(c.nodes.size()) + " node" +
         (c.nodes.size() > 1 ? "s" : "") + ")  ";
  s += "\n\nLog in (POST " + base + "/api/v1/auth/login):\n";
  s += "  admin     " + demo_plan().admin + " / " + pw(demo_plan().admin) + "\n";
  for (const auto& c : demo_plan().centers)
    s += "  operator  " + c.operator_name() + " / " + pw(c.operator_name()) + "\n";
  s += "  tenant    " + demo_plan().member + " / " + pw(demo_plan().member) + "   (tenant '" +
       demo_plan().tenant + "')\n";
  s += "\nAPI key of tenant '" + demo_plan().tenant + "': " + api_key + "\n";
  s += "\nTry it (service 'stories' = model stories260k, 2 replicas):\n\n";
  s += "  curl -s " + cacert + base + "/v1/chat/completions -H 'Authorization: Bearer " + api_key +
       "' -H 'Content-Type: application/json' -d '{\"model\":\"stories\",\"messages\":[{\"role\":\"user\","
       "\"content\":\"Once upon a time\"}],\"max_tokens\":32}'\n";
  s += "\nCtrl-C stops everything; `scn up` again reuses " + var_.string() + ".\n";
  s += "===================================================\n";
  say(s);
}

}  // namespace

int up_main(int argc, char** argv) {
  UpOptions o;
  common::OptionSet opts("scn up", "the whole platform on this machine: a demo pool with the real model");
  opts.add("var", &o.var, "folder of the data, logs and credentials (reused by the next run)")
      .add("port", &o.port, "the broker's port on 127.0.0.1")
      .add("scheduler-port", &o.scheduler_port, "the scheduler's port (default: 7070 if free, else any)")
      .add("schedulers", &o.schedulers,
           "scheduler instances (1-9): the first leads, the others stand by and take over when it dies; "
           "agents are given every instance's URL")
      .add("pg-url", &o.pg_url, "use this PostgreSQL instead of starting one")
      .add("redis-url", &o.redis_url, "use this Redis instead of starting one")
      .add("shared-dir", &o.shared_dir, "the shared data folder (models; default <repo>/../shared)")
      .add("ready-timeout", &o.ready_timeout_s, "seconds to wait for the demo service to be ready")
      .flag("no-tls", &o.no_tls, "plain HTTP everywhere (default: TLS with a private CA in <var>/pki)")
      .log_level_option();
  auto parsed = opts.parse(argc, argv);
  if (!parsed.is_ok()) {
    std::fprintf(stderr, "scn up: %s\n\n%s", parsed.status().message().c_str(), opts.help().c_str());
    return 2;
  }
  if (parsed.value() == common::OptionSet::Outcome::kHelp) return 0;
  if (o.schedulers < 1 || o.schedulers > 9) {
    std::fprintf(stderr, "scn up: --schedulers must be within 1-9\n");
    return 2;
  }
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  Up up(std::move(o));
  return up.run();
}

}  // namespace scn::broker
