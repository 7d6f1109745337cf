// `scn admin [--pg-url URL] [--json] <command> ...`: the account operations
// of /api/v1 straight on PostgreSQL, for operators at a terminal and for
// scripts (--json). Migrations are applied first. Errors print one line
// "scn admin: ..." and exit 1.
#include <boost/json.hpp>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "broker/accounts.h"
#include "broker/accounts_api_util.h"
#include "broker/admin_cli_internal.h"
#include "broker/broker_cli.h"
#include "common/config.h"
#include "common/db/migrate.h"
#include "common/db/pg.h"
#include "common/log.h"

namespace scn::broker {
namespace {

constexpr const char* kUsage =
    "usage: scn admin [--pg-url URL] [--json] <command> ...\n"
    "commands:\n"
    "  create-tenant NAME [--display-name S] [--regions a,b] [--max-replicas N]\n"
    "  create-center NAME --region R [--price-gpu-hour X] [--price-cpu-core-hour Y]\n"
    "  create-user USERNAME --role admin|operator|member [--tenant T] [--center C]\n"
    "              (--password P | --password-stdin)\n"
    "  create-key --tenant T --name N [--expires-in SECONDS]      (prints the key)\n"
    "  create-join-token --center C [--ttl SECONDS] [--max-uses N] (prints the token)\n"
    "  list tenants|centers|nodes|pool\n"
    "--pg-url defaults to $SCN_PG_URL; --json (anywhere) prints JSON for machines.\n";

int fail(const std::string& message) {
  std::fprintf(stderr, "scn admin: %s\n", message.c_str());
  return 1;
}

int fail(const Status& st) { return fail(st.message()); }

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    auto comma = s.find(',', start);
    std::string item = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

Actor cli_actor() {
  Actor a;
  a.kind = "system";
  a.name = "scn admin";
  return a;
}

struct Common {
  std::string pg_url;
  bool json = false;
};

void add_common(common::OptionSet& opts, Common* c) {
  opts.add("pg-url", &c->pg_url, "PostgreSQL URL (postgresql://user@host:port/db)")
      .require("pg-url")
      .log_level_option();
}

// Parses the command's options; nullopt + exit code when it must not run.
std::optional<int> parse(common::OptionSet& opts, const std::vector<const char*>& args) {
  auto parsed = opts.parse(static_cast<int>(args.size()), args.data());
  if (!parsed.is_ok()) return fail(parsed.status());
  if (*parsed == common::OptionSet::Outcome::kHelp) return 0;
  return std::nullopt;
}

Result<std::unique_ptr<db::PgPool>> open_db(const std::string& url) {
  db::PgOptions o;
  o.url = url;
  o.pool_size = 1;
  o.application_name = "scn-admin";
  SCN_ASSIGN_OR_RETURN(auto pg, db::PgPool::connect(o));
  SCN_RETURN_IF_ERROR(db::migrate(*pg));
  return pg;
}

// Prints a secret: alone on stdout (human) or as JSON.
void print_secret(const IssuedSecret& s, bool json, const std::string& kind, const std::string& what,
                  boost::json::object extra) {
  if (json) {
    extra["id"] = s.id;
    extra[kind == "API key" ? "key" : "token"] = s.secret;
    extra["prefix"] = s.prefix;
    extra["created_at"] = s.created_at;
    if (s.expires_at.empty()) {
      extra["expires_at"] = nullptr;
    } else {
      extra["expires_at"] = s.expires_at;
    }
    admin::print_json(extra);
    return;
  }
  std::fprintf(stderr, "created %s %s (id %s, prefix %s, expires %s); it is shown only once:\n", kind.c_str(),
               what.c_str(), s.id.c_str(), s.prefix.c_str(), s.expires_at.empty() ? "never" : s.expires_at.c_str());
  std::printf("%s\n", s.secret.c_str());
}

int run(const std::string& command, const std::vector<const char*>& args, bool json) {
  Common c;
  c.json = json;
  common::OptionSet opts("scn admin " + command, "see scn admin --help");
  add_common(opts, &c);
  std::string name, display, regions, region, role, tenant, center, password, key_name;
  int max_replicas = 16, max_uses = 0, kdf_cost = crypto::KdfParams{}.log2_n;
  double price_gpu = 0, price_cpu = 0;
  std::int64_t expires_in = 0, ttl = 3600;
  bool password_stdin = false;
  if (command == "create-tenant") {
    opts.positional("name", &name, "tenant name")
        .add("display-name", &display, "display name (default: the name)")
        .add("regions", &regions, "allowed regions, comma-separated (default: anywhere)")
        .add("max-replicas", &max_replicas, "most replicas of all its services");
  } else if (command == "create-center") {
    opts.positional("name", &name, "center name")
        .add("region", &region, "region (province)")
        .require("region")
        .add("price-gpu-hour", &price_gpu, "price of one GPU-hour")
        .add("price-cpu-core-hour", &price_cpu, "price of one CPU-core-hour");
  } else if (command == "create-user") {
    opts.positional("username", &name, "login name")
        .add("role", &role, "admin, operator or member")
        .require("role")
        .add("tenant", &tenant, "the member's tenant (id or name)")
        .add("center", &center, "the operator's center (id or name)")
        .add("password", &password, "the password (or --password-stdin)")
        .flag("password-stdin", &password_stdin, "read the password from stdin")
        .add("kdf-cost", &kdf_cost, "password hashing cost, log2 of scrypt's N (10..20)");
  } else if (command == "create-key") {
    opts.add("tenant", &tenant, "tenant (id or name)")
        .require("tenant")
        .add("name", &key_name, "the key's name")
        .require("name")
        .add("expires-in", &expires_in, "seconds until it expires (default: never)");
  } else if (command == "create-join-token") {
    opts.add("center", &center, "center (id or name)")
        .require("center")
        .add("ttl", &ttl, "seconds until it expires (60..2592000)")
        .add("max-uses", &max_uses, "how many nodes may join with it (default: unlimited)");
  } else if (command == "list") {
    opts.positional("what", &name, "tenants, centers, nodes or pool");
  } else {
    std::fprintf(stderr, "scn admin: unknown command '%s'\n\n%s", command.c_str(), kUsage);
    return 1;
  }
  if (auto code = parse(opts, args)) return *code;

  auto pg = open_db(c.pg_url);
  if (!pg.is_ok()) return fail(pg.status().with_context("database"));
  db::PgPool& db = **pg;
  const Actor actor = cli_actor();

  if (command == "create-tenant") {
    NewTenant spec{name, display, std::nullopt, max_replicas};
    if (opts.given("regions")) spec.allowed_regions = split_list(regions);
    auto t = create_tenant(db, spec, actor);
    if (!t.is_ok()) return fail(t.status());
    if (c.json) {
      admin::print_json(account_api::tenant_json(*t));
    } else {
      std::printf("created tenant %s (id %s)\n", t->name.c_str(), t->id.c_str());
    }
  } else if (command == "create-center") {
    auto ce = create_center(db, {name, region, price_gpu, price_cpu}, actor);
    if (!ce.is_ok()) return fail(ce.status());
    if (c.json) {
      admin::print_json(account_api::center_json(*ce));
    } else {
      std::printf("created center %s in %s (id %s)\n", ce->name.c_str(), ce->region.c_str(), ce->id.c_str());
    }
  } else if (command == "create-user") {
    auto parsed_role = parse_role(role);
    if (!parsed_role.is_ok()) return fail("--role must be admin, operator or member");
    if (password_stdin == opts.given("password")) return fail("give exactly one of --password and --password-stdin");
    if (password_stdin && !std::getline(std::cin, password)) return fail("no password on stdin");
    while (!password.empty() && (password.back() == '\n' || password.back() == '\r')) password.pop_back();
    if (kdf_cost < 10 || kdf_cost > 20) return fail("--kdf-cost must be 10..20");
    crypto::KdfParams kdf;
    kdf.log2_n = kdf_cost;
    auto u = create_user(db, {name, password, *parsed_role, tenant, center}, actor, kdf);
    if (!u.is_ok()) return fail(u.status());
    if (c.json) {
      admin::print_json(account_api::user_json(*u));
    } else {
      std::printf("created %s %s (id %s)\n", std::string(role_name(u->role)).c_str(), u->username.c_str(),
                  u->id.c_str());
    }
  } else if (command == "create-key") {
    NewApiKey spec{tenant, key_name, std::nullopt, ""};
    if (opts.given("expires-in")) spec.expires_in_seconds = expires_in;
    auto k = create_api_key(db, spec, actor);
    if (!k.is_ok()) return fail(k.status());
    boost::json::object extra;
    extra["name"] = k->name;
    print_secret(*k, c.json, "API key", "'" + k->name + "' for tenant " + tenant, std::move(extra));
  } else if (command == "create-join-token") {
    NewJoinToken spec{center, ttl, std::nullopt, ""};
    if (opts.given("max-uses")) spec.max_uses = max_uses;
    auto t = create_join_token(db, spec, actor);
    if (!t.is_ok()) return fail(t.status());
    boost::json::object extra;
    if (spec.max_uses) {
      extra["max_uses"] = *spec.max_uses;
    } else {
      extra["max_uses"] = nullptr;
    }
    print_secret(*t, c.json, "join token", "for center " + center, std::move(extra));
  } else {
    return admin::list_command(db, name, c.json);
  }
  return 0;
}

}  // namespace

int admin_main(int argc, char** argv) {
  // The command is the first argument that is neither an option nor the
  // value of --pg-url / --log-level.
  int at = 1;
  while (at < argc && argv[at][0] == '-') {
    std::string a = argv[at];
    if (a == "--help" || a == "-h") {
      std::printf("%s", kUsage);
      return 0;
    }
    at += (a == "--pg-url" || a == "--log-level") ? 2 : 1;
  }
  if (at >= argc) {
    std::fprintf(stderr, "scn admin: no command given\n\n%s", kUsage);
    return 1;
  }
  std::string command = argv[at];
  std::string program = "scn admin " + command;
  // --json is taken out here: as a flag before a positional argument the
  // option parser would read that argument as its value.
  bool json = false;
  std::vector<const char*> args{program.c_str()};
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0) {
      json = true;
    } else if (i != at) {
      args.push_back(argv[i]);
    }
  }
  return run(command, args, json);
}

}  // namespace scn::broker
