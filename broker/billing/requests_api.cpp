// GET /api/v1/requests and /api/v1/requests/{request_id} (billing_api.h).
#include <boost/json.hpp>

#include <charconv>

#include "broker/billing/billing_api.h"
#include "broker/billing/tenant_scope.h"
#include "broker/gateway/request_log.h"
#include "broker/resource_util.h"
#include "common/db/pg.h"

namespace scn::broker {
namespace {

namespace json = boost::json;

const std::string& columns() {
  static const std::string c =
      "id, request_id, tenant_id::text, api_key_id::text, service_id::text, service_name, model, path, stream,"
      " replica_id, node_id, center_id, replica_url, attempts, status, error, prompt_tokens,"
      " cached_prompt_tokens, completion_tokens, latency_ms, ttfb_ms, " + sql_time("started_at");
  return c;
}

json::value text_or_null(const pqxx::field& f) {
  return f.is_null() ? json::value(nullptr) : json::value(f.as<std::string>());
}

json::object row_json(const pqxx::row& r) {
  json::object o;
  o["id"] = r[0].as<std::int64_t>();
  o["request_id"] = r[1].as<std::string>();
  o["tenant_id"] = r[2].as<std::string>();
  o["api_key_id"] = text_or_null(r[3]);
  o["service_id"] = text_or_null(r[4]);
  o["service_name"] = r[5].as<std::string>();
  o["model"] = r[6].as<std::string>();
  o["path"] = r[7].as<std::string>();
  o["stream"] = r[8].as<bool>();
  o["route"] = json::object{{"replica_id", text_or_null(r[9])},
                            {"node_id", text_or_null(r[10])},
                            {"center_id", text_or_null(r[11])},
                            {"url", text_or_null(r[12])}};
  o["attempts"] = r[13].as<int>();
  o["status"] = r[14].as<int>();
  o["error"] = text_or_null(r[15]);
  o["usage"] = json::object{{"prompt_tokens", r[16].as<std::int64_t>()},
                            {"cached_prompt_tokens", r[17].as<std::int64_t>()},
                            {"completion_tokens", r[18].as<std::int64_t>()}};
  o["latency_ms"] = r[19].as<double>();
  o["ttfb_ms"] = r[20].is_null() ? json::value(nullptr) : json::value(r[20].as<double>());
  o["started_at"] = r[21].as<std::string>();
  return o;
}

Result<std::int64_t> int_param(const ApiCall& call, std::string_view name, std::int64_t fallback,
                               std::int64_t lo, std::int64_t hi) {
  auto v = call.request.query_param(name);
  if (!v) return fallback;
  std::int64_t n = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || end != v->data() + v->size() || n < lo || n > hi) {
    return Status::invalid_argument("param '" + std::string(name) + "' must be an integer " + std::to_string(lo) +
                                    ".." + std::to_string(hi));
  }
  return n;
}

Status list_requests(BrokerContext& ctx, ApiCall& call) {
  SCN_ASSIGN_OR_RETURN(std::string tenant, scope_tenant(call, "requests"));
  std::string service;
  if (auto s = call.request.query_param("service_id")) {
    if (!is_uuid(*s)) return Status::not_found("param 'service_id': service not found");
    service = std::string(*s);
  }
  SCN_ASSIGN_OR_RETURN(std::int64_t limit, int_param(call, "limit", 100, 1, 1000));
  SCN_ASSIGN_OR_RETURN(std::int64_t before, int_param(call, "before_id", 0, 1, INT64_MAX));
  auto data = ctx.pg.with_tx(
      [&](pqxx::work& tx) -> Result<json::array> {
        if (!service.empty() &&
            tx.exec_params("SELECT 1 FROM services WHERE id = $1::uuid AND ($2 = '' OR tenant_id::text = $2)",
                           service, tenant)
                .empty()) {
          return Status::not_found("param 'service_id': service not found");
        }
        json::array out;
        for (const auto& r : tx.exec_params(
                 "SELECT " + columns() + " FROM request_log"
                 " WHERE ($1 = '' OR tenant_id = NULLIF($1, '')::uuid)"
                 "   AND ($2 = '' OR service_id = NULLIF($2, '')::uuid)"
                 "   AND ($3 = 0 OR id < $3) ORDER BY id DESC LIMIT $4",
                 tenant, service, before, limit)) {
          out.push_back(row_json(r));
        }
        return out;
      },
      {.read_only = true});
  if (!data.is_ok()) return data.status();
  reply_json(call, 200, json::object{{"data", std::move(*data)}});
  return Status::ok();
}

Status get_request(BrokerContext& ctx, ApiCall& call) {
  const Principal& p = call.who();
  std::string tenant;
  if (!p.is_admin()) {
    if (p.role != Role::kMember || p.tenant_id.empty()) {
      return Status::permission_denied("requests are for tenants' members and admins");
    }
    tenant = p.tenant_id;
  }
  const std::string id(call.param("request_id"));
  if (!sane_request_id(id)) return Status::not_found("request not found");
  auto row = ctx.pg.with_tx(
      [&](pqxx::work& tx) -> Result<json::object> {
        pqxx::result r = tx.exec_params("SELECT " + columns() + " FROM request_log"
                                        " WHERE request_id = $1 AND ($2 = '' OR tenant_id = NULLIF($2, '')::uuid)"
                                        " ORDER BY id DESC LIMIT 1",
                                        id, tenant);
        if (r.empty()) return Status::not_found("request not found");
        return row_json(r[0]);
      },
      {.read_only = true});
  if (!row.is_ok()) return row.status();
  reply_json(call, 200, *row);
  return Status::ok();
}

}  // namespace

void add_request_log_routes(ApiRouter& router, BrokerContext& ctx) {
  router.add("GET", "/api/v1/requests", Access::kAuthenticated,
             [&ctx](ApiCall& call) { return list_requests(ctx, call); });
  router.add("GET", "/api/v1/requests/{request_id}", Access::kAuthenticated,
             [&ctx](ApiCall& call) { return get_request(ctx, call); });
}

}  // namespace scn::broker
