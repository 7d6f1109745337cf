// /api/v1/nodes: the machines of the centers (docs/API.md, "Nodes").
//
// Contract:
//  - Admins see every node; an operator only the nodes of their center
//    (another center's node is 404, ?center_id= of another center 403);
//    members get 403 on every route. Removed nodes are not listed and are
//    404 everywhere.
//  - `alive` is whether Redis holds scn:node:{id}:alive; when Redis cannot
//    be asked, whether the last heartbeat is under 10 s old.
//  - drain: ready|draining -> draining (409 from lost); undrain: draining ->
//    ready only (409 otherwise); DELETE: any -> removed (204). Each change
//    bumps nodes.version (so a concurrent binding on the node conflicts),
//    writes an audit row in the same transaction and publishes the node id
//    on scn:scheduler:wake.
//  - Each node has "managed_by" ("agent" or "slurm") and "slurm": null for
//    plain agents, else {"node","partition","state","reason","controller"}
//    (Slurm's last view, sql_slurm_view()).
#pragma once

#include <string>
#include <string_view>

#include "broker/api_router.h"
#include "broker/broker_context.h"

namespace scn::broker {

void add_node_routes(ApiRouter& router, BrokerContext& ctx);

// An SQL expression (text, NULL for plain agents) of a node's "slurm" JSON
// object {"node","partition","state","reason","controller"}; `alias` names
// the nodes table ("n").
std::string sql_slurm_view(std::string_view alias);

}  // namespace scn::broker
