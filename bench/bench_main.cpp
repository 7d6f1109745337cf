// `scn bench infer|serve|membw|scheduler`: argument parsing and output of the benchmarks.
#include "bench/bench.h"
#include "bench/broker_bench.h"

#include <cstdio>
#include <exception>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <boost/program_options.hpp>

#include "bench/gpu_ops_bench.h"
#include "bench/infer_bench.h"
#include "bench/load_bench.h"
#include "bench/membw_bench.h"
#include "bench/serve_bench.h"
#include "scheduler/placement_bench.h"

namespace scn::bench {

namespace po = boost::program_options;

namespace {

int resolve_threads(int threads) {
  if (threads > 0) return threads;
  const unsigned n = std::thread::hardware_concurrency();
  return n > 0 ? static_cast<int>(n) : 1;
}

void usage(std::FILE* f) {
  std::fprintf(f,
               "usage: scn bench infer --model F [--device cpu] [--threads N] [--prompt-tokens 512]\n"
               "                       [--gen-tokens 128] [--depth 0] [--reps 3] [--mib 512] [--batch 512]\n"
               "                       [--peak-gbs G] [--json]\n"
               "       scn bench serve (--model F [--device cpu] [--threads N] [--server-args \"FLAGS\"]\n"
               "                        | --url URL)\n"
               "                       [--clients 1] [--prompt-tokens 100] [--max-tokens 128]\n"
               "                       [--temperature 0]\n"
               "                       [--shared-prefix 0] [--requests N] [--seed S] [--json]\n"
               "       scn bench membw [--threads N] [--mib 512] [--json]\n"
               "       scn bench broker [--model F] [--clients 64] [--seconds 5] [--json]\n"
               "       scn bench scheduler [--nodes 10000] [--centers 30] [--replicas 20000]\n"
               "                           [--sample N] [--seed S]\n"
               "       scn bench gpu-ops [--device cuda:0] [--json] [--reps 30] [--peak-gbs 4800]\n"
               "       scn bench load [--clients 500] [--seconds 60] [--direct-seconds 15] [--json]\n"
               "\n"
               "infer: prompt processing (one eval of a prompt of random ids) and decode\n"
               "       (one token per eval after the prompt) speed in tokens/s, and decode as\n"
               "       a fraction of the memory read bandwidth measured in the same run.\n"
               "       --device cuda[:N]: through the engine's batched forward pass on the GPU\n"
               "       (prompt in chunks of --batch tokens, greedy decode sampled on the device);\n"
               "       the bandwidth is --peak-gbs (default: 4800 on an H200, else not shown).\n"
               "serve: N concurrent streaming clients against `scn infer` over HTTP (started here\n"
               "       with --model, or a running server at --url): aggregate generated tok/s,\n"
               "       time to first token and per output token p50/p99, 429s, prefix hit\n"
               "       rate (usage cached_tokens) and the started server's peak RSS.\n"
               "membw: memory read bandwidth (STREAM-like probe over a buffer of --mib MiB).\n"
               "scheduler: placement decisions/s over a synthetic pool of simulated nodes\n"
               "       (--sample N stops scoring after N feasible nodes; 0 scores all).\n"
               "--threads 0 (default) uses all cores. --mib 0 skips the bandwidth probe.\n");
}

// Parses argv into vm; returns false (after printing why) on a usage error.
bool parse(int argc, char** argv, const po::options_description& desc, po::variables_map* vm) {
  try {
    po::store(po::command_line_parser(argc, argv).options(desc).run(), *vm);
    po::notify(*vm);
    return true;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "scn bench: %s\n\n", e.what());
    usage(stderr);
    return false;
  }
}

int infer_main(int argc, char** argv) {
  InferBenchOptions o;
  size_t mib = o.membw_bytes >> 20;
  po::options_description desc;
  desc.add_options()("help,h", "")("json", "")(
      "model,m", po::value(&o.model_path)->required(), "")(
      "threads,t", po::value(&o.threads), "")("prompt-tokens,p", po::value(&o.prompt_tokens), "")(
      "gen-tokens,n", po::value(&o.gen_tokens), "")("depth,d", po::value(&o.depth), "")("reps,r", po::value(&o.reps), "")(
      "mib", po::value(&mib), "")("seed", po::value(&o.seed), "")(
      "device", po::value(&o.device), "")("batch", po::value(&o.batch), "")(
      "peak-gbs", po::value(&o.peak_gbs), "");
  po::variables_map vm;
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h") {
      usage(stdout);
      return 0;
    }
  if (!parse(argc, argv, desc, &vm)) return 2;
  o.membw_bytes = mib << 20;
  auto report = run_infer_bench(o);
  if (!report.is_ok()) {
    std::fprintf(stderr, "scn bench infer: %s\n", report.status().to_string().c_str());
    return report.status().code() == Code::kInvalidArgument ? 2 : 1;
  }
  if (vm.count("json"))
    std::cout << infer_report_json(*report) << "\n";
  else
    std::cout << format_infer_report(*report);
  return 0;
}

std::vector<std::string> split_words(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ' ' || c == '\t') {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

int serve_main(int argc, char** argv) {
  ServeBenchOptions o;
  std::string server_args;
  po::options_description desc;
  desc.add_options()("help,h", "")("json", "")("model,m", po::value(&o.model_path), "")(
      "url", po::value(&o.url), "")("threads,t", po::value(&o.threads), "")(
      "device", po::value(&o.device), "")("temperature", po::value(&o.temperature), "")(
      "max-queue", po::value(&o.max_queue), "")("server-args", po::value(&server_args), "")(
      "clients,c", po::value(&o.clients), "")("prompt-tokens,p", po::value(&o.prompt_tokens), "")(
      "max-tokens,n", po::value(&o.max_tokens), "")("shared-prefix", po::value(&o.shared_prefix), "")(
      "requests,r", po::value(&o.requests), "")("seed", po::value(&o.seed), "")(
      "timeout", po::value(&o.timeout_seconds), "");
  po::variables_map vm;
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h") {
      usage(stdout);
      return 0;
    }
  if (!parse(argc, argv, desc, &vm)) return 2;
  o.server_args = split_words(server_args);
  auto report = run_serve_bench(o);
  if (!report.is_ok()) {
    std::fprintf(stderr, "scn bench serve: %s\n", report.status().to_string().c_str());
    return report.status().code() == Code::kInvalidArgument ? 2 : 1;
  }
  if (vm.count("json"))
    std::cout << serve_report_json(*report) << "\n";
  else
    std::cout << format_serve_report(*report);
  return 0;
}

int membw_main(int argc, char** argv) {
  int threads = 0;
  size_t mib = 512;
  po::options_description desc;
  desc.add_options()("help,h", "")("json", "")("threads,t", po::value(&threads), "")(
      "mib", po::value(&mib), "");
  po::variables_map vm;
  if (!parse(argc, argv, desc, &vm)) return 2;
  if (vm.count("help")) {
    usage(stdout);
    return 0;
  }
  if (mib == 0 || threads < 0) {
    std::fprintf(stderr, "scn bench membw: --mib must be >= 1 and --threads >= 0\n");
    return 2;
  }
  threads = resolve_threads(threads);
  const double gbs = measure_membw_gbs(threads, mib << 20);
  if (vm.count("json")) {
    boost::json::object o{{"threads", threads}, {"membw_bytes", mib << 20}, {"membw_gbs", gbs}};
    std::cout << boost::json::serialize(o) << "\n";
  } else {
    std::printf("membw        %.2f GB/s read (STREAM-like probe, %zu MiB buffer, %d threads)\n",
                gbs, mib, threads);
  }
  return 0;
}

int scheduler_main(int argc, char** argv) {
  scheduler::PlacementBenchOptions o;
  po::options_description desc;
  desc.add_options()("help,h", "")("nodes", po::value(&o.nodes), "")(
      "centers", po::value(&o.centers), "")("replicas", po::value(&o.replicas), "")(
      "sample", po::value(&o.max_feasible_nodes), "")("seed", po::value(&o.seed), "");
  po::variables_map vm;
  if (!parse(argc, argv, desc, &vm)) return 2;
  if (vm.count("help")) {
    usage(stdout);
    return 0;
  }
  auto r = scheduler::run_placement_bench(o);
  if (!r.is_ok()) {
    std::fprintf(stderr, "scn bench scheduler: %s\n", r.status().to_string().c_str());
    return 2;
  }
  std::printf("pool         %d simulated nodes in %d centers (synthetic)\n", o.nodes, o.centers);
  std::cout << r->to_string();
  return 0;
}

}  // namespace

int bench_main(int argc, char** argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const std::string what = argv[1];
  if (what == "infer") return infer_main(argc - 1, argv + 1);
  if (what == "serve") return serve_main(argc - 1, argv + 1);
  if (what == "membw") return membw_main(argc - 1, argv + 1);
  if (what == "scheduler") return scheduler_main(argc - 1, argv + 1);
  if (what == "broker") return broker_bench_main(argc - 1, argv + 1);
  if (what == "gpu-ops") return gpu_ops_bench_main(argc - 1, argv + 1);
  if (what == "load") return load_bench_main(argc - 1, argv + 1);
  if (what == "--help" || what == "-h") {
    usage(stdout);
    return 0;
  }
  std::fprintf(stderr, "scn bench: unknown benchmark '%s'\n\n", what.c_str());
  usage(stderr);
  return 2;
}

}  // namespace scn::bench
