// /api/v1/requests, /api/v1/prices and /api/v1/bills (docs/API.md,
// "Requests, prices and bills").
//
// Contract:
//  - GET /requests[?service_id=&tenant_id=&limit=&before_id=]: the request
//    log (sql/0005 request_log), newest first; members (and API keys) see
//    their own tenant's, admins all or one tenant's; operators 403. `limit`
//    1..1000 (default 100), `before_id` rows with a smaller id (paging);
//    malformed: 400. A malformed or foreign `service_id` 404; a member's
//    `tenant_id` of another tenant 403.
//    GET /requests/{request_id}: the latest row with that id among those
//    the caller may see; none (also another tenant's): 404.
//  - GET /prices: every price row (anyone logged in). PUT /prices (admin,
//    others 403): {"model" ("*" or a model name), "center_id"? (uuid or
//    null: every center), "prompt_per_million"?, "cached_prompt_per_million"?,
//    "completion_per_million"?, "replica_hour"?} -> 200 the row, inserted or
//    replaced (omitted prices are 0). Prices are non-negative finite numbers
//    or decimal strings with at most 12 integer and 6 fraction digits
//    (else 400 naming the field); unknown fields 400; an unknown center 404.
//    One audit row (`price.set`).
//  - GET /bills[?month=YYYY-MM&tenant_id=&format=json|csv]: the month's
//    (UTC; default the current one) bill: one line per (tenant, service,
//    model, center) with the requests and tokens of usage_records whose
//    period_start is in the month, the replica-hours of the service's
//    replicas on that center's nodes (each replica from ready_at to
//    stopped_at - or now while it runs - clipped to the month), the unit
//    prices that apply (prices.h) and the line's amount; `total` is the sum
//    of the lines' amounts. Money is exact: computed in PostgreSQL numeric
//    and rendered as decimal strings of CNY, amounts rounded half away from
//    zero to the fen (2 decimals) per line. Members: own tenant (another
//    tenant_id: 403); admins: all tenants or ?tenant_id= (malformed or
//    unknown: 404); operators 403. A malformed month or format: 400.
//    format=csv: RFC 4180 text/csv with Content-Disposition: attachment;
//    filename="bill-YYYY-MM.csv", the lines and a last line "total".
#pragma once

#include "broker/api_router.h"
#include "broker/broker_context.h"

namespace scn::broker {

void add_billing_routes(ApiRouter& router, BrokerContext& ctx);

// Parts, each in its own file.
void add_request_log_routes(ApiRouter& router, BrokerContext& ctx);  // requests_api.cpp
void add_price_routes(ApiRouter& router, BrokerContext& ctx);        // prices_api.cpp
void add_bill_routes(ApiRouter& router, BrokerContext& ctx);         // bills_api.cpp

}  // namespace scn::broker
