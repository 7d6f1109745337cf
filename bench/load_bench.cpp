#include "bench/load_bench.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include <boost/json.hpp>
#include <boost/program_options.hpp>

#include "bench/http_load.h"
#include "bench/load_pool.h"
#include "bench/stream_client.h"
#include "broker/up/scn_process.h"
#include "common/crypto/worker_secret.h"
#include "common/db/pg.h"
#include "common/process/subprocess.h"

namespace scn::bench {

namespace fs = std::filesystem;
namespace json = boost::json;
namespace po = boost::program_options;
using namespace std::chrono_literals;

double LoadPhase::error_rate() const {
  const long long all = ok + errors + rate_limited;
  return all > 0 ? static_cast<double>(errors) / static_cast<double>(all) : 0.0;
}

namespace {

long long vm_hwm_kib(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::atoll(line.c_str() + 6);
  return 0;
}

// `clients` closed-loop clients over `urls` (evenly) for `seconds`.
// keys[i] is the bearer token for urls[i].
LoadPhase run_phase(const std::string& name, const std::vector<std::string>& urls,
                    const std::vector<std::string>& keys, const std::string& body, int clients, double seconds) {
  LoadPhase phase;
  phase.name = name;
  phase.clients = clients;
  std::mutex mu;
  std::vector<double> ttft, total;
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  const auto began = std::chrono::steady_clock::now();
  const auto end = began + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                               std::chrono::duration<double>(seconds));
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      const std::string url = urls[c % urls.size()] + "/v1/completions";
      const std::string key = keys[c % urls.size()];
      std::vector<double> my_ttft, my_total;
      long long ok = 0, limited = 0, errors = 0;
      std::vector<std::string> examples;
      while (!stop && std::chrono::steady_clock::now() < end) {
        StreamOutcome o = stream_completion(url, key, body, {}, 60s);
        if (std::chrono::steady_clock::now() > end) break;  // late answers are not counted
        if (o.result == StreamResult::kOk) {
          ++ok;
          my_ttft.push_back(o.ttft_ms);
          my_total.push_back(o.total_ms);
        } else if (o.status == 429) {
          ++limited;
          std::this_thread::sleep_for(50ms);
        } else {
          ++errors;
          if (examples.size() < 2) examples.push_back(o.error.substr(0, 200));
          std::this_thread::sleep_for(50ms);
        }
      }
      std::lock_guard lock(mu);
      phase.ok += ok;
      phase.rate_limited += limited;
      phase.errors += errors;
      ttft.insert(ttft.end(), my_ttft.begin(), my_ttft.end());
      total.insert(total.end(), my_total.begin(), my_total.end());
      for (auto& e : examples)
        if (phase.error_examples.size() < 5) phase.error_examples.push_back(std::move(e));
    });
  }
  for (auto& t : threads) t.join();
  phase.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  phase.ttft_p50_ms = quantile(ttft, 0.50);
  phase.ttft_p99_ms = quantile(ttft, 0.99);
  phase.total_p50_ms = quantile(total, 0.50);
  phase.total_p99_ms = quantile(total, 0.99);
  return phase;
}

}  // namespace

Result<LoadBenchReport> run_load_bench(const LoadBenchOptions& o) {
  if (o.clients < 1 || o.seconds <= 0 || o.brokers < 1 || o.replicas < 1 || o.agents < 1)
    return Status::invalid_argument("clients, seconds, brokers, agents and replicas must be positive");
  char tmpl[] = "/tmp/scn-load-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return Status::io_error("mkdtemp failed");
  ::chmod(tmpl, 0755);  // PostgreSQL runs as `postgres` when we are root
  LoadBenchReport report;
  report.dir = tmpl;
  Result<LoadBenchReport> result = [&]() -> Result<LoadBenchReport> {
    LoadPoolOptions po;
    po.dir = report.dir;
    po.binary = o.scn_binary.empty() ? process::self_executable() : o.scn_binary;
    po.shared_dir = o.shared_dir;
    po.schedulers = o.schedulers;
    po.brokers = o.brokers;
    po.agents = o.agents;
    po.replicas = o.replicas;
    po.broker_workers = o.broker_workers;
    std::fprintf(stderr, "scn bench load: starting the pool in %s ...\n", report.dir.c_str());
    SCN_ASSIGN_OR_RETURN(auto pool, LoadPool::start(po));
    const std::string body = json::serialize(json::object{{"model", pool->service_name()},
                                                          {"prompt", "Once upon a time"},
                                                          {"temperature", 0},
                                                          {"max_tokens", o.max_tokens},
                                                          {"stream", true}});
    std::vector<std::string> brokers;
    for (int i = 0; i < pool->brokers(); ++i) brokers.push_back(pool->broker_url(i));
    std::fprintf(stderr, "scn bench load: %d clients through %d brokers for %.0f s ...\n", o.clients,
                 pool->brokers(), o.seconds);
    report.phases.push_back(run_phase("broker", brokers, std::vector<std::string>(brokers.size(), pool->api_key()),
                                      body, o.clients, o.seconds));
    for (int i = 0; i < pool->brokers(); ++i) report.broker_vm_hwm_kib.push_back(vm_hwm_kib(pool->broker(i).pid()));

    // The replicas' own ports (the same model name: the service's alias),
    // each with its worker secret (common/crypto/worker_secret.h), as the
    // brokers send it.
    SCN_ASSIGN_OR_RETURN(const std::string cluster_key, crypto::load_cluster_key(pool->pg()));
    std::vector<std::string> secrets;
    auto ports = pool->pg().with_tx([&](pqxx::work& tx) -> Result<std::vector<std::string>> {
      std::vector<std::string> urls;
      for (const auto& row : tx.exec_params(
               "SELECT n.address, r.port, r.id::text FROM replicas r JOIN nodes n ON n.id = r.node_id"
               " WHERE r.service_id = $1 AND r.state = 'ready' AND r.port IS NOT NULL",
               pool->service_id())) {
        urls.push_back("http://" + row[0].as<std::string>() + ":" + std::to_string(row[1].as<int>()));
        secrets.push_back(crypto::worker_secret(cluster_key, row[2].as<std::string>()));
      }
      return urls;
    });
    if (!ports.is_ok()) return ports.status();
    if (ports->empty()) return Status::unavailable("no ready replica left for the direct phase");
    if (o.direct_seconds > 0) {
      std::fprintf(stderr, "scn bench load: %d clients straight to %zu replicas for %.0f s ...\n", o.clients,
                   ports->size(), o.direct_seconds);
      report.phases.push_back(run_phase("direct", *ports, secrets, body, o.clients, o.direct_seconds));
    }
    return report;
  }();
  if (!o.keep_dir) {
    std::error_code ec;
    fs::remove_all(report.dir, ec);
  }
  return result;
}

std::string load_report_text(const LoadBenchReport& r) {
  std::ostringstream out;
  char line[512];
  for (const auto& p : r.phases) {
    std::snprintf(line, sizeof line,
                  "%-7s %4d clients %5.1f s: ok %lld (%.1f/s), 429 %lld, errors %lld (rate %.4f%%); "
                  "TTFT p50 %.1f ms p99 %.1f ms; total p50 %.1f ms p99 %.1f ms\n",
                  p.name.c_str(), p.clients, p.seconds, p.ok, p.seconds > 0 ? p.ok / p.seconds : 0.0,
                  p.rate_limited, p.errors, 100.0 * p.error_rate(), p.ttft_p50_ms, p.ttft_p99_ms, p.total_p50_ms,
                  p.total_p99_ms);
    out << line;
    for (const auto& e : p.error_examples) out << "        error: " << e << "\n";
  }
  long long peak = 0;
  out << "brokers' peak memory (VmHWM):";
  for (auto k : r.broker_vm_hwm_kib) {
    out << " " << k / 1024 << " MiB";
    peak = std::max(peak, k);
  }
  out << " (max " << peak / 1024 << " MiB)\n";
  return out.str();
}

std::string load_report_json(const LoadBenchReport& r) {
  json::array phases;
  for (const auto& p : r.phases) {
    json::array examples;
    for (const auto& e : p.error_examples) examples.push_back(json::value(e));
    phases.push_back(json::object{{"name", p.name},
                                  {"clients", p.clients},
                                  {"seconds", p.seconds},
                                  {"ok", p.ok},
                                  {"rate_limited", p.rate_limited},
                                  {"errors", p.errors},
                                  {"error_rate", p.error_rate()},
                                  {"ttft_p50_ms", p.ttft_p50_ms},
                                  {"ttft_p99_ms", p.ttft_p99_ms},
                                  {"total_p50_ms", p.total_p50_ms},
                                  {"total_p99_ms", p.total_p99_ms},
                                  {"error_examples", examples}});
  }
  json::array hwm;
  for (auto k : r.broker_vm_hwm_kib) hwm.push_back(k);
  return json::serialize(json::object{{"phases", phases}, {"broker_vm_hwm_kib", hwm}});
}

int load_bench_main(int argc, char** argv) {
  LoadBenchOptions o;
  const char* shared = std::getenv("SCN_SHARED_DIR");
  o.shared_dir = shared != nullptr && *shared != '\0' ? shared : "../shared";
  po::options_description desc("scn bench load");
  desc.add_options()("help,h", "")("clients", po::value(&o.clients), "concurrent streaming clients (500)")(
      "seconds", po::value(&o.seconds), "length of the broker phase (60)")(
      "direct-seconds", po::value(&o.direct_seconds), "length of the direct phase (15; 0: none)")(
      "max-tokens", po::value(&o.max_tokens), "tokens per completion (16)")(
      "brokers", po::value(&o.brokers), "brokers (2)")("agents", po::value(&o.agents), "agents (3)")(
      "replicas", po::value(&o.replicas), "replicas of stories260k (3)")(
      "workers", po::value(&o.broker_workers), "--workers of each broker")(
      "shared-dir", po::value(&o.shared_dir), "../shared (SCN_SHARED_DIR)")(
      "keep-dir", po::bool_switch(&o.keep_dir), "keep the pool's folder (logs)")(
      "json", po::bool_switch(), "print JSON");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "scn bench load: %s\n", e.what());
    return 2;
  }
  if (vm.count("help")) {
    std::cout << desc << "\n";
    return 0;
  }
  auto r = run_load_bench(o);
  if (!r.is_ok()) {
    std::fprintf(stderr, "scn bench load: %s\n", r.status().to_string().c_str());
    return 1;
  }
  if (vm["json"].as<bool>())
    std::cout << load_report_json(*r) << "\n";
  else
    std::cout << load_report_text(*r);
  return 0;
}

}  // namespace scn::bench
