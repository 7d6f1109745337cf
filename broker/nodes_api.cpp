#include "broker/nodes_api.h"

#include <boost/json.hpp>

#include <algorithm>

#include "broker/resource_util.h"
#include "common/db/pg.h"
#include "common/json.h"
#include "common/redis/redis.h"

namespace scn::broker {
namespace {

namespace json = boost::json;

constexpr const char* kLiveReplicaStates = "('scheduled', 'starting', 'ready', 'stopping')";

std::string node_select() {
  return "SELECT n.id, n.name, n.center_id, c.name, c.region, n.address, n.labels::text, "
         "n.simulated, n.status, n.status_reason, " +
         sql_time("n.last_heartbeat_at") +
         ", coalesce(n.last_heartbeat_at > now() - interval '10 seconds', false), "
         "(SELECT coalesce(json_agg(json_build_object('kind', d.kind, 'model', d.model, "
         "'memory_bytes', d.memory_bytes, 'count', d.count) ORDER BY d.kind, d.model), '[]') "
         "FROM devices d WHERE d.node_id = n.id)::text, "
         "(SELECT count(*) FROM replicas r WHERE r.node_id = n.id AND r.state IN " +
         std::string(kLiveReplicaStates) +
         "), n.managed_by, " +
         sql_slurm_view("n") +
         " FROM nodes n JOIN centers c ON c.id = n.center_id ";
}

json::value parsed(const std::string& text, json::value fallback) {
  auto v = common::parse_json(text);
  return v.is_ok() ? *v : fallback;
}

struct NodeRow {
  json::object view;
  std::string id;
  bool recent_heartbeat = false;
};

NodeRow node_of_row(const pqxx::row& r) {
  NodeRow n;
  n.id = r[0].as<std::string>();
  json::object& o = n.view;
  o["id"] = n.id;
  o["name"] = r[1].as<std::string>();
  o["center_id"] = r[2].as<std::string>();
  o["center_name"] = r[3].as<std::string>();
  o["region"] = r[4].as<std::string>();
  o["address"] = r[5].as<std::string>();
  o["labels"] = parsed(r[6].as<std::string>(), json::object());
  o["simulated"] = r[7].as<bool>();
  o["status"] = r[8].as<std::string>();
  o["status_reason"] = r[9].is_null() ? json::value(nullptr) : json::value(r[9].as<std::string>());
  o["last_heartbeat_at"] =
      r[10].is_null() ? json::value(nullptr) : json::value(r[10].as<std::string>());
  n.recent_heartbeat = r[11].as<bool>();
  o["devices"] = parsed(r[12].as<std::string>(), json::array());
  o["replicas"] = r[13].as<std::int64_t>();
  o["managed_by"] = r[14].as<std::string>();
  o["slurm"] = r[15].is_null() ? json::value(nullptr) : parsed(r[15].as<std::string>(), nullptr);
  return n;
}

// Sets "alive" from Redis (the heartbeat's age when Redis cannot answer).
void set_alive(redis::RedisClient& redis, NodeRow& n) {
  auto r = redis.command({"EXISTS", "scn:node:" + n.id + ":alive"});
  n.view["alive"] = r.is_ok() && r->is_integer() ? r->integer > 0 : n.recent_heartbeat;
}

// The center scope of the caller: "" (admin) or the operator's center; 403
// for members.
Result<std::string> center_scope(const Principal& p) {
  if (p.is_admin()) return std::string();
  if (p.role == Role::kOperator && !p.center_id.empty()) return p.center_id;
  return Status::permission_denied("nodes are managed by their center's operators and admins");
}

Status node_not_found() { return Status::not_found("node not found"); }

Result<NodeRow> read_node(pqxx::work& tx, std::string_view id, const std::string& scope) {
  if (!is_uuid(id)) return node_not_found();
  pqxx::result r = tx.exec_params(node_select() +
                                      "WHERE n.id = $1::uuid AND n.status <> 'removed' "
                                      "AND ($2 = '' OR n.center_id::text = $2)",
                                  std::string(id), scope);
  if (r.empty()) return node_not_found();
  return node_of_row(r[0]);
}

struct Transition {
  std::string action;  // "node.drain"
  std::string to;      // new status
  std::vector<std::string> from;
  std::string refusal;  // message when the node is in another status
};

Result<NodeRow> change_status(BrokerContext& ctx, const ApiCall& call, const Transition& t) {
  SCN_ASSIGN_OR_RETURN(std::string scope, center_scope(call.who()));
  const std::string id(call.param("id"));
  if (!is_uuid(id)) return node_not_found();
  const Actor actor = Actor::of(call.who(), call.client_ip());
  auto result = ctx.pg.with_tx([&](pqxx::work& tx) -> Result<NodeRow> {
    pqxx::result cur = tx.exec_params(
        "SELECT status, center_id, name FROM nodes WHERE id = $1::uuid AND status <> 'removed' "
        "AND ($2 = '' OR center_id::text = $2) FOR UPDATE",
        id, scope);
    if (cur.empty()) return node_not_found();
    const std::string status = cur[0][0].as<std::string>();
    if (std::find(t.from.begin(), t.from.end(), status) == t.from.end())
      return Status::conflict(t.refusal + " (it is " + status + ")");
    const char* reason = nullptr;
    std::string reason_text;
    if (t.to != "ready") {
      reason_text = (t.to == "draining" ? "drained by " : "removed by ") + actor.name;
      reason = reason_text.c_str();
    }
    tx.exec_params(
        "UPDATE nodes SET status = $2, status_reason = $3, version = version + 1 "
        "WHERE id = $1::uuid",
        id, t.to, reason);
    AuditEntry e;
    e.action = t.action;
    e.target_kind = "node";
    e.target_id = id;
    e.center_id = cur[0][1].as<std::string>();
    e.details["name"] = cur[0][2].as<std::string>();
    e.details["from"] = status;
    write_audit(tx, actor, e);
    if (t.to == "removed") return NodeRow{};
    return read_node(tx, id, "");
  });
  if (result.is_ok()) publish_wake(ctx.redis, id);
  return result;
}

}  // namespace

std::string sql_slurm_view(std::string_view alias) {
  const std::string a(alias);
  auto field = [&](const char* key, const char* fallback) {
    return "'" + std::string(key) + "', coalesce(" + a + ".slurm->>'" + key + "', '" + fallback + "')";
  };
  return "CASE WHEN " + a + ".slurm IS NULL THEN NULL ELSE json_build_object(" +
         field("node", "") + ", " + field("partition", "") + ", " + field("state", "") + ", " +
         field("reason", "") + ", " + field("controller", "ok") + ")::text END";
}

void add_node_routes(ApiRouter& router, BrokerContext& ctx) {
  router.add("GET", "/api/v1/nodes", Access::kAuthenticated, [&ctx](ApiCall& call) -> Status {
    SCN_ASSIGN_OR_RETURN(std::string scope, center_scope(call.who()));
    std::string center;
    if (auto c = call.request.query_param("center_id")) {
      center = std::string(*c);
      if (!scope.empty() && center != scope)
        return Status::permission_denied("param 'center_id': operators see their own center only");
      if (!is_uuid(center)) return Status::invalid_argument("param 'center_id' must be a uuid");
    }
    if (center.empty()) center = scope;
    auto rows = ctx.pg.with_tx(
        [&](pqxx::work& tx) -> Result<std::vector<NodeRow>> {
          std::vector<NodeRow> out;
          for (const auto& r : tx.exec_params(node_select() +
                                                  "WHERE n.status <> 'removed' AND "
                                                  "($1 = '' OR n.center_id::text = $1) "
                                                  "ORDER BY c.name, n.name",
                                              center)) {
            out.push_back(node_of_row(r));
          }
          return out;
        },
        {.read_only = true});
    if (!rows.is_ok()) return rows.status();
    json::array data;
    for (auto& n : *rows) {
      set_alive(ctx.redis, n);
      data.push_back(std::move(n.view));
    }
    reply_json(call, 200, json::object{{"data", std::move(data)}});
    return Status::ok();
  });

  router.add("GET", "/api/v1/nodes/{id}", Access::kAuthenticated, [&ctx](ApiCall& call) -> Status {
    SCN_ASSIGN_OR_RETURN(std::string scope, center_scope(call.who()));
    const std::string id(call.param("id"));
    auto node = ctx.pg.with_tx(
        [&](pqxx::work& tx) -> Result<NodeRow> {
          SCN_ASSIGN_OR_RETURN(NodeRow n, read_node(tx, id, scope));
          n.view["replica_count"] = n.view["replicas"];
          n.view["replicas"] = parsed(
              tx.exec_params1(
                    "SELECT coalesce(json_agg(json_build_object('id', r.id, 'service_id', "
                    "r.service_id, 'service_name', s.name, 'tenant_id', s.tenant_id, 'state', "
                    "r.state, 'reason', r.reason, 'device', json_build_object('kind', d.kind, "
                    "'model', d.model, 'indices', r.device_indices), 'port', r.port, "
                    "'cpu_threads', r.cpu_threads, 'memory_bytes', r.memory_bytes, 'restarts', "
                    "r.restarts) ORDER BY r.created_at), '[]')::text "
                    "FROM replicas r JOIN services s ON s.id = r.service_id "
                    "LEFT JOIN devices d ON d.id = r.device_id "
                    "WHERE r.node_id = $1::uuid AND NOT (r.state IN ('stopped', 'lost') "
                    "AND r.updated_at < now() - interval '10 minutes')",
                    id)[0]
                  .as<std::string>(),
              json::array());
          n.view["models"] = parsed(
              tx.exec_params1(
                    "SELECT coalesce(json_agg(json_build_object('model_file_id', f.id, 'model', "
                    "m.name, 'quantization', f.quantization, 'state', x.state, 'bytes_present', "
                    "x.bytes_present) ORDER BY m.name, f.quantization), '[]')::text "
                    "FROM node_model_files x JOIN model_files f ON f.id = x.model_file_id "
                    "JOIN models m ON m.id = f.model_id WHERE x.node_id = $1::uuid",
                    id)[0]
                  .as<std::string>(),
              json::array());
          return n;
        },
        {.read_only = true});
    if (!node.is_ok()) return node.status();
    set_alive(ctx.redis, *node);
    reply_json(call, 200, node->view);
    return Status::ok();
  });

  router.add("POST", "/api/v1/nodes/{id}/drain", Access::kAuthenticated,
             [&ctx](ApiCall& call) -> Status {
               SCN_ASSIGN_OR_RETURN(
                   NodeRow n, change_status(ctx, call,
                                            {"node.drain", "draining", {"ready", "draining"},
                                             "only a ready node can be drained"}));
               set_alive(ctx.redis, n);
               reply_json(call, 200, n.view);
               return Status::ok();
             });

  router.add("POST", "/api/v1/nodes/{id}/undrain", Access::kAuthenticated,
             [&ctx](ApiCall& call) -> Status {
               SCN_ASSIGN_OR_RETURN(NodeRow n,
                                    change_status(ctx, call,
                                                  {"node.undrain", "ready", {"draining"},
                                                   "only a draining node can be undrained"}));
               set_alive(ctx.redis, n);
               reply_json(call, 200, n.view);
               return Status::ok();
             });

  router.add("DELETE", "/api/v1/nodes/{id}", Access::kAuthenticated,
             [&ctx](ApiCall& call) -> Status {
               SCN_RETURN_IF_ERROR(change_status(
                   ctx, call,
                   {"node.remove", "removed", {"ready", "draining", "lost"}, "cannot remove"}));
               reply_empty(call, 204);
               return Status::ok();
             });
}

}  // namespace scn::broker
