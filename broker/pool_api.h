// /api/v1/pool and /api/v1/usage (docs/API.md, "Usage, pool, audit").
//
// Contract:
//  - GET /pool: admins only (403 otherwise). Per center (not retired): node
//    counts by status (ready, draining, lost) and devices of its ready and
//    draining nodes grouped by (kind, model, simulated): count (GPUs, or CPU
//    cores), memory_bytes (GPU: memory of each GPU x count; CPU: RAM),
//    used_count and used_memory_bytes (by replicas in scheduled, starting,
//    ready or stopping: GPU indices, or CPU threads, and reserved memory),
//    free_memory_bytes; "slurm_nodes" (its Slurm-managed nodes, not
//    removed), "degraded" (some of them report the Slurm controller
//    unreachable) and "degraded_reason" ("" when not degraded). Plus live
//    services by status and replicas by state.
//  - GET /usage[?service_id=&from=&to=&tenant_id=]: sums of usage_records
//    per service (records whose period_start is in [from, to)). Members
//    (and API keys) see their tenant only: tenant_id of another tenant is
//    403, a foreign or malformed service_id 404. Admins see all, or one
//    tenant. from/to are RFC 3339 times (400 when malformed). Operators 403.
//    Rows carry requests, prompt_tokens, cached_prompt_tokens and
//    completion_tokens. group_by: a comma-separated list of service (the
//    default), day ("day": UTC day of period_start, first), key
//    ("api_key_id", "api_key_name"), model ("model"), center ("center_id",
//    "center_name"); rows are always per tenant and service; ordered by day,
//    service name, key, model, center. Filters api_key_id, model, center_id
//    (malformed ids 400). format=csv: the same rows as text/csv (header
//    line, CRLF, RFC 4180 quoting, null empty) with Content-Disposition:
//    attachment; filename="usage.csv".
#pragma once

#include <boost/json/object.hpp>

#include "broker/api_router.h"
#include "broker/broker_context.h"

namespace scn::db {
class PgPool;
}

namespace scn::broker {

void add_pool_routes(ApiRouter& router, BrokerContext& ctx);

// The body of GET /pool (above), each device group also with "nodes" (how
// many nodes hold it). Shared by the API and `scn admin list pool`.
Result<boost::json::object> pool_overview(db::PgPool& pg);

}  // namespace scn::broker
