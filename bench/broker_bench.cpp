#include "bench/broker_bench.h"

#include <boost/json.hpp>
#include <boost/program_options.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <filesystem>
#include <memory>
#include <thread>

#include "bench/canned_upstream.h"
#include "bench/http_load.h"
#include "common/crypto/crypto.h"
#include "common/db/migrate.h"
#include "common/db/pg.h"
#include "common/db/scratch_db.h"
#include "common/http/client.h"
#include "common/process/subprocess.h"
#include "common/redis/redis.h"

namespace scn::bench {
namespace {

constexpr const char* kCanned =
    R"({"id":"cmpl-canned","object":"text_completion","created":1795888642,"model":"canned",)"
    R"("choices":[{"index":0,"text":" a","logprobs":null,"finish_reason":"length"}],)"
    R"("usage":{"prompt_tokens":4,"completion_tokens":1,"total_tokens":5}})";

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

bool wait_healthy(const std::string& base, process::Subprocess* proc, std::chrono::seconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    auto r = http::request("GET", base + "/health", {}, {}, std::chrono::milliseconds(1000));
    if (r.is_ok() && r->status == 200) return true;
    if (proc != nullptr && !proc->running()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

// The first column of the first row ("" when none); values bound as $1, $2, ...
template <typename... Args>
Result<std::string> sql_one(db::PgPool& pg, const std::string& sql, const Args&... args) {
  return pg.with_tx([&](pqxx::work& tx) -> Result<std::string> {
    auto r = tx.exec_params(sql, args...);
    return r.empty() || r[0][0].is_null() ? std::string() : r[0][0].template as<std::string>();
  });
}

// Tenant, key, model rows and the two services; returns {key, model service, canned service}.
Result<std::array<std::string, 3>> seed(db::PgPool& pg) {
  SCN_ASSIGN_OR_RETURN(std::string key, crypto::new_secret("scn-key-"));
  SCN_ASSIGN_OR_RETURN(std::string tenant,
                       sql_one(pg, "INSERT INTO tenants (name, display_name) VALUES ('bench', 'bench') RETURNING id"));
  const std::string hash = crypto::to_hex(crypto::sha256(key));
  SCN_RETURN_IF_ERROR(sql_one(pg,
                              "INSERT INTO api_keys (tenant_id, name, prefix, key_hash) VALUES ($1::uuid,"
                              " 'bench', 'scn-key-', decode($2, 'hex')) RETURNING id",
                              tenant, hash)
                          .status());
  SCN_ASSIGN_OR_RETURN(std::string model,
                       sql_one(pg, "INSERT INTO models (name, display_name, family, architecture, parameters,"
                                   " context_length, n_layers, n_heads, n_kv_heads, head_dim, licence) VALUES"
                                   " ('bench-model', 'bench', 'llama', 'llama', 260000, 512, 5, 8, 4, 8, 'MIT')"
                                   " RETURNING id"));
  SCN_ASSIGN_OR_RETURN(std::string file,
                       sql_one(pg, "INSERT INTO model_files (model_id, quantization, file_name, size_bytes) VALUES ("
                                   "$1::uuid, 'F32', 'bench.gguf', 1) RETURNING id",
                               model));
  std::array<std::string, 3> out{key, "", ""};
  const char* names[2] = {"model", "canned"};
  for (int i = 0; i < 2; ++i) {
    SCN_ASSIGN_OR_RETURN(out[i + 1], sql_one(pg, "INSERT INTO services (tenant_id, name, model_id, model_file_id,"
                                                 " replicas_wanted, context_length, status) VALUES ($1::uuid, $2,"
                                                 " $3::uuid, $4::uuid, 1, 512, 'ready') RETURNING id",
                                             tenant, std::string(names[i]), model, file));
  }
  return out;
}

Status write_routes(redis::RedisClient& redis, const std::string& service, const std::string& name, int port) {
  boost::json::object ep{{"replica_id", "bench-" + name}, {"node_id", ""}, {"center_id", ""},
                         {"url", "http://127.0.0.1:" + std::to_string(port)}};
  boost::json::object doc{{"service_id", service}, {"tenant_id", ""}, {"name", name},
                          {"endpoints", boost::json::array{ep}}};
  redis::SetOptions o;
  o.ttl = std::chrono::milliseconds(3600 * 1000);
  return redis.set("scn:routes:" + service, boost::json::serialize(doc), o).status();
}

// CPU seconds (user + system) the process has used; 0 when unknown.
double cpu_seconds(pid_t pid) {
  std::FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
  if (f == nullptr) return 0;
  char buf[2048];
  const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  const char* p = std::strrchr(buf, ')');  // the command may hold spaces
  if (p == nullptr) return 0;
  unsigned long long utime = 0, stime = 0;
  // Fields after the command: state(3) ... utime(14) stime(15).
  if (std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2) return 0;
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// The infer replica's pid, for the CPU accounting of every phase (0: none).
pid_t g_infer_pid = 0;

PhaseResult phase(const std::string& name, int port, const std::string& request, int clients, double seconds,
                  long long max_requests = 0, pid_t broker_pid = 0) {
  PhaseResult p;
  p.name = name;
  p.clients = clients;
  const double cpu0 = broker_pid > 0 ? cpu_seconds(broker_pid) : 0;
  const double self0 = cpu_seconds(::getpid());
  const double infer0 = g_infer_pid > 0 ? cpu_seconds(g_infer_pid) : 0;
  auto r = run_http_load(port, request, clients, max_requests > 0 ? 600 : seconds, 0.5, max_requests);
  if (r.is_ok() && r->total > 0) {
    const double n = static_cast<double>(r->total);
    if (broker_pid > 0) p.broker_cpu_us_per_request = (cpu_seconds(broker_pid) - cpu0) * 1e6 / n;
    p.bench_cpu_us_per_request = (cpu_seconds(::getpid()) - self0) * 1e6 / n;
    if (g_infer_pid > 0) p.infer_cpu_us_per_request = (cpu_seconds(g_infer_pid) - infer0) * 1e6 / n;
  }
  if (!r.is_ok()) {
    p.errors = -1;
    std::fprintf(stderr, "scn bench broker: %s: %s\n", name.c_str(), r.status().to_string().c_str());
    return p;
  }
  p.requests = r->ok;
  p.errors = r->errors;
  p.seconds = r->seconds;
  p.requests_per_second = r->seconds > 0 ? static_cast<double>(r->ok) / r->seconds : 0;
  p.p50_ms = quantile(r->latencies_ms, 0.50);
  p.p99_ms = quantile(r->latencies_ms, 0.99);
  if (r->errors > 0) std::fprintf(stderr, "scn bench broker: %s: %lld errors, first: %s\n", name.c_str(),
                                  r->errors, r->first_error.c_str());
  std::fprintf(stderr,
               "  %-24s %3d clients  %9.0f req/s  p50 %7.3f ms  p99 %7.3f ms  CPU us/req: broker %6.1f"
               "  bench %6.1f  infer %6.1f  (answers %lld)\n",
               name.c_str(), clients, p.requests_per_second, p.p50_ms, p.p99_ms, p.broker_cpu_us_per_request,
               p.bench_cpu_us_per_request, p.infer_cpu_us_per_request, r->total);
  return p;
}

}  // namespace

Result<BrokerBenchReport> run_broker_bench(const BrokerBenchOptions& o) {
  if (o.model_path.empty()) return Status::invalid_argument("--model is required");
  if (o.pg_url.empty()) return Status::invalid_argument("--pg-url (or SCN_PG_URL) is required");
  if (o.redis_url.empty()) return Status::invalid_argument("--redis-url (or SCN_REDIS_URL) is required");
  if (o.clients < 1 || o.seconds <= 0) return Status::invalid_argument("--clients and --seconds must be > 0");
  const std::string bin = o.scn_binary.empty() ? process::self_executable() : o.scn_binary;
  BrokerBenchReport report;

  SCN_ASSIGN_OR_RETURN(db::ScratchDatabase scratch, db::ScratchDatabase::create(o.pg_url, "scn_bench"));
  db::PgOptions pg_options;
  pg_options.url = scratch.url();
  pg_options.pool_size = 2;
  SCN_ASSIGN_OR_RETURN(auto pg, db::PgPool::connect(pg_options));
  SCN_RETURN_IF_ERROR(db::migrate(*pg));
  SCN_ASSIGN_OR_RETURN(auto seeded, seed(*pg));
  const auto& [key, model_service, canned_service] = seeded;
  SCN_ASSIGN_OR_RETURN(auto redis, redis::RedisClient::connect(o.redis_url));

  // The canned upstream, in this process: answers from memory on one epoll
  // thread (bench/canned_upstream.h).
  CannedUpstream canned(kCanned);
  SCN_RETURN_IF_ERROR(canned.start());

  const std::string logs = std::filesystem::temp_directory_path().string() + "/scn-bench-broker-" +
                           std::to_string(::getpid());
  const int infer_port = free_port();
  process::SpawnOptions io;
  io.argv = {bin, "infer", "--model", o.model_path, "--port", std::to_string(infer_port), "--alias", "model",
             "--parallel", std::to_string(std::max(32, o.clients)), "--max-queue", std::to_string(4 * o.clients)};
  if (o.infer_threads > 0) io.argv.insert(io.argv.end(), {"--threads", std::to_string(o.infer_threads)});
  io.log_path = logs + "-infer.log";
  for (std::size_t i = 1; i < io.argv.size(); ++i) report.infer_command += (i > 1 ? " " : "scn ") + io.argv[i];
  SCN_ASSIGN_OR_RETURN(auto infer, process::Subprocess::spawn(io));
  g_infer_pid = infer->pid();
  if (!wait_healthy("http://127.0.0.1:" + std::to_string(infer_port), infer.get(), std::chrono::seconds(120))) {
    return Status::unavailable("scn infer did not become healthy (log: " + io.log_path + ")");
  }
  SCN_RETURN_IF_ERROR(write_routes(*redis, model_service, "model", infer_port));
  SCN_RETURN_IF_ERROR(write_routes(*redis, canned_service, "canned", canned.port()));

  const int broker_port = free_port();
  process::SpawnOptions bo;
  bo.argv = {o.broker_binary.empty() ? bin : o.broker_binary, "broker", "--pg-url", scratch.url(), "--redis-url", o.redis_url, "--port",
             std::to_string(broker_port), "--web-root", "", "--log-level", "warn"};
  if (o.broker_workers > 0) bo.argv.insert(bo.argv.end(), {"--workers", std::to_string(o.broker_workers)});
  bo.log_path = logs + "-broker.log";
  for (std::size_t i = 1; i < bo.argv.size(); ++i) {
    report.broker_command += (i > 1 ? " " : "scn ") + (bo.argv[i] == scratch.url() ? "<scratch db>" : bo.argv[i]);
  }
  SCN_ASSIGN_OR_RETURN(auto broker, process::Subprocess::spawn(bo));
  if (!wait_healthy("http://127.0.0.1:" + std::to_string(broker_port), broker.get(), std::chrono::seconds(30))) {
    return Status::unavailable("scn broker did not become healthy (log: " + bo.log_path + ")");
  }

  auto body = [](const char* model) {
    return std::string(R"({"model":")") + model + R"(","prompt":"Once upon a time","max_tokens":1,"temperature":0})";
  };
  const std::string direct_model = raw_post("/v1/completions", body("model"));
  const std::string via_model = raw_post("/v1/completions", body("model"), key);
  const std::string direct_canned = raw_post("/v1/completions", body("canned"));
  const std::string via_canned = raw_post("/v1/completions", body("canned"), key);
  const int n = o.latency_requests;
  std::fprintf(stderr, "scn bench broker: %d clients, %.1f s per phase; latency: %d sequential requests\n",
               o.clients, o.seconds, n);
  auto& ph = report.phases;
  const pid_t bp = broker->pid();
  std::fprintf(stderr, "scn bench broker: broker pid %d\n", static_cast<int>(bp));
  auto wanted = [&](std::string_view name) {
    if (o.phases.empty()) return true;
    for (std::size_t at = 0; at <= o.phases.size();) {
      std::size_t end = o.phases.find(',', at);
      if (end == std::string::npos) end = o.phases.size();
      if (std::string_view(o.phases).substr(at, end - at) == name) return true;
      at = end + 1;
    }
    return false;
  };
  auto run = [&](const std::string& name, int port, const std::string& request, int clients, double seconds,
                 long long max_requests = 0, pid_t broker_pid = 0) -> const PhaseResult* {
    if (!wanted(name)) return nullptr;
    ph.push_back(phase(name, port, request, clients, seconds, max_requests, broker_pid));
    return &ph.back();
  };
  run("direct-model", infer_port, direct_model, o.clients, o.seconds);
  run("broker-model", broker_port, via_model, o.clients, o.seconds, 0, bp);
  run("direct-canned", canned.port(), direct_canned, o.clients, o.seconds);
  run("broker-canned", broker_port, via_canned, o.clients, o.seconds, 0, bp);
  const PhaseResult* ldm = run("latency-direct-model", infer_port, direct_model, 1, 0, n);
  const PhaseResult ldm_copy = ldm ? *ldm : PhaseResult{};
  const PhaseResult* lbm = run("latency-broker-model", broker_port, via_model, 1, 0, n, bp);
  if (lbm && ldm) {
    report.added_p50_ms_model = lbm->p50_ms - ldm_copy.p50_ms;
    report.added_p99_ms_model = lbm->p99_ms - ldm_copy.p99_ms;
  }
  const PhaseResult* ldc = run("latency-direct-canned", canned.port(), direct_canned, 1, 0, n);
  const PhaseResult ldc_copy = ldc ? *ldc : PhaseResult{};
  const PhaseResult* lbc = run("latency-broker-canned", broker_port, via_canned, 1, 0, n, bp);
  if (lbc && ldc) {
    report.added_p50_ms_canned = lbc->p50_ms - ldc_copy.p50_ms;
    report.added_p99_ms_canned = lbc->p99_ms - ldc_copy.p99_ms;
  }

  // The rate limiter on every request: huge limits, so nothing is refused.
  Status limited = !wanted("broker-canned-limited") ? Status::ok() : sql_one(*pg, "UPDATE tenants SET limit_requests_per_minute = 1000000000000,"
                                " limit_tokens_per_minute = 1000000000000000 RETURNING id").status();
  if (limited.is_ok() && wanted("broker-canned-limited")) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // the broker's policy cache
    ph.push_back(phase("broker-canned-limited", broker_port, via_canned, o.clients, o.seconds, 0, bp));
  } else {
    std::fprintf(stderr, "scn bench broker: cannot set limits: %s\n", limited.to_string().c_str());
  }

  broker->terminate();
  infer->terminate();
  canned.stop();
  (void)redis->del({"scn:routes:" + model_service, "scn:routes:" + canned_service});
  pg.reset();  // before the scratch database is dropped
  return report;
}

std::string broker_report_text(const BrokerBenchReport& r) {
  std::string out;
  char line[256];
  for (const auto& p : r.phases) {
    std::snprintf(line, sizeof line,
                  "%-24s %3d clients %10.0f req/s  p50 %8.3f ms  p99 %8.3f ms  errors %lld  CPU us/req: broker %.1f"
                  " bench %.1f infer %.1f\n",
                  p.name.c_str(), p.clients, p.requests_per_second, p.p50_ms, p.p99_ms, p.errors,
                  p.broker_cpu_us_per_request, p.bench_cpu_us_per_request, p.infer_cpu_us_per_request);
    out += line;
  }
  std::snprintf(line, sizeof line,
                "added latency (broker - direct, 1 client): replica p50 %+.3f ms p99 %+.3f ms; "
                "canned p50 %+.3f ms p99 %+.3f ms\n",
                r.added_p50_ms_model, r.added_p99_ms_model, r.added_p50_ms_canned, r.added_p99_ms_canned);
  out += line;
  out += "replica: " + r.infer_command + "\nbroker:  " + r.broker_command + "\n";
  return out;
}

std::string broker_report_json(const BrokerBenchReport& r) {
  boost::json::array phases;
  for (const auto& p : r.phases) {
    phases.push_back(boost::json::object{{"name", p.name},         {"clients", p.clients},
                                         {"requests", p.requests}, {"errors", p.errors},
                                         {"seconds", p.seconds},   {"requests_per_second", p.requests_per_second},
                                         {"p50_ms", p.p50_ms},     {"p99_ms", p.p99_ms},
                                         {"broker_cpu_us_per_request", p.broker_cpu_us_per_request},
                                         {"bench_cpu_us_per_request", p.bench_cpu_us_per_request},
                                         {"infer_cpu_us_per_request", p.infer_cpu_us_per_request}});
  }
  return boost::json::serialize(boost::json::object{
      {"phases", std::move(phases)},
      {"added_p50_ms_model", r.added_p50_ms_model},
      {"added_p99_ms_model", r.added_p99_ms_model},
      {"added_p50_ms_canned", r.added_p50_ms_canned},
      {"added_p99_ms_canned", r.added_p99_ms_canned},
      {"infer_command", r.infer_command},
      {"broker_command", r.broker_command}});
}

int broker_bench_main(int argc, char** argv) {
  namespace po = boost::program_options;
  BrokerBenchOptions o;
  auto env = [](const char* name) {
    const char* v = std::getenv(name);
    return std::string(v ? v : "");
  };
  const std::string shared = env("SCN_SHARED_DIR").empty() ? "../shared" : env("SCN_SHARED_DIR");
  o.model_path = shared + "/models/stories260K.gguf";
  o.pg_url = env("SCN_PG_URL");
  o.redis_url = env("SCN_REDIS_URL");
  po::options_description desc;
  desc.add_options()("help,h", "")("json", "")("model,m", po::value(&o.model_path), "")(
      "pg-url", po::value(&o.pg_url), "")("redis-url", po::value(&o.redis_url), "")(
      "clients,c", po::value(&o.clients), "")("seconds,s", po::value(&o.seconds), "")(
      "latency-requests", po::value(&o.latency_requests), "")("threads,t", po::value(&o.infer_threads), "")(
      "workers", po::value(&o.broker_workers), "")("phases", po::value(&o.phases), "")(
      "broker-binary", po::value(&o.broker_binary), "");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(desc).run(), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "scn bench broker: %s\n", e.what());
    return 2;
  }
  if (vm.count("help")) {
    std::printf("usage: scn bench broker [--model F] [--pg-url URL] [--redis-url URL] [--clients 64]\n"
                "                        [--seconds 5] [--latency-requests 2000] [--threads N] [--workers N] [--json]\n"
                "                        [--phases broker-canned,...] [--broker-binary PATH]\n");
    return 0;
  }
  auto report = run_broker_bench(o);
  if (!report.is_ok()) {
    std::fprintf(stderr, "scn bench broker: %s\n", report.status().to_string().c_str());
    return report.status().code() == Code::kInvalidArgument ? 2 : 1;
  }
  std::cout << (vm.count("json") ? broker_report_json(*report) + "\n" : broker_report_text(*report));
  return 0;
}

}  // namespace scn::bench
