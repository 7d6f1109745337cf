#include "catalog/catalog_cli.h"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

#include "catalog/catalog_file.h"
#include "catalog/catalog_store.h"
#include "common/config.h"
#include "common/db/migrate.h"
#include "common/db/pg.h"

namespace scn::catalog {

namespace {

constexpr const char* kUsage =
    "usage: scn catalog <subcommand> [options]\n"
    "\n"
    "subcommands:\n"
    "  import FILE   validate a catalog file and import it into PostgreSQL\n"
    "  list          list the models of the catalog and what a replica needs\n"
    "\n"
    "`scn catalog <subcommand> --help` describes a subcommand's options.\n";

int fail(const Status& st) {
  std::fprintf(stderr, "scn catalog: %s\n", st.to_string().c_str());
  return 1;
}

// Parses; returns -1 to go on, else the exit code.
int parse_options(common::OptionSet& opts, int argc, char** argv) {
  auto parsed = opts.parse(argc, argv);
  if (!parsed.is_ok()) {
    std::fprintf(stderr, "scn catalog: %s\n\n%s", parsed.status().message().c_str(),
                 opts.help().c_str());
    return 2;
  }
  return parsed.value() == common::OptionSet::Outcome::kHelp ? 0 : -1;
}

Result<std::unique_ptr<db::PgPool>> connect(const std::string& url) {
  db::PgOptions o;
  o.url = url;
  o.pool_size = 1;
  o.application_name = "scn-catalog";
  return db::PgPool::connect(o);
}

std::string human_bytes(int64_t b) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024.0 && u < 4) {
    v /= 1024.0;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, kUnits[u]);
  return buf;
}

std::string human_count(int64_t n) {
  char buf[32];
  if (n >= 1'000'000'000)
    std::snprintf(buf, sizeof buf, "%.2fB", n / 1e9);
  else if (n >= 1'000'000)
    std::snprintf(buf, sizeof buf, "%.1fM", n / 1e6);
  else if (n >= 1'000)
    std::snprintf(buf, sizeof buf, "%.1fK", n / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(n));
  return buf;
}

int import_main(int argc, char** argv) {
  std::string file, pg_url, shared_dir = "../shared";
  bool no_verify = false;
  common::OptionSet opts("scn catalog import", "validate a catalog file and import it into PostgreSQL");
  opts.positional("file", &file, "the catalog JSON file")
      .add("pg-url", &pg_url, "PostgreSQL URL (postgresql://user@host:port/db)")
      .add("shared-dir", &shared_dir, "base folder of relative file:// URIs")
      .flag("no-verify", &no_verify, "do not check size and sha256 of local files")
      .require("pg-url")
      .log_level_option();
  if (int rc = parse_options(opts, argc, argv); rc >= 0) return rc;

  auto catalog = load_catalog_file(file);
  if (!catalog.is_ok()) return fail(catalog.status());
  ResolveOptions ro;
  ro.shared_dir = shared_dir;
  ro.verify = !no_verify;
  if (Status st = resolve_local_files(catalog.value(), ro); !st.is_ok())
    return fail(st.with_context(file));
  auto pool = connect(pg_url);
  if (!pool.is_ok()) return fail(pool.status());
  if (Status st = db::migrate(**pool); !st.is_ok()) return fail(st);
  CatalogStore store(**pool);
  auto summary = store.import_catalog(catalog.value());
  if (!summary.is_ok()) return fail(summary.status().with_context("import " + file));
  std::printf("imported %s: %s\n", file.c_str(), summary->to_string().c_str());
  return 0;
}

int list_main(int argc, char** argv) {
  std::string pg_url;
  bool json = false;
  int64_t context = 4096;
  common::OptionSet opts("scn catalog list", "list the models of the catalog and what a replica needs");
  opts.add("pg-url", &pg_url, "PostgreSQL URL (postgresql://user@host:port/db)")
      .flag("json", &json, "print the cards as a JSON array")
      .add("context", &context, "context tokens for the NEED column (capped at the model's)")
      .require("pg-url")
      .log_level_option();
  if (int rc = parse_options(opts, argc, argv); rc >= 0) return rc;
  if (context <= 0) {
    std::fprintf(stderr, "scn catalog: --context must be positive\n");
    return 2;
  }
  auto pool = connect(pg_url);
  if (!pool.is_ok()) return fail(pool.status());
  CatalogStore store(**pool);
  auto cards = store.list_models();
  if (!cards.is_ok()) return fail(cards.status());
  if (json) {
    boost::json::array out;
    for (const auto& c : *cards) out.push_back(card_view_json(c));
    std::printf("%s\n", boost::json::serialize(out).c_str());
    return 0;
  }
  std::printf("%-32s %-7s %9s %10s %-8s %9s %10s\n", "MODEL", "QUANT", "PARAMS", "SIZE", "WEIGHTS",
              "KV/TOKEN", "NEED");
  for (const auto& c : *cards) {
    for (const auto& f : c.files) {
      const Requirements r = requirements(c, f);
      const int64_t ctx = std::min<int64_t>(context, r.context_length);
      std::printf("%-32s %-7s %9s %10s %-8s %9s %10s\n", c.name.c_str(),
                  std::string(quant_name(f.quantization)).c_str(),
                  human_count(c.facts.parameters).c_str(), human_bytes(f.size_bytes).c_str(),
                  f.weights_present() ? "present" : "absent",
                  human_bytes(r.kv_bytes_per_token).c_str(),
                  human_bytes(r.bytes_for_context(ctx)).c_str());
    }
  }
  std::printf("\nNEED: weights + float32 KV cache for %lld tokens (or the model's context) + %s "
              "runtime overhead.\n",
              static_cast<long long>(context), human_bytes(kDefaultRuntimeOverheadBytes).c_str());
  return 0;
}

}  // namespace

int catalog_main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string sub = argv[1];
  if (sub == "import") return import_main(argc - 1, argv + 1);
  if (sub == "list") return list_main(argc - 1, argv + 1);
  std::fprintf(stderr, "scn catalog: unknown subcommand '%s'\n\n%s", sub.c_str(), kUsage);
  return 2;
}

}  // namespace scn::catalog
