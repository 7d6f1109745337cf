// AgentApi::heartbeat(): liveness, model files, observed replica states, and
// the node's desired set.
//
// How reported replica states are applied (rows of THIS node only; rows in
// 'lost', 'stopped' or 'pending' are never touched, so never revived):
//  - a row the scheduler wants running (scheduled/starting/ready/failed):
//      reported starting|ready|failed -> that state, with port, reason and
//        restarts; started_at set once; ready_at set when it turns ready;
//      reported stopped -> unchanged (the agent will start it again);
//      not reported while starting/ready/failed -> 'scheduled' (port
//        cleared, reason "not reported by the agent"): the agent lost it and
//        the desired set makes it start it again; not reported while
//        scheduled -> unchanged (the agent has not seen it yet).
//  - a 'stopping' row reported stopped, or not reported -> 'stopped'
//    (stopped_at = now()); reported otherwise -> still stopping.
//  - A port already used by another live replica of the node is not taken.
#include <boost/json.hpp>

#include <map>
#include <set>
#include <vector>

#include "common/tls/context.h"  // check_node_binding (mTLS)
#include "common/crypto/crypto.h"
#include "common/db/pg.h"
#include "common/http/server.h"
#include "common/json.h"
#include "common/log.h"
#include "common/redis/redis.h"
#include "scheduler/service/agent_api.h"
#include "scheduler/service/routes.h"
#include "scheduler/service/slurm_report.h"
#include "scheduler/slurm_state.h"

namespace scn::scheduler {
namespace {

namespace json = boost::json;

struct ReportedModel {
  std::string model_file_id;
  std::string state;
  int64_t bytes_present = 0;
};

struct ReportedReplica {
  std::string state;
  std::optional<int64_t> port;
  std::optional<std::string> reason;
  int64_t restarts = 0;
};

struct HeartbeatRequest {
  std::optional<std::string> node_id;
  bool has_models = false;
  std::vector<ReportedModel> models;
  std::map<std::string, ReportedReplica> replicas;
  std::optional<SlurmHeartbeat> slurm;
};

Result<HeartbeatRequest> parse_heartbeat(std::string_view body) {
  SCN_ASSIGN_OR_RETURN(auto obj, common::parse_json_object(body));
  HeartbeatRequest r;
  SCN_ASSIGN_OR_RETURN(r.node_id, common::get_optional_string(obj, "node_id"));
  SCN_ASSIGN_OR_RETURN(const json::object* free, common::get_object(obj, "free"));
  (void)free;  // stored in Redis with the whole body (a Slurm node's also in nodes.slurm)
  SCN_ASSIGN_OR_RETURN(r.slurm, parse_slurm_heartbeat(obj));
  SCN_ASSIGN_OR_RETURN(const json::array* models, common::get_array(obj, "models"));
  if (models) {
    r.has_models = true;
    for (size_t i = 0; i < models->size(); ++i) {
      const std::string field = "models[" + std::to_string(i) + "]";
      if (!(*models)[i].is_object())
        return Status::invalid_argument("field '" + field + "' must be an object");
      const auto& m = (*models)[i].as_object();
      ReportedModel rm;
      auto id = common::require_string(m, "model_file_id");
      auto state = common::require_string(m, "state");
      auto bytes = common::get_int(m, "bytes_present", 0);
      for (const Status* st : {&id.status(), &state.status(), &bytes.status()})
        if (!st->is_ok()) return Status::invalid_argument(field + ": " + st->message());
      rm.model_file_id = *id;
      rm.state = *state;
      rm.bytes_present = *bytes;
      if (!is_uuid(rm.model_file_id))
        return Status::unprocessable(field + ".model_file_id must be a uuid");
      if (rm.state != "present" && rm.state != "downloading" && rm.state != "failed")
        return Status::unprocessable(field + ".state must be present, downloading or failed");
      if (rm.bytes_present < 0) return Status::unprocessable(field + ".bytes_present must be >= 0");
      r.models.push_back(std::move(rm));
    }
  }
  SCN_ASSIGN_OR_RETURN(const json::array* replicas, common::get_array(obj, "replicas"));
  if (replicas) {
    for (size_t i = 0; i < replicas->size(); ++i) {
      const std::string field = "replicas[" + std::to_string(i) + "]";
      if (!(*replicas)[i].is_object())
        return Status::invalid_argument("field '" + field + "' must be an object");
      const auto& m = (*replicas)[i].as_object();
      ReportedReplica rr;
      auto id = common::require_string(m, "replica_id");
      auto state = common::require_string(m, "state");
      auto port = common::get_optional_int(m, "port");
      auto reason = common::get_optional_string(m, "reason");
      auto restarts = common::get_int(m, "restarts", 0);
      for (const Status* st :
           {&id.status(), &state.status(), &port.status(), &reason.status(), &restarts.status()})
        if (!st->is_ok()) return Status::invalid_argument(field + ": " + st->message());
      rr.state = *state;
      rr.port = *port;
      rr.reason = *reason;
      rr.restarts = *restarts;
      if (rr.state != "starting" && rr.state != "ready" && rr.state != "failed" &&
          rr.state != "stopped")
        return Status::unprocessable(field + ".state must be starting, ready, failed or stopped");
      if (rr.port && (*rr.port < 1 || *rr.port > 65535))
        return Status::unprocessable(field + ".port must be between 1 and 65535");
      if (rr.restarts < 0 || rr.restarts > 1'000'000'000)
        return Status::unprocessable(field + ".restarts out of range");
      if (rr.reason && rr.reason->size() > 2000) rr.reason->resize(2000);
      if (rr.reason) *rr.reason = common::sanitize_utf8(*rr.reason);
      if (is_uuid(*id)) r.replicas[*id] = std::move(rr);  // unknown ids are ignored
    }
  }
  return r;
}

std::optional<std::string> bearer_token(std::string_view header) {
  while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
  if (header.size() < 7 || !http::iequals(header.substr(0, 7), "bearer ")) return std::nullopt;
  header.remove_prefix(7);
  while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
  while (!header.empty() && header.back() == ' ') header.remove_suffix(1);
  if (header.empty()) return std::nullopt;
  return std::string(header);
}

std::vector<int64_t> parse_int_array(const std::string& text) {  // "{0,1}"
  std::vector<int64_t> out;
  int64_t cur = 0;
  bool any = false;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      cur = cur * 10 + (c - '0');
      any = true;
    } else if (any) {
      out.push_back(cur);
      cur = 0;
      any = false;
    }
  }
  if (any) out.push_back(cur);
  return out;
}

struct TxOutcome {
  bool removed = false;
  std::string node_id;
  json::array desired;
  std::set<std::string> route_changes;  // services whose ready set changed
  std::string node_status;
  bool status_changed = false;  // Slurm changed the node's status: wake the leader
};

const char* opt(const std::optional<std::string>& s) { return s ? s->c_str() : nullptr; }

}  // namespace

Result<HeartbeatAnswer> AgentApi::heartbeat(std::string_view authorization, std::string_view body,
                                            const PeerCert& peer) {
  auto secret = bearer_token(authorization);
  if (!secret) return Status::unauthenticated("missing node secret (Authorization: Bearer ...)");
  SCN_ASSIGN_OR_RETURN(HeartbeatRequest req, parse_heartbeat(body));
  SCN_RETURN_IF_ERROR(secrets_.load());  // the cluster key, for the replicas' worker_secret
  const std::string secret_hash = crypto::to_hex(crypto::sha256(*secret));

  auto out = pool_.with_tx([&](pqxx::work& tx) -> Result<TxOutcome> {
    TxOutcome o;
    pqxx::result n = tx.exec_params(
        "SELECT id, status, status_reason, managed_by, coalesce(slurm::text, ''), center_id, name "
        "FROM nodes WHERE secret_hash = decode($1, 'hex') FOR UPDATE",
        secret_hash);
    if (n.empty()) return Status::unauthenticated("unknown node secret");
    o.node_id = n[0][0].as<std::string>();
    if (req.node_id && *req.node_id != o.node_id)
      return Status::unauthenticated("node_id does not match the node secret");
    // mTLS (issue 9): a node's certificate only with that node's secret.
    if (peer.presented || require_client_cert_)
      SCN_RETURN_IF_ERROR(tls::check_node_binding(peer.node_id, o.node_id));
    const std::string status = n[0][1].as<std::string>();
    if (status == "removed") {
      o.removed = true;
      return o;
    }
    const std::optional<std::string> reason =
        n[0][2].is_null() ? std::nullopt : std::optional<std::string>(n[0][2].as<std::string>());
    const bool slurm_node = n[0][3].as<std::string>() == "slurm";
    if (req.slurm && !slurm_node)
      return Status::unprocessable("slurm is only for nodes registered with managed_by \"slurm\"");
    // The node's status: a plain agent's heartbeat brings a lost node back;
    // a Slurm node follows Slurm (a heartbeat alone never lifts a Slurm
    // down, and an unreachable controller changes nothing).
    std::optional<NodeStatusChange> change;
    if (req.slurm && req.slurm->controller_ok) {
      change = slurm_node_status(status, reason, classify_slurm_state(req.slurm->state),
                                 req.slurm->state, req.slurm->reason);
    } else if (status == "lost" && !req.slurm && !is_slurm_reason(reason)) {
      change = NodeStatusChange{"ready", std::nullopt};
    }
    std::optional<std::string> slurm_json;
    if (req.slurm) slurm_json = slurm_after_heartbeat(n[0][4].as<std::string>(), *req.slurm);
    o.node_status = change ? change->status : status;
    const std::optional<std::string>& new_reason = change ? change->reason : reason;
    tx.exec_params(
        "UPDATE nodes SET last_heartbeat_at = now(), status = $2, status_reason = $3, "
        "version = version + $4, slurm = coalesce($5::jsonb, slurm) WHERE id = $1",
        o.node_id, o.node_status, opt(new_reason), change && slurm_node ? 1 : 0, opt(slurm_json));
    if (change && slurm_node) {
      o.status_changed = true;
      if (change->status == "lost") {
        // Like a lost node (lifecycle.cpp): its replicas are lost and placed again.
        for (const auto& r : tx.exec_params(
                 "UPDATE replicas r SET state = 'lost', stopped_at = now(), "
                 "reason = 'node lost: ' || $2, version = r.version + 1 FROM replicas old "
                 "WHERE old.id = r.id AND r.node_id = $1 AND r.state IN "
                 "('scheduled', 'starting', 'ready', 'failed', 'stopping') "
                 "RETURNING r.service_id, old.state",
                 o.node_id, new_reason.value_or("slurm: down")))
          if (r[1].as<std::string>() == "ready") o.route_changes.insert(r[0].as<std::string>());
      }
      json::object details{{"name", n[0][6].as<std::string>()},
                           {"from", status},
                           {"to", change->status},
                           {"slurm_state", req.slurm ? req.slurm->state : ""},
                           {"reason", new_reason ? json::value(*new_reason) : json::value()}};
      tx.exec_params(
          "INSERT INTO audit_log (actor_kind, actor_name, center_id, action, target_kind, "
          "target_id, details) VALUES ('node', $1, $2, 'node.slurm_state', 'node', $3, $4::jsonb)",
          n[0][6].as<std::string>(), n[0][5].as<std::string>(), o.node_id,
          common::to_json(details));
      common::log_info("scheduler: Slurm node ", n[0][6].as<std::string>(), " (", o.node_id, "): ",
                       status, " -> ", change->status,
                       new_reason ? " (" + *new_reason + ")" : std::string());
    }

    if (req.has_models) {
      std::string ids = "{";
      for (const auto& m : req.models) {
        if (ids.size() > 1) ids += ',';
        ids += m.model_file_id;
        tx.exec_params(
            "INSERT INTO node_model_files (node_id, model_file_id, state, bytes_present) "
            "SELECT $1, id, $3, $4 FROM model_files WHERE id = $2::uuid "
            "ON CONFLICT (node_id, model_file_id) DO UPDATE SET state = EXCLUDED.state, "
            "bytes_present = EXCLUDED.bytes_present WHERE node_model_files.state <> EXCLUDED.state "
            "OR node_model_files.bytes_present <> EXCLUDED.bytes_present",
            o.node_id, m.model_file_id, m.state, m.bytes_present);
      }
      ids += "}";
      tx.exec_params(
          "DELETE FROM node_model_files WHERE node_id = $1 AND NOT (model_file_id = ANY($2::uuid[]))",
          o.node_id, ids);
    }

    pqxx::result rows = tx.exec_params(
        "SELECT id, state, service_id, port, reason, restarts FROM replicas WHERE node_id = $1 "
        "AND state IN ('scheduled', 'starting', 'ready', 'failed', 'stopping') ORDER BY id FOR UPDATE",
        o.node_id);
    for (const auto& row : rows) {
      const std::string id = row[0].as<std::string>();
      const std::string state = row[1].as<std::string>();
      const std::string service = row[2].as<std::string>();
      const std::optional<int64_t> port =
          row[3].is_null() ? std::nullopt : std::optional<int64_t>(row[3].as<int64_t>());
      const std::optional<std::string> reason =
          row[4].is_null() ? std::nullopt : std::optional<std::string>(row[4].as<std::string>());
      const int64_t restarts = row[5].as<int64_t>();
      auto rep = req.replicas.find(id);
      const ReportedReplica* r = rep == req.replicas.end() ? nullptr : &rep->second;
      if (state == "stopping") {
        if (r == nullptr || r->state == "stopped")
          tx.exec_params(
              "UPDATE replicas SET state = 'stopped', stopped_at = now(), version = version + 1 "
              "WHERE id = $1",
              id);
        continue;
      }
      if (r == nullptr) {
        if (state == "scheduled") continue;
        tx.exec_params(
            "UPDATE replicas SET state = 'scheduled', port = NULL, "
            "reason = 'not reported by the agent', version = version + 1 WHERE id = $1",
            id);
        if (state == "ready") o.route_changes.insert(service);
        continue;
      }
      if (r->state == "stopped") continue;
      const bool same = r->state == state && r->port == port && r->reason == reason &&
                        r->restarts == restarts;
      if (same) continue;
      const std::optional<std::string> port_text =
          r->port ? std::optional<std::string>(std::to_string(*r->port)) : std::nullopt;
      tx.exec_params(
          "UPDATE replicas r SET state = $2, "
          "port = COALESCE((SELECT $3::integer WHERE NOT EXISTS (SELECT 1 FROM replicas o "
          "  WHERE o.node_id = r.node_id AND o.port = $3::integer AND o.id <> r.id "
          "  AND o.state IN ('scheduled', 'starting', 'ready', 'stopping'))), "
          "  CASE WHEN $3::integer IS NULL THEN NULL ELSE r.port END), "
          "reason = $4, restarts = $5, "
          "started_at = CASE WHEN $2 IN ('starting', 'ready') THEN COALESCE(r.started_at, now()) "
          "  ELSE r.started_at END, "
          "ready_at = CASE WHEN $2 = 'ready' AND r.state <> 'ready' THEN now() ELSE r.ready_at END, "
          "version = r.version + CASE WHEN r.state <> $2 THEN 1 ELSE 0 END "
          "WHERE r.id = $1",
          id, r->state, opt(port_text), opt(r->reason), r->restarts);
      if ((state == "ready") != (r->state == "ready") || (state == "ready" && r->port != port))
        o.route_changes.insert(service);
    }

    // The desired set.
    std::map<int64_t, int64_t> gpu_offset;  // device id -> first node-wide GPU index
    int64_t next = 0;
    for (const auto& d : tx.exec_params(
             "SELECT id, count FROM devices WHERE node_id = $1 AND kind = 'gpu' ORDER BY id",
             o.node_id)) {
      gpu_offset[d[0].as<int64_t>()] = next;
      next += d[1].as<int64_t>();
    }
    for (const auto& row : tx.exec_params(
             "SELECT r.id, r.service_id, s.name, r.port, r.cpu_threads, r.device_id, "
             "r.device_indices::text, r.memory_bytes, s.context_length, f.id, f.file_name, f.uri, "
             "f.sha256, f.size_bytes FROM replicas r JOIN services s ON s.id = r.service_id "
             "JOIN model_files f ON f.id = s.model_file_id "
             "WHERE r.node_id = $1 AND r.state IN ('scheduled', 'starting', 'ready', 'failed') "
             "AND s.deleted_at IS NULL ORDER BY r.created_at, r.id",
             o.node_id)) {
      json::array gpus;
      if (!row[5].is_null()) {
        auto it = gpu_offset.find(row[5].as<int64_t>());
        if (it != gpu_offset.end())
          for (int64_t i : parse_int_array(row[6].as<std::string>())) gpus.push_back(it->second + i);
      }
      json::object model{{"model_file_id", row[9].as<std::string>()},
                         {"file_name", row[10].as<std::string>()},
                         {"uri", row[11].is_null() ? json::value() : json::value(row[11].as<std::string>())},
                         {"sha256", row[12].is_null() ? json::value() : json::value(row[12].as<std::string>())},
                         {"size_bytes", row[13].as<int64_t>()}};
      o.desired.push_back(json::object{
          {"replica_id", row[0].as<std::string>()},
          {"worker_secret", secrets_.for_replica(row[0].as<std::string>()).value()},
          {"service_id", row[1].as<std::string>()},
          {"service_name", row[2].as<std::string>()},
          {"port", row[3].is_null() ? json::value() : json::value(row[3].as<int64_t>())},
          {"cpu_threads", row[4].as<int64_t>()},
          {"gpu_indices", std::move(gpus)},
          {"memory_bytes", row[7].as<int64_t>()},
          {"context_length", row[8].as<int64_t>()},
          {"model", std::move(model)}});
    }
    return o;
  });
  if (!out.is_ok()) return out.status();
  HeartbeatAnswer answer;
  if (out->removed) {
    answer.removed = true;
    return answer;
  }
  metrics_.heartbeats.inc();

  redis::SetOptions ttl;
  ttl.ttl = config_.node_ttl;
  auto a = redis_.set(node_alive_key(out->node_id), "1", ttl);
  auto s = redis_.set(node_status_key(out->node_id), body, ttl);
  if (!a.is_ok() || !s.is_ok())
    common::log_warn("scheduler: heartbeat of node ", out->node_id, ": redis: ",
                     (!a.is_ok() ? a.status() : s.status()).to_string());
  if (out->status_changed) {
    auto w = redis_.publish(kWakeChannel, out->node_id);
    if (!w.is_ok())
      common::log_warn("scheduler: wake after node ", out->node_id, ": ", w.status().to_string());
  }
  if (!out->route_changes.empty()) {
    auto r = routes_.refresh({out->route_changes.begin(), out->route_changes.end()});
    if (!r.is_ok())
      common::log_warn("scheduler: routes after heartbeat: ", r.status().to_string());
    else
      metrics_.route_changes.inc(*r);
  }
  answer.body = common::to_json(json::object{{"heartbeat_ms", config_.heartbeat.count()},
                                             {"node_status", out->node_status},
                                             {"replicas", std::move(out->desired)}});
  return answer;
}

}  // namespace scn::scheduler
