#include "scheduler/service/binder.h"

#include "common/db/pg.h"
#include "scheduler/service/fencing.h"

namespace scn::scheduler {

BindRequest bind_request(const PoolView& view, const PendingReplica& replica,
                         const Decision& decision, std::string why_here) {
  BindRequest b;
  b.replica_id = replica.replica_id;
  b.replica_version = replica.version;
  b.node_id = decision.node_id;
  auto v = view.node_versions.find(decision.node_id);
  b.node_version = v == view.node_versions.end() ? 0 : v->second;
  const Assignment& a = decision.assignment;
  b.device_id = a.device_id;
  if (a.kind == DeviceKind::kGpu) {
    auto off = view.gpu_offsets.find(a.device_id);
    b.device_indices.push_back(a.gpu_index - (off == view.gpu_offsets.end() ? 0 : off->second));
  }
  b.cpu_threads = a.cpu_cores;
  b.memory_bytes = static_cast<int64_t>(a.memory_bytes);
  b.reason = std::move(why_here);
  return b;
}

Status bind_replica(db::PgPool& pool, const BindRequest& b) {
  std::string indices = "{";
  for (int i : b.device_indices) {
    if (indices.size() > 1) indices += ',';
    indices += std::to_string(i);
  }
  indices += "}";
  const std::string device = std::to_string(b.device_id);
  return pool.with_tx([&](pqxx::work& tx) -> Status {
    SCN_RETURN_IF_ERROR(check_epoch(tx, b.epoch));
    pqxx::result r = tx.exec_params(
        "UPDATE replicas SET node_id = $3, device_id = NULLIF($4::bigint, 0), "
        "device_indices = $5::integer[], cpu_threads = $6, memory_bytes = $7, state = 'scheduled', "
        "scheduled_at = now(), reason = $8, placement = left($8, 4000), bound_epoch = NULLIF($9::bigint, 0), version = version + 1 "
        "WHERE id = $1 AND version = $2 AND state = 'pending'",
        b.replica_id, b.replica_version, b.node_id, device, indices, b.cpu_threads, b.memory_bytes,
        b.reason, b.epoch);
    if (r.affected_rows() == 0)
      return Status::conflict("replica " + b.replica_id + " changed since the snapshot");
    pqxx::result n = tx.exec_params(
        "UPDATE nodes SET version = version + 1 WHERE id = $1 AND version = $2 AND status = 'ready'",
        b.node_id, b.node_version);
    if (n.affected_rows() == 0)
      return Status::conflict("node " + b.node_id + " changed since the snapshot");
    return Status::ok();
  });
}

}  // namespace scn::scheduler
