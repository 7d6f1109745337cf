// Helpers shared by the resource endpoints (resources_api.h): id checks,
// scheduler wake-ups, audit rows and SQL time formatting.
//
// Contract:
//  - is_uuid(s): the canonical 8-4-4-4-12 hex form (either case).
//  - publish_wake(redis, id) publishes `id` on kSchedulerWakeChannel; a
//    failure is logged (warning) and otherwise ignored.
//  - write_audit(tx, ...) inserts one audit_log row in the caller's
//    transaction (actor from `actor`; empty ids are stored as NULL).
//  - sql_time(column) is an SQL expression rendering a timestamptz column as
//    RFC 3339 UTC text ("2026-11-28T19:13:48.123Z"), NULL when NULL.
//  - Functions here never throw except write_audit, which lets pqxx
//    exceptions reach PgPool::with_tx (which maps them to a Status).
#pragma once

#include <pqxx/pqxx>

#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <string_view>

#include "broker/principal.h"
#include "common/status.h"
#include "common/uuid.h"

namespace scn::redis {
class RedisClient;
}

namespace scn::broker {

inline constexpr std::string_view kSchedulerWakeChannel = "scn:scheduler:wake";

using common::is_uuid;  // common/uuid.h

void publish_wake(redis::RedisClient& redis, std::string_view id);

struct AuditEntry {
  std::string action;       // "service.create"
  std::string target_kind;  // "service"
  std::string target_id;
  std::string tenant_id;    // "" -> NULL
  std::string center_id;    // "" -> NULL
  boost::json::object details;
};
void write_audit(pqxx::work& tx, const Actor& actor, const AuditEntry& entry);

std::string sql_time(std::string_view column);

// A nullable text field as an optional.
std::optional<std::string> opt_text(const pqxx::field& f);

}  // namespace scn::broker
