#include "scheduler/service/pool_loader.h"

#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <set>

#include "catalog/model_card.h"
#include "common/db/pg.h"
#include "common/json.h"
#include "common/log.h"
#include "common/redis/redis.h"
#include "scheduler/service/service_context.h"

namespace scn::scheduler {
namespace {

namespace json = boost::json;

Result<std::vector<std::string>> string_list(const json::object& obj, std::string_view key) {
  std::vector<std::string> out;
  SCN_ASSIGN_OR_RETURN(const json::array* a, common::get_array(obj, key));
  if (!a) return out;
  for (const auto& v : *a) {
    if (!v.is_string()) return Status::invalid_argument("placement." + std::string(key) + " must be a list of strings");
    out.emplace_back(v.as_string());
  }
  return out;
}

std::vector<int64_t> int_list(const std::string& json_text) {  // array_to_json of an int[]
  std::vector<int64_t> out;
  auto v = common::parse_json(json_text);
  if (!v.is_ok() || !v->is_array()) return out;
  for (const auto& e : v->as_array())
    if (e.is_int64()) out.push_back(e.as_int64());
  return out;
}

void sub(uint64_t& value, int64_t amount) {
  const uint64_t a = amount > 0 ? static_cast<uint64_t>(amount) : 0;
  value = value > a ? value - a : 0;
}

}  // namespace

Result<ReplicaRequest> placement_request(std::string_view placement_json,
                                         const std::optional<std::vector<std::string>>& tenant_regions) {
  ReplicaRequest r;
  auto parsed = common::parse_json_object(placement_json.empty() ? "{}" : placement_json);
  if (!parsed.is_ok()) return Status::invalid_argument("invalid placement: " + parsed.status().message());
  const json::object& p = *parsed;
  auto fail = [](const Status& st) { return Status::invalid_argument("invalid placement: " + st.message()); };
  auto regions = string_list(p, "regions");
  if (!regions.is_ok()) return fail(regions.status());
  auto kind = common::get_string(p, "device_kind", "any");
  if (!kind.is_ok()) return fail(kind.status());
  auto k = parse_device_kind(*kind);
  if (!k.is_ok()) return fail(Status::invalid_argument("device_kind must be cpu, gpu or any"));
  r.device_kind = *k;
  auto models = string_list(p, "device_models");
  if (!models.is_ok()) return fail(models.status());
  r.device_models = std::move(*models);
  auto cap = common::get_optional_number(p, "price_cap_per_hour");
  if (!cap.is_ok()) return fail(cap.status());
  if (*cap && (!std::isfinite(**cap) || **cap < 0))
    return fail(Status::invalid_argument("price_cap_per_hour must be >= 0"));
  r.price_cap_per_hour = *cap;
  auto threads = common::get_int(p, "cpu_threads", 1);
  if (!threads.is_ok()) return fail(threads.status());
  if (*threads < 1 || *threads > 1024) return fail(Status::invalid_argument("cpu_threads must be 1..1024"));
  r.cpu_cores = static_cast<int>(*threads);
  r.gpu_host_cores = 1;

  if (!tenant_regions) {
    r.allowed_regions = std::move(*regions);
  } else if (regions->empty()) {
    r.allowed_regions = *tenant_regions;
    if (r.allowed_regions.empty())
      return Status::invalid_argument("the tenant is allowed in no region");
  } else {
    std::set<std::string> allowed;
    for (const auto& t : *tenant_regions) allowed.insert(fold_case(t));
    for (const auto& want : *regions)
      if (allowed.count(fold_case(want))) r.allowed_regions.push_back(want);
    if (r.allowed_regions.empty())
      return Status::invalid_argument("none of the service's regions is allowed for the tenant");
  }
  return r;
}

Result<PoolView> load_pool(db::PgPool& pool, redis::RedisClient* redis,
                           std::chrono::milliseconds node_ttl) {
  struct NodeRow {
    Node node;
    std::string status;
    bool recent = false;
    // A Slurm node's free capacity as the agent last reported it (its CPUs
    // and memory minus other users' jobs and the agent's own replicas): caps
    // what placement sees as free.
    std::optional<int64_t> reported_free_cores;
    std::optional<int64_t> reported_free_ram;
  };
  struct Read {
    std::vector<Center> centers;
    std::vector<NodeRow> nodes;
    std::vector<std::pair<std::string, std::string>> service_replicas;  // service, node
    std::vector<PendingReplica> pending;
    std::map<std::string, int64_t> versions;
    std::map<int64_t, int> offsets;
    std::map<std::string, TenantQuota> quotas;
    std::map<std::string, TenantUsage> usage;
    std::vector<RunningReplica> running;
  };
  const std::string ttl_ms = std::to_string(node_ttl.count());
  auto read = pool.with_tx(
      [&](pqxx::work& tx) -> Result<Read> {
        Read out;
        for (const auto& row : tx.exec(
                 "SELECT id, name, region, price_gpu_hour::float8, price_cpu_core_hour::float8, status "
                 "FROM centers ORDER BY id")) {
          Center c;
          c.id = row[0].as<std::string>();
          c.name = row[1].as<std::string>();
          c.region = row[2].as<std::string>();
          c.price_gpu_hour = row[3].as<double>();
          c.price_cpu_core_hour = row[4].as<double>();
          auto st = parse_center_status(row[5].as<std::string>());
          c.status = st.is_ok() ? *st : CenterStatus::kMaintenance;
          out.centers.push_back(std::move(c));
        }
        std::map<std::string, size_t> index;
        for (const auto& row : tx.exec_params(
                 "SELECT id, name, center_id, status, simulated, version, "
                 "last_heartbeat_at IS NOT NULL AND last_heartbeat_at > now() - $1::bigint * interval '1 millisecond', "
                 "CASE WHEN jsonb_typeof(slurm->'free_cpu_cores') = 'number' "
                 "  THEN (slurm->>'free_cpu_cores')::numeric::bigint END, "
                 "CASE WHEN jsonb_typeof(slurm->'free_ram_bytes') = 'number' "
                 "  THEN (slurm->>'free_ram_bytes')::numeric::bigint END "
                 "FROM nodes WHERE status <> 'removed' ORDER BY id",
                 ttl_ms)) {
          NodeRow n;
          n.node.id = row[0].as<std::string>();
          n.node.name = row[1].as<std::string>();
          n.node.center_id = row[2].as<std::string>();
          n.status = row[3].as<std::string>();
          n.node.simulated = row[4].as<bool>();
          n.node.draining = n.status == "draining";
          n.recent = row[6].as<bool>();
          if (!row[7].is_null()) n.reported_free_cores = row[7].as<int64_t>();
          if (!row[8].is_null()) n.reported_free_ram = row[8].as<int64_t>();
          out.versions[n.node.id] = row[5].as<int64_t>();
          index[n.node.id] = out.nodes.size();
          out.nodes.push_back(std::move(n));
        }
        for (const auto& row : tx.exec(
                 "SELECT d.node_id, d.id, d.kind, d.model, d.memory_bytes, d.count FROM devices d "
                 "JOIN nodes n ON n.id = d.node_id WHERE n.status <> 'removed' ORDER BY d.node_id, d.id")) {
          auto it = index.find(row[0].as<std::string>());
          if (it == index.end()) continue;
          Node& node = out.nodes[it->second].node;
          const int64_t id = row[1].as<int64_t>();
          const int64_t memory = row[4].as<int64_t>();
          const int64_t count = row[5].as<int64_t>();
          if (row[2].as<std::string>() == "cpu") {
            node.cpu_device_id = id;
            node.cpu_cores = node.free_cpu_cores = static_cast<int>(count);
            node.ram_bytes = node.free_ram_bytes = static_cast<uint64_t>(memory);
            continue;
          }
          out.offsets[id] = static_cast<int>(node.gpus.size());
          for (int64_t i = 0; i < count; ++i) {
            Gpu g;
            g.memory_bytes = g.free_bytes = static_cast<uint64_t>(memory);
            g.index = static_cast<int>(node.gpus.size());
            g.device_id = id;
            g.model = row[3].as<std::string>();
            node.gpus.push_back(std::move(g));
          }
        }
        for (const auto& row : tx.exec(
                 "SELECT id, quota_replicas, quota_gpus, quota_gpu_memory_bytes, quota_cpu_cores FROM tenants "
                 "WHERE quota_replicas IS NOT NULL OR quota_gpus IS NOT NULL "
                 "OR quota_gpu_memory_bytes IS NOT NULL OR quota_cpu_cores IS NOT NULL")) {
          TenantQuota& q = out.quotas[row[0].as<std::string>()];
          auto opt = [&](int i) {
            return row[i].is_null() ? std::nullopt : std::optional<int64_t>(row[i].as<int64_t>());
          };
          q.replicas = opt(1);
          q.gpus = opt(2);
          q.gpu_memory_bytes = opt(3);
          q.cpu_cores = opt(4);
        }
        for (const auto& row : tx.exec(
                 "SELECT r.node_id, r.service_id, r.state, r.device_id, array_to_json(r.device_indices)::text, "
                 "r.cpu_threads, r.memory_bytes, r.id, s.tenant_id, s.priority, "
                 "COALESCE((extract(epoch FROM r.scheduled_at) * 1000)::bigint, 0), "
                 "COALESCE(r.reason LIKE 'preempted%', false) "
                 "FROM replicas r JOIN services s ON s.id = r.service_id "
                 "WHERE r.node_id IS NOT NULL AND r.state IN "
                 "('scheduled', 'starting', 'ready', 'failed', 'stopping')")) {
          auto it = index.find(row[0].as<std::string>());
          if (it == index.end()) continue;
          Node& node = out.nodes[it->second].node;
          const int64_t memory = row[6].as<int64_t>();
          const int cores = row[5].as<int>();
          node.free_cpu_cores = std::max(0, node.free_cpu_cores - cores);
          const int64_t device = row[3].is_null() ? 0 : row[3].as<int64_t>();
          auto off = out.offsets.find(device);
          RunningReplica run;
          run.replica_id = row[7].as<std::string>();
          run.service_id = row[1].as<std::string>();
          run.tenant_id = row[8].as<std::string>();
          run.node_id = row[0].as<std::string>();
          run.priority = row[9].as<int>();
          run.started_ms = row[10].as<int64_t>();
          run.preempted = row[2].as<std::string>() == "stopping" && row[11].as<bool>();
          run.memory_bytes = static_cast<uint64_t>(std::max<int64_t>(0, memory));
          run.cpu_cores = cores;
          TenantUsage& use = out.usage[run.tenant_id];
          ++use.replicas;
          use.cpu_cores += cores;
          if (device == 0 || device == node.cpu_device_id || off == out.offsets.end()) {
            sub(node.free_ram_bytes, memory);
          } else {
            run.gpu = true;
            for (int64_t i : int_list(row[4].as<std::string>())) {
              const int64_t at = off->second + i;
              ++use.gpus;
              use.gpu_memory_bytes += memory;
              if (at >= 0 && at < static_cast<int64_t>(node.gpus.size()) &&
                  node.gpus[at].device_id == device) {
                sub(node.gpus[at].free_bytes, memory);
                run.gpu_slots.push_back(static_cast<int>(at));
              }
            }
          }
          if (row[2].as<std::string>() != "stopping" || run.preempted) out.running.push_back(std::move(run));
          if (row[2].as<std::string>() != "stopping")
            out.service_replicas.emplace_back(row[1].as<std::string>(), row[0].as<std::string>());
        }
        for (const auto& row : tx.exec(
                 "SELECT node_id, model_file_id FROM node_model_files WHERE state = 'present'")) {
          auto it = index.find(row[0].as<std::string>());
          if (it != index.end()) out.nodes[it->second].node.models.push_back(row[1].as<std::string>());
        }
        for (const auto& row : tx.exec(
                 "SELECT r.id, r.version, r.reason, s.id, s.tenant_id, s.model_file_id, "
                 "s.context_length, s.placement::text, array_to_json(t.allowed_regions)::text, "
                 "f.size_bytes, m.architecture, m.parameters, m.n_layers, m.n_heads, m.n_kv_heads, "
                 "m.head_dim, m.context_length, s.priority, "
                 "(extract(epoch FROM r.created_at) * 1000)::bigint "
                 "FROM replicas r JOIN services s ON s.id = r.service_id "
                 "JOIN tenants t ON t.id = s.tenant_id JOIN model_files f ON f.id = s.model_file_id "
                 "JOIN models m ON m.id = s.model_id WHERE r.state = 'pending' "
                 "AND s.deleted_at IS NULL AND s.status <> 'stopped' ORDER BY s.priority DESC, r.created_at, r.id")) {
          PendingReplica p;
          p.replica_id = row[0].as<std::string>();
          p.version = row[1].as<int64_t>();
          p.reason = row[2].is_null() ? "" : row[2].as<std::string>();
          std::optional<std::vector<std::string>> tenant_regions;
          if (!row[8].is_null()) {
            tenant_regions.emplace();
            auto v = common::parse_json(row[8].as<std::string>());
            if (v.is_ok() && v->is_array())
              for (const auto& e : v->as_array())
                if (e.is_string()) tenant_regions->emplace_back(e.as_string());
          }
          auto req = placement_request(row[7].as<std::string>(), tenant_regions);
          if (req.is_ok()) {
            p.request = std::move(*req);
          } else {
            p.invalid = req.status().message();
          }
          p.request.replica_id = p.replica_id;
          p.request.service_id = row[3].as<std::string>();
          p.request.tenant_id = row[4].as<std::string>();
          catalog::ModelFacts facts;
          facts.architecture = row[10].as<std::string>();
          facts.parameters = row[11].as<int64_t>();
          facts.n_layers = row[12].as<int64_t>();
          facts.n_heads = row[13].as<int64_t>();
          facts.n_kv_heads = row[14].as<int64_t>();
          facts.head_dim = row[15].as<int64_t>();
          facts.context_length = row[16].as<int64_t>();
          p.request.model.model_key = row[5].as<std::string>();
          p.request.model.weight_bytes = static_cast<uint64_t>(std::max<int64_t>(0, row[9].as<int64_t>()));
          p.request.model.kv_bytes_per_token = static_cast<uint64_t>(std::max<int64_t>(
              0, catalog::kv_bytes_per_token(facts, catalog::kEngineKvElementBytes)));
          p.request.model.context_tokens = static_cast<uint32_t>(row[6].as<int64_t>());
          p.priority = row[17].as<int>();
          p.request.priority = p.priority;
          p.request.created_at_ms = row[18].as<int64_t>();
          out.pending.push_back(std::move(p));
        }
        return out;
      },
      db::TxOptions{db::Isolation::kRepeatableRead, /*read_only=*/true});
  if (!read.is_ok()) return read.status();

  // Liveness from Redis (one MGET); on failure only the heartbeat age counts.
  std::vector<bool> redis_alive(read->nodes.size(), false);
  if (redis && !read->nodes.empty()) {
    std::vector<std::string> args{"MGET"};
    for (const auto& n : read->nodes) args.push_back(node_alive_key(n.node.id));
    auto reply = redis->command(args);
    if (reply.is_ok() && reply->is_array() && reply->elements.size() == read->nodes.size()) {
      for (size_t i = 0; i < read->nodes.size(); ++i) redis_alive[i] = !reply->elements[i].is_nil();
    } else if (!reply.is_ok()) {
      common::log_warn("scheduler: liveness from redis: ", reply.status().to_string());
    }
  }

  PoolView view;
  for (auto& c : read->centers) SCN_RETURN_IF_ERROR(view.snapshot.add_center(std::move(c)));
  for (size_t i = 0; i < read->nodes.size(); ++i) {
    NodeRow& n = read->nodes[i];
    const bool up = n.status == "ready" || n.status == "draining";
    n.node.alive = up && (redis_alive[i] || n.recent);
    if (n.reported_free_cores)
      n.node.free_cpu_cores = static_cast<int>(
          std::min<int64_t>(n.node.free_cpu_cores, std::max<int64_t>(0, *n.reported_free_cores)));
    if (n.reported_free_ram)
      n.node.free_ram_bytes = std::min<uint64_t>(
          n.node.free_ram_bytes, static_cast<uint64_t>(std::max<int64_t>(0, *n.reported_free_ram)));
    std::sort(n.node.models.begin(), n.node.models.end());
    Status st = view.snapshot.add_node(std::move(n.node));
    if (!st.is_ok()) common::log_warn("scheduler: node left out of the snapshot: ", st.to_string());
  }
  for (const auto& [service, node] : read->service_replicas)
    if (view.snapshot.find_node(node)) (void)view.snapshot.add_service_replica(service, node);
  view.node_versions = std::move(read->versions);
  view.gpu_offsets = std::move(read->offsets);
  view.pending = std::move(read->pending);
  view.quotas = std::move(read->quotas);
  view.usage = std::move(read->usage);
  view.running = std::move(read->running);
  return view;
}

}  // namespace scn::scheduler
