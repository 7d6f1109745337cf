#include "broker/billing/billing_api.h"

namespace scn::broker {

void add_billing_routes(ApiRouter& router, BrokerContext& ctx) {
  add_request_log_routes(router, ctx);
  add_price_routes(router, ctx);
  add_bill_routes(router, ctx);
}

}  // namespace scn::broker
