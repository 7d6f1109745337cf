#include "broker/pool_api.h"

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <map>
#include <string>
#include <vector>

#include "broker/resource_util.h"
#include "common/db/pg.h"

namespace scn::broker {
namespace {

namespace json = boost::json;

// 2026-11-28, 2026-11-28T19:13:48Z, 2026-11-28T19:13:48.5+08:00 (the cast
// in PostgreSQL then checks the values).
bool looks_like_time(std::string_view s) {
  auto digits = [&](std::size_t at, std::size_t n) {
    if (at + n > s.size()) return false;
    for (std::size_t i = at; i < at + n; ++i)
      if (std::isdigit(static_cast<unsigned char>(s[i])) == 0) return false;
    return true;
  };
  if (!digits(0, 4) || s.size() < 10 || s[4] != '-' || !digits(5, 2) || s[7] != '-' ||
      !digits(8, 2))
    return false;
  if (s.size() == 10) return true;
  if ((s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(11, 2) || s.size() < 16 ||
      s[13] != ':' || !digits(14, 2))
    return false;
  std::size_t i = 16;
  if (i < s.size() && s[i] == ':') {
    if (!digits(i + 1, 2)) return false;
    i += 3;
    if (i < s.size() && s[i] == '.') {
      ++i;
      std::size_t start = i;
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) != 0) ++i;
      if (i == start) return false;
    }
  }
  std::string_view zone = s.substr(i);
  if (zone.empty() || zone == "Z" || zone == "z") return true;
  return zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && digits(i + 1, 2) &&
         zone[3] == ':' && digits(i + 4, 2);
}

Result<std::optional<std::string>> time_param(const ApiCall& call, std::string_view name) {
  auto v = call.request.query_param(name);
  if (!v) return std::optional<std::string>();
  if (!looks_like_time(*v))
    return Status::invalid_argument("param '" + std::string(name) +
                                    "' must be an RFC 3339 time (2026-11-28T19:00:00Z)");
  return std::optional<std::string>(std::string(*v));
}

const char* opt_c(const std::optional<std::string>& s) { return s ? s->c_str() : nullptr; }

// RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled.
std::string csv_field(std::string_view v) {
  if (v.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(v);
  std::string out = "\"";
  for (char c : v) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// The dimensions a usage row may be grouped by (besides tenant and service),
// in the order of the rows' fields.
struct UsageDims {
  bool day = false, key = false, model = false, center = false;
};

// The rows' fields, in order (JSON objects and CSV columns alike).
std::vector<std::string> usage_columns(const UsageDims& d) {
  std::vector<std::string> c;
  if (d.day) c.push_back("day");
  for (const char* f : {"tenant_id", "service_id", "service_name"}) c.push_back(f);
  if (d.key) c.insert(c.end(), {"api_key_id", "api_key_name"});
  if (d.model) c.push_back("model");
  if (d.center) c.insert(c.end(), {"center_id", "center_name"});
  for (const char* f : {"requests", "prompt_tokens", "cached_prompt_tokens", "completion_tokens"}) c.push_back(f);
  return c;
}

std::string usage_csv(const json::array& rows, const UsageDims& dims) {
  const auto columns = usage_columns(dims);
  std::string out;
  for (std::size_t i = 0; i < columns.size(); ++i) out += (i ? "," : "") + columns[i];
  out += "\r\n";
  for (const auto& v : rows) {
    const auto& r = v.as_object();
    for (std::size_t i = 0; i < columns.size(); ++i) {
      if (i) out += ',';
      const json::value& f = r.at(columns[i]);
      if (f.is_string()) out += csv_field(f.get_string());
      else if (f.is_int64()) out += std::to_string(f.get_int64());
      // null: an empty field
    }
    out += "\r\n";
  }
  return out;
}

// "day,key" -> dims; "service" (the default) adds nothing.
Result<UsageDims> parse_group_by(std::string_view text) {
  UsageDims d;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view dim = text.substr(start, comma - start);
    if (dim == "day") d.day = true;
    else if (dim == "key") d.key = true;
    else if (dim == "model") d.model = true;
    else if (dim == "center") d.center = true;
    else if (dim != "service")
      return Status::invalid_argument("param 'group_by' must be a comma-separated list of "
                                      "service, day, key, model, center");
    start = comma + 1;
  }
  return d;
}

}  // namespace

Result<json::object> pool_overview(db::PgPool& pg) {
  return pg.with_tx(
      [&](pqxx::work& tx) -> Result<json::object> {
        json::array centers;
        std::map<std::string, std::size_t> index;
        for (const auto& r : tx.exec(
                 "SELECT c.id, c.name, c.region, "
                 "count(n.id) FILTER (WHERE n.status = 'ready'), "
                 "count(n.id) FILTER (WHERE n.status = 'draining'), "
                 "count(n.id) FILTER (WHERE n.status = 'lost'), "
                 "count(n.id) FILTER (WHERE n.managed_by = 'slurm' AND n.status <> 'removed'), "
                 "count(n.id) FILTER (WHERE n.managed_by = 'slurm' AND n.status <> 'removed' "
                 "  AND n.slurm->>'controller' = 'unreachable') "
                 "FROM centers c LEFT JOIN nodes n ON n.center_id = c.id "
                 "WHERE c.status <> 'retired' GROUP BY c.id ORDER BY c.name")) {
          json::object c;
          c["id"] = r[0].as<std::string>();
          c["name"] = r[1].as<std::string>();
          c["region"] = r[2].as<std::string>();
          c["nodes"] = json::object{{"ready", r[3].as<std::int64_t>()},
                                    {"draining", r[4].as<std::int64_t>()},
                                    {"lost", r[5].as<std::int64_t>()}};
          const std::int64_t slurm_nodes = r[6].as<std::int64_t>();
          const std::int64_t unreachable = r[7].as<std::int64_t>();
          c["slurm_nodes"] = slurm_nodes;
          c["degraded"] = unreachable > 0;
          c["degraded_reason"] =
              unreachable > 0 ? "Slurm controller unreachable (reported for " +
                                    std::to_string(unreachable) + " of " +
                                    std::to_string(slurm_nodes) + " Slurm nodes)"
                              : std::string();
          c["devices"] = json::array();
          index[r[0].as<std::string>()] = centers.size();
          centers.push_back(std::move(c));
        }
        for (const auto& r : tx.exec(
                 "WITH used AS (SELECT r.device_id, "
                 "  sum(CASE WHEN d.kind = 'gpu' THEN cardinality(r.device_indices) "
                 "      ELSE r.cpu_threads END) AS n, sum(r.memory_bytes) AS mem "
                 "  FROM replicas r JOIN devices d ON d.id = r.device_id "
                 "  WHERE r.state IN ('scheduled', 'starting', 'ready', 'stopping') "
                 "  GROUP BY r.device_id) "
                 "SELECT n.center_id, d.kind, d.model, n.simulated, sum(d.count)::bigint, "
                 "sum(CASE WHEN d.kind = 'gpu' THEN d.memory_bytes * d.count "
                 "    ELSE d.memory_bytes END)::bigint, "
                 "coalesce(sum(u.n), 0)::bigint, coalesce(sum(u.mem), 0)::bigint, "
                 "count(DISTINCT n.id) "
                 "FROM devices d JOIN nodes n ON n.id = d.node_id "
                 "LEFT JOIN used u ON u.device_id = d.id "
                 "WHERE n.status IN ('ready', 'draining') "
                 "GROUP BY n.center_id, d.kind, d.model, n.simulated "
                 "ORDER BY d.kind DESC, d.model, n.simulated")) {
          auto it = index.find(r[0].as<std::string>());
          if (it == index.end()) continue;  // a retired center
          const std::int64_t memory = r[5].as<std::int64_t>();
          const std::int64_t used_memory = r[7].as<std::int64_t>();
          json::object d{{"kind", r[1].as<std::string>()},
                         {"model", r[2].as<std::string>()},
                         {"simulated", r[3].as<bool>()},
                         {"count", r[4].as<std::int64_t>()},
                         {"memory_bytes", memory},
                         {"used_count", r[6].as<std::int64_t>()},
                         {"used_memory_bytes", used_memory},
                         {"free_memory_bytes", std::max<std::int64_t>(0, memory - used_memory)},
                         {"nodes", r[8].as<std::int64_t>()}};
          centers[it->second].as_object()["devices"].as_array().push_back(std::move(d));
        }
        json::object services;
        for (const auto& r : tx.exec("SELECT status, count(*) FROM services "
                                     "WHERE deleted_at IS NULL GROUP BY status ORDER BY status"))
          services[r[0].as<std::string>()] = r[1].as<std::int64_t>();
        json::object replicas;
        for (const auto& r : tx.exec("SELECT r.state, count(*) FROM replicas r "
                                     "JOIN services s ON s.id = r.service_id "
                                     "WHERE s.deleted_at IS NULL GROUP BY r.state ORDER BY 1"))
          replicas[r[0].as<std::string>()] = r[1].as<std::int64_t>();
        return json::object{{"centers", std::move(centers)},
                            {"services", std::move(services)},
                            {"replicas", std::move(replicas)}};
      
      },
      {.read_only = true});
}

namespace {

Status pool(BrokerContext& ctx, ApiCall& call) {
  if (!call.who().is_admin()) return Status::permission_denied("only admins see the pool");
  auto body = pool_overview(ctx.pg);
  if (!body.is_ok()) return body.status();
  reply_json(call, 200, *body);
  return Status::ok();
}

Status usage(BrokerContext& ctx, ApiCall& call) {
  const Principal& p = call.who();
  std::string tenant;
  auto asked = call.request.query_param("tenant_id");
  if (p.is_admin()) {
    if (asked) {
      if (!is_uuid(*asked)) return Status::not_found("param 'tenant_id': no such tenant");
      tenant = std::string(*asked);
    }
  } else if (p.role == Role::kMember && !p.tenant_id.empty()) {
    if (asked && *asked != p.tenant_id)
      return Status::permission_denied("param 'tenant_id': members see their own tenant only");
    tenant = p.tenant_id;
  } else {
    return Status::permission_denied("usage is for tenants' members and admins");
  }
  std::string service;
  if (auto s = call.request.query_param("service_id")) {
    if (!is_uuid(*s)) return Status::not_found("param 'service_id': service not found");
    service = std::string(*s);
  }
  SCN_ASSIGN_OR_RETURN(auto from, time_param(call, "from"));
  SCN_ASSIGN_OR_RETURN(auto to, time_param(call, "to"));
  UsageDims dims;
  if (auto g = call.request.query_param("group_by")) {
    SCN_ASSIGN_OR_RETURN(dims, parse_group_by(*g));
  }
  // Filters on the finer dimensions: another tenant's key or an unknown
  // model/center simply match nothing.
  std::string key_filter, model_filter, center_filter;
  if (auto k = call.request.query_param("api_key_id")) {
    if (!is_uuid(*k)) return Status::invalid_argument("param 'api_key_id' must be a UUID");
    key_filter = std::string(*k);
  }
  if (auto c = call.request.query_param("center_id")) {
    if (!is_uuid(*c)) return Status::invalid_argument("param 'center_id' must be a UUID");
    center_filter = std::string(*c);
  }
  if (auto m = call.request.query_param("model")) model_filter = std::string(*m);
  bool csv = false;
  if (auto f = call.request.query_param("format")) {
    if (*f == "csv") csv = true;
    else if (*f != "json") return Status::invalid_argument("param 'format' must be 'json' or 'csv'");
  }
  // Each grouped dimension's expression, else a constant (one group).
  const std::string select =
      std::string(dims.day ? "to_char(u.period_start AT TIME ZONE 'UTC', 'YYYY-MM-DD')" : "''::text") +
      ", u.tenant_id, u.service_id, s.name, " +
      (dims.key ? "u.api_key_id::text, k.name, " : "NULL::text, NULL::text, ") +
      (dims.model ? "u.model, " : "NULL::text, ") +
      (dims.center ? "u.center_id::text, c.name, " : "NULL::text, NULL::text, ");
  auto data = ctx.pg.with_tx(
      [&](pqxx::work& tx) -> Result<json::array> {
        if (!service.empty() &&
            tx.exec_params("SELECT 1 FROM services WHERE id = $1::uuid AND "
                           "($2 = '' OR tenant_id::text = $2)",
                           service, tenant)
                .empty()) {
          return Status::not_found("param 'service_id': service not found");
        }
        json::array out;
        auto text_or_null = [](const pqxx::field& f) {
          return f.is_null() ? json::value(nullptr) : json::value(f.as<std::string>());
        };
        for (const auto& r : tx.exec_params(
                 "SELECT " + select +
                     "sum(u.requests)::bigint, sum(u.prompt_tokens)::bigint, "
                     "sum(u.cached_prompt_tokens)::bigint, sum(u.completion_tokens)::bigint"
                     " FROM usage_records u JOIN services s ON s.id = u.service_id"
                     " LEFT JOIN api_keys k ON k.id = u.api_key_id"
                     " LEFT JOIN centers c ON c.id = u.center_id"
                     " WHERE ($1 = '' OR u.tenant_id::text = $1)"
                     " AND ($2 = '' OR u.service_id::text = $2)"
                     " AND ($3::timestamptz IS NULL OR u.period_start >= $3::timestamptz)"
                     " AND ($4::timestamptz IS NULL OR u.period_start < $4::timestamptz)"
                     " AND ($5 = '' OR u.api_key_id::text = $5)"
                     " AND ($6 = '' OR u.model = $6)"
                     " AND ($7 = '' OR u.center_id::text = $7)"
                     " GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9"
                     " ORDER BY 1, 4, 3, 6 NULLS FIRST, 5 NULLS FIRST, 7 NULLS FIRST, 9 NULLS FIRST, 8 NULLS FIRST",
                 tenant, service, opt_c(from), opt_c(to), key_filter, model_filter, center_filter)) {
          json::object row;
          if (dims.day) row["day"] = r[0].as<std::string>();
          row["tenant_id"] = r[1].as<std::string>();
          row["service_id"] = r[2].as<std::string>();
          row["service_name"] = r[3].as<std::string>();
          if (dims.key) {
            row["api_key_id"] = text_or_null(r[4]);
            row["api_key_name"] = text_or_null(r[5]);
          }
          if (dims.model) row["model"] = text_or_null(r[6]);
          if (dims.center) {
            row["center_id"] = text_or_null(r[7]);
            row["center_name"] = text_or_null(r[8]);
          }
          row["requests"] = r[9].as<std::int64_t>();
          row["prompt_tokens"] = r[10].as<std::int64_t>();
          row["cached_prompt_tokens"] = r[11].as<std::int64_t>();
          row["completion_tokens"] = r[12].as<std::int64_t>();
          out.push_back(std::move(row));
        }
        return out;
      },
      {.read_only = true});
  if (!data.is_ok()) return data.status();
  if (csv) {
    call.response.set_header("Content-Disposition", "attachment; filename=\"usage.csv\"");
    call.response.set_content(200, usage_csv(*data, dims), "text/csv; charset=utf-8");
    return Status::ok();
  }
  reply_json(call, 200, json::object{{"data", std::move(*data)}});
  return Status::ok();
}

}  // namespace

void add_pool_routes(ApiRouter& router, BrokerContext& ctx) {
  router.add("GET", "/api/v1/pool", Access::kAuthenticated,
             [&ctx](ApiCall& call) { return pool(ctx, call); });
  router.add("GET", "/api/v1/usage", Access::kAuthenticated,
             [&ctx](ApiCall& call) { return usage(ctx, call); });
}

}  // namespace scn::broker
