#include "scheduler/service/fencing.h"

namespace scn::scheduler {
namespace {
constexpr std::string_view kFencedPrefix = "fenced: ";
}

Result<int64_t> advance_epoch(db::PgPool& pool, const std::string& holder) {
  return pool.with_tx([&](pqxx::work& tx) -> Result<int64_t> {
    pqxx::result r = tx.exec_params(
        "UPDATE scheduler_leases SET epoch = epoch + 1, holder = $1, acquired_at = now() "
        "WHERE id RETURNING epoch",
        holder);
    if (r.empty()) return Status::internal("scheduler_leases has no row");
    return r[0][0].as<int64_t>();
  });
}

Result<int64_t> current_epoch(db::PgPool& pool) {
  return pool.with_tx(
      [&](pqxx::work& tx) -> Result<int64_t> {
        pqxx::result r = tx.exec("SELECT epoch FROM scheduler_leases WHERE id");
        if (r.empty()) return Status::internal("scheduler_leases has no row");
        return r[0][0].as<int64_t>();
      },
      db::TxOptions{db::Isolation::kReadCommitted, /*read_only=*/true});
}

Status fenced(int64_t mine, int64_t current) {
  return Status::permission_denied(std::string(kFencedPrefix) + "epoch " + std::to_string(mine) +
                                   " is not the current epoch " + std::to_string(current));
}

Status check_epoch(pqxx::work& tx, int64_t epoch) {
  if (epoch == kNoFence) return Status::ok();
  pqxx::result r = tx.exec("SELECT epoch FROM scheduler_leases WHERE id FOR SHARE");
  const int64_t current = r.empty() ? -1 : r[0][0].as<int64_t>();
  if (current != epoch) return fenced(epoch, current);
  return Status::ok();
}

bool is_fenced(const Status& status) {
  return status.code() == Code::kPermissionDenied &&
         status.message().find(kFencedPrefix) != std::string::npos;
}

}  // namespace scn::scheduler
