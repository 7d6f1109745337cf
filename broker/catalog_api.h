// /api/v1/catalog: the model catalog (docs/API.md, "Catalog").
//
// Contract:
//  - GET /catalog/models and /catalog/models/{name}: every authenticated
//    caller; cards as catalog::card_view_json (404 for an unknown name).
//  - POST /catalog/import: admins only (403 otherwise). The body is a
//    catalog document (catalog_file.h), parsed with parse_catalog (400 with
//    its message) and imported with CatalogStore::import_catalog in one
//    transaction; file:// URIs must be absolute (the broker has no shared
//    folder to resolve them against: 400). Answers 200 with the import
//    summary; an audit row "catalog.import" is written after the import.
#pragma once

#include "broker/api_router.h"
#include "broker/broker_context.h"

namespace scn::broker {

void add_catalog_routes(ApiRouter& router, BrokerContext& ctx);

}  // namespace scn::broker
