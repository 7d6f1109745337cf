// scn: one binary, many subcommands (see docs/ARCHITECTURE.md).
#include <cstdio>
#include <cstring>
#include <string_view>

#include "bench/bench.h"
#include "broker/broker_cli.h"
#include "broker/up/up_cli.h"
#include "catalog/catalog_cli.h"
#include "common/db/migrate_cmd.h"
#include "common/tls/pki_cli.h"
#include "inference/cli/commands.h"
#include "node-agent/agent_cli.h"
#include "scheduler/scheduler_cli.h"
#include "scheduler/sim/sim_cli.h"

namespace {

struct Command {
  const char* name;
  int (*main)(int, char**);
  const char* help;
};

constexpr Command kCommands[] = {
    {"up", scn::broker::up_main, "the whole platform on this machine: demo pool with the real model"},
    {"scheduler", scn::scheduler::scheduler_main, "the pool's scheduler: agents' API, placement, failover"},
    {"broker", scn::broker::broker_main, "the front door: REST API, OpenAI-compatible gateway"},
    {"agent", scn::node_agent::agent_main, "the node agent: joins a center, runs inference workers"},
    {"admin", scn::broker::admin_main, "create centers, tenants, users, keys, join tokens; list the pool"},
    {"infer", scn::inference::infer_main, "serve one GGUF model over an OpenAI-compatible HTTP API"},
    {"run", scn::inference::run_main, "generate text from a GGUF model in the terminal"},
    {"gguf", scn::inference::gguf_main, "inspect, quantize, synthesize GGUF files; import tokenizers"},
    {"bench", scn::bench::bench_main, "benchmarks that print figures"},
    {"sim", scn::scheduler::sim::sim_main, "the real scheduler over a simulated national pool"},
    {"catalog", scn::catalog::catalog_main, "import and list the model catalog"},
    {"migrate", scn::db::migrate_main, "apply the schema migrations to PostgreSQL"},
    {"pki", scn::tls::pki_main, "a private CA: issue TLS server and client certificates"},
};

void usage() {
  std::fprintf(stderr, "usage: scn <command> [options]\n\ncommands:\n");
  for (const auto& c : kCommands) std::fprintf(stderr, "  %-10s %s\n", c.name, c.help);
  std::fprintf(stderr, "\n`scn <command> --help` describes a command's options.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    usage();
    return argc < 2 ? 2 : 0;
  }
  std::string_view name = argv[1];
  for (const auto& c : kCommands)
    if (name == c.name) return c.main(argc - 1, argv + 1);
  std::fprintf(stderr, "scn: unknown command '%s'\n\n", argv[1]);
  usage();
  return 2;
}
