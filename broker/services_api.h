// /api/v1/services: a tenant's model services (docs/API.md, "Services").
//
// Contract:
//  - Members (and API keys) act on their own tenant's services; an admin on
//    every tenant's (POST needs "tenant_id"; GET /services takes
//    ?tenant_id=). A member naming another tenant in tenant_id is 403;
//    operators get 403 on every route.
//  - POST validates the body (400 naming the field; 404 unknown model or
//    quantization; 409 weights not present, name taken; 422 replicas or
//    context out of range) and writes the service through ServicesStore.
//  - Foreign, deleted, unknown and malformed service ids are 404.
//  - Every change publishes the service id on scn:scheduler:wake.
#pragma once

#include "broker/api_router.h"
#include "broker/broker_context.h"

namespace scn::broker {

void add_service_routes(ApiRouter& router, BrokerContext& ctx);

}  // namespace scn::broker
