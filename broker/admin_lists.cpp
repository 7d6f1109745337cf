// `scn admin list tenants|centers|nodes|pool`.
#include <boost/json.hpp>

#include <algorithm>
#include <cstdio>

#include "broker/accounts.h"
#include "broker/accounts_api_util.h"
#include "broker/admin_cli_internal.h"
#include "broker/nodes_api.h"
#include "broker/pool_api.h"
#include "broker/resource_util.h"
#include "common/db/pg.h"
#include "common/json.h"

namespace scn::broker::admin {
namespace {

int fail(const Status& st) {
  std::fprintf(stderr, "scn admin: %s\n", st.message().c_str());
  return 1;
}

std::string gib(long long bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f GiB", static_cast<double>(bytes) / (1024.0 * 1024 * 1024));
  return buf;
}

int list_nodes(db::PgPool& pg, bool json) {
  auto rows = pg.with_tx([](pqxx::work& tx) -> Result<pqxx::result> {
    return tx.exec(
        "SELECT n.id::text, n.name, c.name, n.address, n.status, n.simulated, "
        "       coalesce(" + sql_time("n.last_heartbeat_at") + ", ''), "
        "       coalesce((SELECT string_agg(d.count || 'x' || d.model, ', ' ORDER BY d.kind DESC, d.model) "
        "                   FROM devices d WHERE d.node_id = n.id), ''), "
        "       (SELECT count(*) FROM replicas r WHERE r.node_id = n.id "
        "           AND r.state IN ('scheduled', 'starting', 'ready', 'stopping')), "
        "       n.managed_by, " + sql_slurm_view("n") +
        "  FROM nodes n JOIN centers c ON c.id = n.center_id "
        " WHERE n.status <> 'removed' ORDER BY c.name, n.name");
  }, {db::Isolation::kReadCommitted, true});
  if (!rows.is_ok()) return fail(rows.status());
  if (json) {
    boost::json::array items;
    for (const auto& r : *rows) {
      boost::json::object o;
      o["id"] = r[0].as<std::string>();
      o["name"] = r[1].as<std::string>();
      o["center_name"] = r[2].as<std::string>();
      o["address"] = r[3].as<std::string>();
      o["status"] = r[4].as<std::string>();
      o["simulated"] = r[5].as<bool>();
      std::string hb = r[6].as<std::string>();
      if (hb.empty()) {
        o["last_heartbeat_at"] = nullptr;
      } else {
        o["last_heartbeat_at"] = hb;
      }
      o["devices"] = r[7].as<std::string>();
      o["replicas"] = r[8].as<long long>();
      o["managed_by"] = r[9].as<std::string>();
      auto slurm = r[10].is_null() ? Result<boost::json::value>(boost::json::value(nullptr))
                                   : common::parse_json(r[10].as<std::string>());
      o["slurm"] = slurm.is_ok() ? *slurm : boost::json::value(nullptr);
      items.emplace_back(std::move(o));
    }
    print_json(account_api::list_of(std::move(items)));
    return 0;
  }
  std::vector<std::vector<std::string>> table{
      {"NAME", "CENTER", "STATUS", "MANAGED BY", "SIMULATED", "DEVICES", "REPLICAS", "LAST HEARTBEAT", "ID"}};
  for (const auto& r : *rows) {
    // "slurm (idle)", "slurm (mixed, controller unreachable)", or "agent".
    std::string managed = r[9].as<std::string>();
    if (!r[10].is_null()) {
      auto slurm = common::parse_json_object(r[10].as<std::string>());
      if (slurm.is_ok()) {
        auto text = [&](const char* key) {
          auto it = slurm->find(key);
          return it != slurm->end() && it->value().is_string() ? std::string(it->value().as_string())
                                                               : std::string();
        };
        managed += " (" + text("state") +
                   (text("controller") == "unreachable" ? ", controller unreachable" : "") + ")";
      }
    }
    table.push_back({r[1].as<std::string>(), r[2].as<std::string>(), r[4].as<std::string>(), managed,
                     r[5].as<bool>() ? "yes" : "no", r[7].as<std::string>(), r[8].as<std::string>(),
                     r[6].as<std::string>(), r[0].as<std::string>()});
  }
  print_table(table);
  return 0;
}

// Per center and device model: nodes, devices, memory and what replicas use
// (the pool overview of GET /api/v1/pool, one row per device group).
int list_pool(db::PgPool& pg, bool json) {
  auto overview = pool_overview(pg);
  if (!overview.is_ok()) return fail(overview.status());
  boost::json::array items;
  for (const auto& cv : overview->at("centers").as_array()) {
    const auto& c = cv.as_object();
    for (const auto& dv : c.at("devices").as_array()) {
      const auto& d = dv.as_object();
      items.push_back(boost::json::object{{"center", c.at("name")},
                                          {"region", c.at("region")},
                                          {"kind", d.at("kind")},
                                          {"model", d.at("model")},
                                          {"simulated", d.at("simulated")},
                                          {"nodes", d.at("nodes")},
                                          {"count", d.at("count")},
                                          {"memory_bytes", d.at("memory_bytes")},
                                          {"used_memory_bytes", d.at("used_memory_bytes")},
                                          {"free_memory_bytes", d.at("free_memory_bytes")}});
    }
  }
  if (json) {
    print_json(account_api::list_of(std::move(items)));
    return 0;
  }
  std::vector<std::vector<std::string>> table{
      {"CENTER", "REGION", "KIND", "MODEL", "SIMULATED", "NODES", "COUNT", "MEMORY", "USED", "FREE"}};
  for (const auto& iv : items) {
    const auto& o = iv.as_object();
    table.push_back({std::string(o.at("center").as_string()), std::string(o.at("region").as_string()),
                     std::string(o.at("kind").as_string()), std::string(o.at("model").as_string()),
                     o.at("simulated").as_bool() ? "yes" : "no",
                     std::to_string(o.at("nodes").as_int64()), std::to_string(o.at("count").as_int64()),
                     gib(o.at("memory_bytes").as_int64()), gib(o.at("used_memory_bytes").as_int64()),
                     gib(o.at("free_memory_bytes").as_int64())});
  }
  print_table(table);
  return 0;
}

}  // namespace

void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& row : rows) {
    if (width.size() < row.size()) width.resize(row.size(), 0);
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    std::printf("%s\n", line.c_str());
  }
}

void print_json(const boost::json::value& value) { std::printf("%s\n", boost::json::serialize(value).c_str()); }

int list_command(db::PgPool& pg, const std::string& what, bool json) {
  if (what == "tenants") {
    auto tenants = list_tenants(pg);
    if (!tenants.is_ok()) return fail(tenants.status());
    if (json) {
      boost::json::array items;
      for (const auto& t : *tenants) items.emplace_back(account_api::tenant_json(t));
      print_json(account_api::list_of(std::move(items)));
      return 0;
    }
    std::vector<std::vector<std::string>> table{{"NAME", "DISPLAY NAME", "STATUS", "REGIONS", "MAX REPLICAS", "ID"}};
    for (const auto& t : *tenants) {
      std::string regions = "any";
      if (t.allowed_regions) {
        regions.clear();
        for (const auto& r : *t.allowed_regions) regions += (regions.empty() ? "" : ",") + r;
      }
      table.push_back({t.name, t.display_name, t.status, regions, std::to_string(t.max_replicas), t.id});
    }
    print_table(table);
    return 0;
  }
  if (what == "centers") {
    auto centers = list_centers(pg);
    if (!centers.is_ok()) return fail(centers.status());
    if (json) {
      boost::json::array items;
      for (const auto& c : *centers) items.emplace_back(account_api::center_json(c));
      print_json(account_api::list_of(std::move(items)));
      return 0;
    }
    std::vector<std::vector<std::string>> table{{"NAME", "REGION", "GPU-HOUR", "CPU-CORE-HOUR", "STATUS", "ID"}};
    for (const auto& c : *centers) {
      char gpu[32], cpu[32];
      std::snprintf(gpu, sizeof gpu, "%.4f %s", c.price_gpu_hour, c.currency.c_str());
      std::snprintf(cpu, sizeof cpu, "%.6f %s", c.price_cpu_core_hour, c.currency.c_str());
      table.push_back({c.name, c.region, gpu, cpu, c.status, c.id});
    }
    print_table(table);
    return 0;
  }
  if (what == "nodes") return list_nodes(pg, json);
  if (what == "pool") return list_pool(pg, json);
  std::fprintf(stderr, "scn admin: list what? tenants, centers, nodes or pool (got '%s')\n", what.c_str());
  return 1;
}

}  // namespace scn::broker::admin
