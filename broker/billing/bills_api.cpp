// GET /api/v1/bills (billing_api.h): a month's lines and total, exact.
#include <boost/json.hpp>

#include <ctime>

#include "broker/billing/billing_api.h"
#include "broker/billing/money.h"
#include "broker/billing/tenant_scope.h"
#include "broker/resource_util.h"
#include "common/db/pg.h"

namespace scn::broker {
namespace {

namespace json = boost::json;

// One line per (tenant, service, model, center): the tokens of the month's
// usage_records and the replica-hours of the service's replicas on the
// center's nodes, each priced with the most specific prices row. $1: the
// month's first day, $2: the tenant ("" = all). Money stays numeric.
constexpr const char* kBillSql = R"SQL(
WITH b AS (SELECT $1::date::timestamp AT TIME ZONE 'UTC' AS t0,
                  ($1::date + interval '1 month')::timestamp AT TIME ZONE 'UTC' AS t1),
tok AS (
  SELECT u.tenant_id, u.service_id, COALESCE(u.model, m.name, '') AS model, u.center_id,
         sum(u.requests) AS req, sum(u.prompt_tokens) AS pt, sum(u.cached_prompt_tokens) AS cpt,
         sum(u.completion_tokens) AS ct
    FROM usage_records u CROSS JOIN b
    JOIN services s ON s.id = u.service_id LEFT JOIN models m ON m.id = s.model_id
   WHERE u.period_start >= b.t0 AND u.period_start < b.t1 AND ($2 = '' OR u.tenant_id::text = $2)
   GROUP BY 1, 2, 3, 4),
lives AS (
  SELECT s.tenant_id, s.id AS service_id, m.name AS model, n.center_id,
         GREATEST(r.ready_at, b.t0) AS since,
         LEAST(COALESCE(r.stopped_at, CASE WHEN r.state IN ('ready', 'stopping') THEN now() ELSE r.updated_at END),
               b.t1) AS until
    FROM replicas r CROSS JOIN b
    JOIN services s ON s.id = r.service_id JOIN models m ON m.id = s.model_id JOIN nodes n ON n.id = r.node_id
   WHERE r.ready_at IS NOT NULL AND ($2 = '' OR s.tenant_id::text = $2)),
rep AS (
  SELECT tenant_id, service_id, model, center_id, sum(extract(epoch FROM until - since)) / 3600 AS hours
    FROM lives WHERE until > since GROUP BY 1, 2, 3, 4),
l AS (
  SELECT COALESCE(tok.tenant_id, rep.tenant_id) AS tenant_id, COALESCE(tok.service_id, rep.service_id) AS service_id,
         COALESCE(tok.model, rep.model) AS model, COALESCE(tok.center_id, rep.center_id) AS center_id,
         COALESCE(tok.req, 0) AS req, COALESCE(tok.pt, 0) AS pt, COALESCE(tok.cpt, 0) AS cpt,
         COALESCE(tok.ct, 0) AS ct, COALESCE(rep.hours, 0) AS hours
    FROM tok FULL JOIN rep
      ON tok.tenant_id = rep.tenant_id AND tok.service_id = rep.service_id AND tok.model = rep.model
     AND COALESCE(tok.center_id, '00000000-0000-0000-0000-000000000000'::uuid) =
         COALESCE(rep.center_id, '00000000-0000-0000-0000-000000000000'::uuid)),
priced AS (
  SELECT l.*, COALESCE(p.prompt_per_million, 0) AS pp, COALESCE(p.cached_prompt_per_million, 0) AS cp,
         COALESCE(p.completion_per_million, 0) AS op, COALESCE(p.replica_hour, 0) AS hp
    FROM l LEFT JOIN LATERAL (
      SELECT * FROM prices p
       WHERE (p.model = l.model OR p.model = '*') AND (p.center_id = l.center_id OR p.center_id IS NULL)
       ORDER BY p.model = '*', p.center_id IS NULL LIMIT 1) p ON true)
SELECT x.tenant_id::text, t.name, x.service_id::text, s.name, x.model, x.center_id::text, c.name,
       x.req, x.pt, x.cpt, x.ct, round(x.hours, 4)::text,
       trim_scale(x.pp)::text, trim_scale(x.cp)::text, trim_scale(x.op)::text, trim_scale(x.hp)::text,
       round((GREATEST(x.pt - x.cpt, 0) * x.pp + x.cpt * x.cp + x.ct * x.op) / 1000000 + x.hours * x.hp, 2)::text,
       sum(round((GREATEST(x.pt - x.cpt, 0) * x.pp + x.cpt * x.cp + x.ct * x.op) / 1000000 + x.hours * x.hp, 2))
         OVER ()::text
  FROM priced x JOIN tenants t ON t.id = x.tenant_id JOIN services s ON s.id = x.service_id
  LEFT JOIN centers c ON c.id = x.center_id
 ORDER BY t.name, s.name, x.model, c.name NULLS FIRST
)SQL";

constexpr const char* kPriceNames[] = {"prompt_per_million", "cached_prompt_per_million", "completion_per_million",
                                       "replica_hour"};

json::value text_or_null(const pqxx::field& f) {
  return f.is_null() ? json::value(nullptr) : json::value(f.as<std::string>());
}

// RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled.
std::string csv_field(std::string_view v) {
  if (v.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(v);
  std::string out = "\"";
  for (char c : v) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string text_of(const json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  if (v.is_null()) return "";
  return json::serialize(v);
}

std::string bill_csv(const json::array& lines, const std::string& total) {
  static const char* const kColumns[] = {"tenant_id", "tenant_name", "service_id", "service_name", "model",
                                         "center_id", "center_name", "requests", "prompt_tokens",
                                         "cached_prompt_tokens", "completion_tokens", "replica_hours"};
  std::string out;
  for (const char* c : kColumns) out += std::string(c) + ",";
  for (const char* p : kPriceNames) out += std::string("price_") + p + ",";
  out += "amount\r\n";
  for (const auto& v : lines) {
    const auto& line = v.as_object();
    for (const char* c : kColumns) out += csv_field(text_of(line.at(c))) + ",";
    for (const char* p : kPriceNames) out += csv_field(text_of(line.at("prices").at(p))) + ",";
    out += csv_field(text_of(line.at("amount"))) + "\r\n";
  }
  out += "total";
  for (std::size_t i = 0; i < std::size(kColumns) + std::size(kPriceNames) - 1; ++i) out += ",";
  return out + "," + total + "\r\n";
}

std::string current_month() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m", &tm);
  return buf;
}

Status bill(BrokerContext& ctx, ApiCall& call) {
  SCN_ASSIGN_OR_RETURN(std::string tenant, scope_tenant(call, "bills"));
  const std::string month(call.request.query_param("month").value_or(current_month()));
  auto start = month_start(month);
  if (!start) return Status::invalid_argument("param 'month' must be a month YYYY-MM (2026-11)");
  bool csv = false;
  if (auto f = call.request.query_param("format")) {
    if (*f == "csv") csv = true;
    else if (*f != "json") return Status::invalid_argument("param 'format' must be 'json' or 'csv'");
  }
  struct Bill {
    json::array lines;
    std::string total = "0.00";
  };
  auto data = ctx.pg.with_tx(
      [&](pqxx::work& tx) -> Result<Bill> {
        if (!tenant.empty() && tx.exec_params("SELECT 1 FROM tenants WHERE id = $1::uuid", tenant).empty()) {
          return Status::not_found("param 'tenant_id': no such tenant");
        }
        Bill out;
        for (const auto& r : tx.exec_params(kBillSql, *start, tenant)) {
          json::object line;
          line["tenant_id"] = r[0].as<std::string>();
          line["tenant_name"] = r[1].as<std::string>();
          line["service_id"] = r[2].as<std::string>();
          line["service_name"] = r[3].as<std::string>();
          line["model"] = r[4].as<std::string>();
          line["center_id"] = text_or_null(r[5]);
          line["center_name"] = text_or_null(r[6]);
          line["requests"] = r[7].as<std::int64_t>();
          line["prompt_tokens"] = r[8].as<std::int64_t>();
          line["cached_prompt_tokens"] = r[9].as<std::int64_t>();
          line["completion_tokens"] = r[10].as<std::int64_t>();
          line["replica_hours"] = r[11].as<std::string>();
          json::object prices;
          for (std::size_t i = 0; i < std::size(kPriceNames); ++i) prices[kPriceNames[i]] = r[static_cast<int>(12 + i)].as<std::string>();
          line["prices"] = std::move(prices);
          line["amount"] = r[16].as<std::string>();
          out.total = r[17].as<std::string>();
          out.lines.push_back(std::move(line));
        }
        return out;
      },
      {.read_only = true});
  if (!data.is_ok()) return data.status();
  if (csv) {
    call.response.set_header("Content-Disposition", "attachment; filename=\"bill-" + month + ".csv\"");
    call.response.set_content(200, bill_csv(data->lines, data->total), "text/csv; charset=utf-8");
    return Status::ok();
  }
  reply_json(call, 200,
             json::object{{"month", month},
                          {"currency", "CNY"},
                          {"tenant_id", tenant.empty() ? json::value(nullptr) : json::value(tenant)},
                          {"lines", std::move(data->lines)},
                          {"total", data->total}});
  return Status::ok();
}

}  // namespace

void add_bill_routes(ApiRouter& router, BrokerContext& ctx) {
  router.add("GET", "/api/v1/bills", Access::kAuthenticated, [&ctx](ApiCall& call) { return bill(ctx, call); });
}

}  // namespace scn::broker
