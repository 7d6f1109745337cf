#include "common/tls/server_flags.h"

#include "common/config.h"
#include "common/tls/context.h"

namespace scn::tls {

void add_server_tls_options(common::OptionSet& options, ServerTlsConfig* config) {
  options.add("tls-cert", &config->cert_file, "serve TLS with this certificate chain (PEM, leaf first)")
      .add("tls-key", &config->key_file, "the TLS certificate's private key (PEM)")
      .add("tls-client-ca", &config->client_ca_file,
           "verify client certificates against this CA (mTLS; needs --tls-cert)");
}

Status check_server_tls_options(const ServerTlsConfig& config) {
  SCN_RETURN_IF_ERROR(config.validate());
  if (!config.enabled()) return Status::ok();
  auto ctx = make_server_context(config);
  return ctx.is_ok() ? Status::ok() : ctx.status();
}

}  // namespace scn::tls
