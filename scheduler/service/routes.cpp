#include "scheduler/service/routes.h"

#include <boost/json.hpp>

#include <map>

#include "common/db/pg.h"
#include "common/json.h"
#include "common/redis/redis.h"
#include "scheduler/service/service_context.h"

namespace scn::scheduler {
namespace {

namespace json = boost::json;

// KEYS[1] the route key; ARGV[1] the document ("" = delete), ARGV[2] the
// channel, ARGV[3] the service id. Returns 1 when something changed.
const redis::LuaScript& route_script() {
  static const redis::LuaScript script(R"lua(
local old = redis.call('GET', KEYS[1])
if ARGV[1] == '' then
  if old then
    redis.call('DEL', KEYS[1])
    redis.call('PUBLISH', ARGV[2], ARGV[3])
    return 1
  end
  return 0
end
if old == ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
)lua");
  return script;
}

struct RouteDoc {
  std::string tenant_id;
  std::string name;
  bool deleted = false;
  json::array endpoints;
};

std::string pg_array(const std::vector<std::string>& ids) {
  std::string out = "{";
  for (const auto& id : ids) {
    if (!is_uuid(id)) continue;
    if (out.size() > 1) out += ',';
    out += id;
  }
  return out + "}";
}

}  // namespace

Result<int> RouteWriter::refresh(const std::vector<std::string>& service_ids) {
  if (service_ids.empty()) return 0;
  return refresh_where(&service_ids);
}

Result<int> RouteWriter::refresh_all() { return refresh_where(nullptr); }

Result<int> RouteWriter::refresh_where(const std::vector<std::string>* ids) {
  const std::string filter =
      ids ? "s.id = ANY($1::uuid[])"
          : "(s.deleted_at IS NULL OR s.deleted_at > now() - interval '1 hour') AND $1::text IS NULL";
  auto docs = pool_.with_tx(
      [&](pqxx::work& tx) -> Result<std::map<std::string, RouteDoc>> {
        std::map<std::string, RouteDoc> out;
        const char* arg = nullptr;
        std::string array;
        if (ids) {
          array = pg_array(*ids);
          arg = array.c_str();
        }
        for (const auto& row : tx.exec_params(
                 "SELECT s.id, s.tenant_id, s.name, s.deleted_at IS NOT NULL FROM services s WHERE " +
                     filter,
                 arg)) {
          RouteDoc& d = out[row[0].as<std::string>()];
          d.tenant_id = row[1].as<std::string>();
          d.name = row[2].as<std::string>();
          d.deleted = row[3].as<bool>();
        }
        for (const auto& row : tx.exec_params(
                 "SELECT s.id, r.id, n.id, n.center_id, n.address, r.port FROM services s "
                 "JOIN replicas r ON r.service_id = s.id JOIN nodes n ON n.id = r.node_id "
                 "WHERE r.state = 'ready' AND r.port IS NOT NULL "
                 "AND n.status IN ('ready', 'draining') AND " +
                     filter + " ORDER BY s.id, r.id",
                 arg)) {
          auto it = out.find(row[0].as<std::string>());
          if (it == out.end() || it->second.deleted) continue;
          std::string address = row[4].as<std::string>();
          if (address.find(':') != std::string::npos && address.front() != '[')
            address = "[" + address + "]";  // IPv6 literal
          it->second.endpoints.push_back(json::object{
              {"replica_id", row[1].as<std::string>()},
              {"node_id", row[2].as<std::string>()},
              {"center_id", row[3].as<std::string>()},
              {"url", "http://" + address + ":" + std::to_string(row[5].as<int>())}});
        }
        return out;
      },
      db::TxOptions{db::Isolation::kRepeatableRead, /*read_only=*/true});
  if (!docs.is_ok()) return docs.status();

  int changed = 0;
  for (auto& [id, d] : *docs) {
    std::string text;
    if (!d.deleted) {
      text = common::to_json(json::object{{"service_id", id},
                                          {"tenant_id", d.tenant_id},
                                          {"name", d.name},
                                          {"endpoints", std::move(d.endpoints)}});
    }
    auto r = redis_.run_script(route_script(), {routes_key(id)},
                               {text, std::string(kRoutesChannel), id});
    if (!r.is_ok()) return r.status();
    if (r->is_integer() && r->integer == 1) ++changed;
  }
  return changed;
}

}  // namespace scn::scheduler
