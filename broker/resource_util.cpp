#include "broker/resource_util.h"

#include <cctype>

#include "common/json.h"
#include "common/log.h"
#include "common/redis/redis.h"

namespace scn::broker {

void publish_wake(redis::RedisClient& redis, std::string_view id) {
  auto r = redis.publish(kSchedulerWakeChannel, id);
  if (!r.is_ok()) {
    common::log_warn("broker: could not wake the scheduler for ", id, ": ",
                     r.status().to_string());
  }
}

namespace {
const char* nullable(const std::string& s) { return s.empty() ? nullptr : s.c_str(); }
}  // namespace

void write_audit(pqxx::work& tx, const Actor& actor, const AuditEntry& e) {
  tx.exec_params(
      "INSERT INTO audit_log (actor_kind, actor_user_id, actor_name, tenant_id, center_id, "
      "action, target_kind, target_id, details, client_ip) "
      "VALUES ($1, $2::uuid, $3, $4::uuid, $5::uuid, $6, $7, $8, $9::jsonb, $10::inet)",
      actor.kind, nullable(actor.user_id), actor.name, nullable(e.tenant_id),
      nullable(e.center_id), e.action, nullable(e.target_kind), nullable(e.target_id),
      common::to_json(e.details), nullable(actor.client_ip));
}

std::string sql_time(std::string_view column) {
  return "to_char(" + std::string(column) +
         " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";
}

std::optional<std::string> opt_text(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<std::string>();
}

}  // namespace scn::broker
