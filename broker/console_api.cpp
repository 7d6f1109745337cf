#include "broker/console_api.h"

#include <boost/json.hpp>

#include <charconv>

#include "broker/resource_util.h"
#include "common/db/pg.h"

namespace scn::broker {
namespace {

namespace json = boost::json;

Status pool_history(BrokerContext& ctx, ApiCall& call) {
  if (!call.who().is_admin()) return Status::permission_denied("only admins see the pool's history");
  int minutes = 60;
  if (auto m = call.request.query_param("minutes")) {
    auto [end, ec] = std::from_chars(m->data(), m->data() + m->size(), minutes);
    if (ec != std::errc() || end != m->data() + m->size() || minutes < 1 || minutes > 1440)
      return Status::invalid_argument("param 'minutes' must be an integer 1..1440");
  }
  auto body = ctx.pg.with_tx(
      [&](pqxx::work& tx) -> Result<json::object> {
        json::array series;
        for (const auto& r : tx.exec_params(
                 "WITH m AS (SELECT generate_series(date_trunc('minute', now()) - "
                 "  ($1::int - 1) * interval '1 minute', date_trunc('minute', now()), "
                 "  interval '1 minute') AS minute), "
                 "u AS (SELECT date_trunc('minute', period_start) AS minute, sum(requests) AS rq, "
                 "  sum(prompt_tokens) AS pt, sum(completion_tokens) AS ct FROM usage_records "
                 "  WHERE period_start >= date_trunc('minute', now()) - ($1::int - 1) * "
                 "  interval '1 minute' GROUP BY 1) "
                 "SELECT " + sql_time("m.minute") + ", coalesce(u.rq, 0)::bigint, "
                 "coalesce(u.pt, 0)::bigint, coalesce(u.ct, 0)::bigint "
                 "FROM m LEFT JOIN u ON u.minute = m.minute ORDER BY m.minute",
                 minutes)) {
          series.push_back(json::object{{"minute", r[0].as<std::string>()},
                                        {"requests", r[1].as<std::int64_t>()},
                                        {"prompt_tokens", r[2].as<std::int64_t>()},
                                        {"completion_tokens", r[3].as<std::int64_t>()}});
        }
        json::array lost;
        for (const auto& r : tx.exec_params(
                 "SELECT n.id, n.name, n.center_id, c.name, " + sql_time("n.updated_at") +
                     ", n.status_reason FROM nodes n JOIN centers c ON c.id = n.center_id "
                     "WHERE n.status = 'lost' AND n.updated_at >= now() - $1::int * "
                     "interval '1 minute' ORDER BY n.updated_at DESC, n.name",
                 minutes)) {
          json::object o{{"id", r[0].as<std::string>()},
                         {"name", r[1].as<std::string>()},
                         {"center_id", r[2].as<std::string>()},
                         {"center_name", r[3].as<std::string>()},
                         {"at", r[4].as<std::string>()}};
          if (auto reason = opt_text(r[5])) o["reason"] = *reason;
          else o["reason"] = nullptr;
          lost.push_back(std::move(o));
        }
        return json::object{{"minutes", minutes},
                            {"series", std::move(series)},
                            {"nodes_lost", std::move(lost)}};
      },
      {.read_only = true});
  if (!body.is_ok()) return body.status();
  reply_json(call, 200, *body);
  return Status::ok();
}

}  // namespace

void add_console_routes(ApiRouter& router, BrokerContext& ctx, ConsoleConfig config) {
  router.add("GET", "/api/v1/config", Access::kPublic, [config](ApiCall& call) {
    reply_json(call, 200,
               json::object{{"scheduler_url", config.scheduler_url}, {"version", kScnVersion}});
    return Status::ok();
  });
  router.add("GET", "/api/v1/pool/history", Access::kAuthenticated,
             [&ctx](ApiCall& call) { return pool_history(ctx, call); });
}

}  // namespace scn::broker
