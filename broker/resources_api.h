// The broker's resource endpoints under /api/v1: services, nodes, catalog,
// pool and usage (docs/API.md, "The platform").
//
// Contract:
//  - add_resource_routes(router, ctx) adds every route below to `router`;
//    the handlers use ctx.pg and ctx.redis and must outlive nothing else.
//      services  (services_api.h): POST/GET /services, GET/DELETE
//                /services/{id}, POST /services/{id}/scale, .../stop
//      nodes     (nodes_api.h):    GET /nodes, GET/DELETE /nodes/{id},
//                POST /nodes/{id}/drain, .../undrain
//      catalog   (catalog_api.h):  GET /catalog/models, GET
//                /catalog/models/{name}, POST /catalog/import
//      pool      (pool_api.h):     GET /pool, GET /usage
//  - Every route is Access::kAuthenticated. Authorization follows
//    principal.h: a foreign or malformed id is 404, a role that may not use
//    the endpoint at all is 403.
//  - The broker writes only `services`, `nodes` status and audit rows; the
//    scheduler owns `replicas`. After every change to a service or node the
//    id is published on Redis channel `scn:scheduler:wake` (a failure to
//    publish is logged, not an error: the scheduler also polls).
//  - Every state change writes one audit_log row in the same transaction.
#pragma once

#include "broker/api_router.h"
#include "broker/broker_context.h"

namespace scn::broker {

void add_resource_routes(ApiRouter& router, BrokerContext& ctx);

}  // namespace scn::broker
