// Endpoints the web console needs beyond the resource API (docs/API.md,
// "Console").
//
// Contract:
//  - GET /api/v1/config (public, no credentials): {"scheduler_url",
//    "version"} - the scheduler URL agents join through (the broker's
//    --scheduler-url, "" when not given) and kScnVersion.
//  - GET /api/v1/pool/history[?minutes=60] (admins; others 403): the last
//    `minutes` (1..1440, else 400) whole minutes up to and including the
//    current one, oldest first, every minute present (zeros when idle):
//    {"minutes": N, "series": [{"minute", "requests", "prompt_tokens",
//    "completion_tokens"}], "nodes_lost": [{"id", "name", "center_id",
//    "center_name", "at", "reason"|null}]} - usage_records bucketed by the
//    minute of period_start; nodes whose status is 'lost' and which changed
//    within the window (newest first).
#pragma once

#include <string>
#include <string_view>

#include "broker/api_router.h"
#include "broker/broker_context.h"

namespace scn::broker {

inline constexpr std::string_view kScnVersion = "0.1.0";

struct ConsoleConfig {
  std::string scheduler_url;
};

void add_console_routes(ApiRouter& router, BrokerContext& ctx, ConsoleConfig config);

}  // namespace scn::broker
