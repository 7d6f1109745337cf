// GET and PUT /api/v1/prices, DELETE /api/v1/prices/{id} (billing_api.h).
#include <boost/json.hpp>

#include <array>

#include "broker/billing/billing_api.h"
#include "broker/billing/money.h"
#include "broker/resource_util.h"
#include "common/db/pg.h"

namespace scn::broker {
namespace {

namespace json = boost::json;

constexpr std::array<const char*, 4> kPriceFields = {"prompt_per_million", "cached_prompt_per_million",
                                                      "completion_per_million", "replica_hour"};

std::string price_columns() {
  return "p.id, p.model, p.center_id::text, c.name, trim_scale(p.prompt_per_million)::text,"
         " trim_scale(p.cached_prompt_per_million)::text, trim_scale(p.completion_per_million)::text,"
         " trim_scale(p.replica_hour)::text, p.currency, " + sql_time("p.updated_at");
}

json::object price_json(const pqxx::row& r) {
  json::object o;
  o["id"] = r[0].as<std::int64_t>();
  o["model"] = r[1].as<std::string>();
  o["center_id"] = r[2].is_null() ? json::value(nullptr) : json::value(r[2].as<std::string>());
  o["center_name"] = r[3].is_null() ? json::value(nullptr) : json::value(r[3].as<std::string>());
  for (std::size_t i = 0; i < kPriceFields.size(); ++i) o[kPriceFields[i]] = r[static_cast<int>(4 + i)].as<std::string>();
  o["currency"] = r[8].as<std::string>();
  o["updated_at"] = r[9].as<std::string>();
  return o;
}

bool valid_model_name(std::string_view m) {
  if (m == "*") return true;
  if (m.empty() || m.size() > 128) return false;
  for (std::size_t i = 0; i < m.size(); ++i) {
    const char c = m[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-'))) return false;
  }
  return true;
}

Status list_prices(BrokerContext& ctx, ApiCall& call) {
  auto data = ctx.pg.with_tx(
      [&](pqxx::work& tx) -> Result<json::array> {
        json::array out;
        for (const auto& r : tx.exec("SELECT " + price_columns() +
                                     " FROM prices p LEFT JOIN centers c ON c.id = p.center_id"
                                     " ORDER BY p.model, c.name NULLS FIRST")) {
          out.push_back(price_json(r));
        }
        return out;
      },
      {.read_only = true});
  if (!data.is_ok()) return data.status();
  reply_json(call, 200, json::object{{"data", std::move(*data)}, {"currency", "CNY"}});
  return Status::ok();
}

Status put_price(BrokerContext& ctx, ApiCall& call) {
  if (!call.who().is_admin()) return Status::permission_denied("only admins set prices");
  SCN_ASSIGN_OR_RETURN(common::JsonObject body, json_body(call));
  for (const auto& kv : body) {
    const std::string_view k = kv.key();
    bool known = k == "model" || k == "center_id";
    for (const char* f : kPriceFields) known = known || k == f;
    if (!known) return Status::invalid_argument("field '" + std::string(k) + "' is unknown");
  }
  SCN_ASSIGN_OR_RETURN(std::string model, common::require_string(body, "model"));
  if (!valid_model_name(model)) {
    return Status::invalid_argument("field 'model' must be \"*\" or a model name");
  }
  std::string center;
  if (const auto* c = body.if_contains("center_id"); c != nullptr && !c->is_null()) {
    if (!c->is_string()) return Status::invalid_argument("field 'center_id' must be a uuid or null");
    center = std::string(c->get_string());
    if (!is_uuid(center)) return Status::not_found("center not found");
  }
  std::array<std::string, kPriceFields.size()> prices;
  for (std::size_t i = 0; i < kPriceFields.size(); ++i) {
    const auto* v = body.if_contains(kPriceFields[i]);
    if (v == nullptr) {
      prices[i] = "0";
      continue;
    }
    auto d = decimal_price(*v);
    if (!d.is_ok()) {
      return Status::invalid_argument("field '" + std::string(kPriceFields[i]) + "': " + d.status().message());
    }
    prices[i] = *d;
  }
  const Actor actor = Actor::of(call.who(), call.client_ip());
  auto row = ctx.pg.with_tx([&](pqxx::work& tx) -> Result<json::object> {
    if (!center.empty() && tx.exec_params("SELECT 1 FROM centers WHERE id = $1::uuid", center).empty()) {
      return Status::not_found("center not found");
    }
    pqxx::result r = tx.exec_params(
        "INSERT INTO prices (model, center_id, prompt_per_million, cached_prompt_per_million,"
        "                    completion_per_million, replica_hour)"
        " VALUES ($1, NULLIF($2, '')::uuid, $3::numeric, $4::numeric, $5::numeric, $6::numeric)"
        " ON CONFLICT (model, COALESCE(center_id, '00000000-0000-0000-0000-000000000000'::uuid)) DO UPDATE"
        " SET prompt_per_million = EXCLUDED.prompt_per_million,"
        "     cached_prompt_per_million = EXCLUDED.cached_prompt_per_million,"
        "     completion_per_million = EXCLUDED.completion_per_million,"
        "     replica_hour = EXCLUDED.replica_hour, updated_at = now()"
        " RETURNING id",
        model, center, prices[0], prices[1], prices[2], prices[3]);
    const std::int64_t id = r[0][0].as<std::int64_t>();
    json::object details{{"model", model}, {"center_id", center.empty() ? json::value(nullptr) : json::value(center)}};
    for (std::size_t i = 0; i < kPriceFields.size(); ++i) details[kPriceFields[i]] = prices[i];
    write_audit(tx, actor, AuditEntry{"price.set", "price", std::to_string(id), "", center, details});
    pqxx::result out = tx.exec_params("SELECT " + price_columns() +
                                          " FROM prices p LEFT JOIN centers c ON c.id = p.center_id WHERE p.id = $1",
                                      id);
    return price_json(out[0]);
  });
  if (!row.is_ok()) return row.status();
  reply_json(call, 200, *row);
  return Status::ok();
}

// DELETE /api/v1/prices/{id}: the row goes; requests are priced by what is
// left (a more general row, or 0). Unknown or malformed ids: 404.
Status delete_price(BrokerContext& ctx, ApiCall& call) {
  if (!call.who().is_admin()) return Status::permission_denied("only admins delete prices");
  const std::string id(call.param("id"));
  const bool digits = !id.empty() && id.size() <= 18 && id.find_first_not_of("0123456789") == std::string::npos;
  if (!digits) return Status::not_found("price not found");
  const Actor actor = Actor::of(call.who(), call.client_ip());
  SCN_RETURN_IF_ERROR(ctx.pg.with_tx([&](pqxx::work& tx) -> Status {
    pqxx::result r = tx.exec_params(
        "DELETE FROM prices WHERE id = $1::bigint RETURNING model, center_id::text", id);
    if (r.empty()) return Status::not_found("price not found");
    const std::string center = r[0][1].is_null() ? "" : r[0][1].as<std::string>();
    json::object details{{"model", r[0][0].as<std::string>()},
                         {"center_id", center.empty() ? json::value(nullptr) : json::value(center)}};
    write_audit(tx, actor, AuditEntry{"price.delete", "price", id, "", center, details});
    return Status::ok();
  }));
  reply_empty(call);
  return Status::ok();
}

}  // namespace

void add_price_routes(ApiRouter& router, BrokerContext& ctx) {
  router.add("GET", "/api/v1/prices", Access::kAuthenticated,
             [&ctx](ApiCall& call) { return list_prices(ctx, call); });
  router.add("PUT", "/api/v1/prices", Access::kAuthenticated,
             [&ctx](ApiCall& call) { return put_price(ctx, call); });
  router.add("DELETE", "/api/v1/prices/{id}", Access::kAuthenticated,
             [&ctx](ApiCall& call) { return delete_price(ctx, call); });
}

}  // namespace scn::broker
