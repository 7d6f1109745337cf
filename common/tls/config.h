// TLS settings of scn's servers and clients, as plain data (no Asio or
// OpenSSL headers: ServerOptions in common/http/server.h holds one).
//
// Contract:
//  - ServerTlsConfig: a certificate chain and its key turn TLS on. With a
//    client CA, client certificates signed by it are verified; they are
//    required during the handshake unless `client_cert_optional` is set (a
//    client without one then connects, one with a bad one still fails).
//  - ClientTlsConfig: the CA a client trusts (empty: the system store) and
//    an optional client certificate presented to servers that ask.
//  - validate() checks that the files come in the required combinations;
//    loading them is common/tls/context.h.
#pragma once

#include <string>

#include "common/status.h"

namespace scn::tls {

struct ServerTlsConfig {
  std::string cert_file;       // --tls-cert: PEM chain (leaf first)
  std::string key_file;        // --tls-key
  std::string client_ca_file;  // --tls-client-ca: verify client certificates (mTLS)
  bool client_cert_optional = false;  // with a client CA: a client may present none
  bool enabled() const { return !cert_file.empty(); }
  // Both cert and key, or neither; a client CA only with them.
  Status validate() const;
};

struct ClientTlsConfig {
  std::string ca_file;    // --ca: trusted CA (empty: the system store)
  std::string cert_file;  // --tls-cert: client certificate (optional)
  std::string key_file;   // --tls-key
  Status validate() const;
};

}  // namespace scn::tls
