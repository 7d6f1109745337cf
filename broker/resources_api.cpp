#include "broker/resources_api.h"

#include "broker/catalog_api.h"
#include "broker/nodes_api.h"
#include "broker/pool_api.h"
#include "broker/services_api.h"

namespace scn::broker {

void add_resource_routes(ApiRouter& router, BrokerContext& ctx) {
  add_service_routes(router, ctx);
  add_node_routes(router, ctx);
  add_catalog_routes(router, ctx);
  add_pool_routes(router, ctx);
}

}  // namespace scn::broker
