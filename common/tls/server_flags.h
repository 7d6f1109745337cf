// The TLS flags every scn server takes (scn broker, scn scheduler, scn
// infer), declared once.
//
// Contract:
//  - add_server_tls_options() declares --tls-cert, --tls-key and
//    --tls-client-ca on `options` (environment SCN_TLS_CERT, SCN_TLS_KEY,
//    SCN_TLS_CLIENT_CA through common/config.h), writing into `config`.
//  - check_server_tls_options() validates the combination after parsing
//    (kInvalidArgument naming the flags) and that the files load (the
//    message names the file), so a server fails at start with a clear line.
#pragma once

#include "common/status.h"
#include "common/tls/config.h"

namespace scn::common {
class OptionSet;
}

namespace scn::tls {

void add_server_tls_options(common::OptionSet& options, ServerTlsConfig* config);

Status check_server_tls_options(const ServerTlsConfig& config);

}  // namespace scn::tls
