#include "broker/catalog_api.h"

#include <boost/json.hpp>

#include "broker/resource_util.h"
#include "catalog/catalog_file.h"
#include "catalog/catalog_store.h"
#include "common/db/pg.h"
#include "common/log.h"

#include <map>
#include <string>

namespace scn::broker {
namespace {

namespace json = boost::json;

json::object summary_json(const catalog::ImportSummary& s) {
  return json::object{{"models_inserted", s.models_inserted},
                      {"models_updated", s.models_updated},
                      {"models_unchanged", s.models_unchanged},
                      {"files_inserted", s.files_inserted},
                      {"files_updated", s.files_updated},
                      {"files_unchanged", s.files_unchanged},
                      {"summary", s.to_string()}};
}

// model_file_id -> [{"center_id","center_name","nodes"}]: the centers whose
// non-removed nodes report the file present, by center name.
Result<std::map<std::string, json::array>> presence_by_file(db::PgPool& pg) {
  return pg.with_tx([](pqxx::work& tx) -> Result<std::map<std::string, json::array>> {
    pqxx::result r = tx.exec(
        "SELECT f.model_file_id::text, c.id::text, c.name, count(*) "
        "FROM node_model_files f JOIN nodes n ON n.id = f.node_id "
        "JOIN centers c ON c.id = n.center_id "
        "WHERE f.state = 'present' AND n.status <> 'removed' "
        "GROUP BY f.model_file_id, c.id, c.name ORDER BY f.model_file_id, c.name");
    std::map<std::string, json::array> out;
    for (const auto& row : r)
      out[row[0].as<std::string>()].push_back(json::object{{"center_id", row[1].as<std::string>()},
                                                           {"center_name", row[2].as<std::string>()},
                                                           {"nodes", row[3].as<std::int64_t>()}});
    return out;
  }, db::TxOptions{db::Isolation::kReadCommitted, true});
}

json::object card_with_presence(const catalog::ModelCard& card,
                                const std::map<std::string, json::array>& presence) {
  json::object o = catalog::card_view_json(card);
  for (auto& fv : o["files"].as_array()) {
    json::object& fo = fv.as_object();
    auto it = presence.find(std::string(fo["id"].as_string()));
    fo["present_in"] = it == presence.end() ? json::array{} : it->second;
  }
  return o;
}

}  // namespace

void add_catalog_routes(ApiRouter& router, BrokerContext& ctx) {
  router.add("GET", "/api/v1/catalog/models", Access::kAuthenticated,
             [&ctx](ApiCall& call) -> Status {
               catalog::CatalogStore store(ctx.pg);
               SCN_ASSIGN_OR_RETURN(auto cards, store.list_models());
               SCN_ASSIGN_OR_RETURN(auto presence, presence_by_file(ctx.pg));
               json::array data;
               for (const auto& c : cards) data.push_back(card_with_presence(c, presence));
               reply_json(call, 200, json::object{{"data", std::move(data)}});
               return Status::ok();
             });

  router.add("GET", "/api/v1/catalog/models/{name}", Access::kAuthenticated,
             [&ctx](ApiCall& call) -> Status {
               catalog::CatalogStore store(ctx.pg);
               SCN_ASSIGN_OR_RETURN(auto card, store.get_model(call.param("name")));
               SCN_ASSIGN_OR_RETURN(auto presence, presence_by_file(ctx.pg));
               reply_json(call, 200, card_with_presence(card, presence));
               return Status::ok();
             });

  router.add("POST", "/api/v1/catalog/import", Access::kAuthenticated,
             [&ctx](ApiCall& call) -> Status {
               if (!call.who().is_admin())
                 return Status::permission_denied("only admins import catalogs");
               // Parsed as JSON first, for the API's own message on malformed bodies.
               SCN_RETURN_IF_ERROR(json_body(call));
               SCN_ASSIGN_OR_RETURN(catalog::Catalog cat,
                                    catalog::parse_catalog(call.request.body));
               catalog::CatalogStore store(ctx.pg);
               SCN_ASSIGN_OR_RETURN(catalog::ImportSummary summary, store.import_catalog(cat));
               const Actor actor = Actor::of(call.who(), call.client_ip());
               Status audited = ctx.pg.with_tx([&](pqxx::work& tx) {
                 AuditEntry e;
                 e.action = "catalog.import";
                 e.target_kind = "catalog";
                 e.details["models"] = summary.models();
                 e.details["files"] = summary.files();
                 e.details["summary"] = summary.to_string();
                 write_audit(tx, actor, e);
                 return Status::ok();
               });
               if (!audited.is_ok())
                 common::log_warn("broker: catalog imported but not audited: ",
                                  audited.to_string());
               reply_json(call, 200, summary_json(summary));
               return Status::ok();
             });
}

}  // namespace scn::broker
