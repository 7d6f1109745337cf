// A private certificate authority for scn's TLS (OpenSSL 3 EVP/X509 APIs).
//
// Contract:
//  - init_ca() creates `dir` (if needed) and writes a CA: `ca.key` (PEM,
//    mode 0600) and `ca.crt` (self-signed, X.509 v3, basicConstraints
//    CA:TRUE, keyUsage keyCertSign+cRLSign). It refuses to overwrite an
//    existing CA unless `overwrite` is set.
//  - issue_cert() signs a new key pair with the CA of `dir`, writing
//    `<dir>/<name>.key` (0600) and `<dir>/<name>.crt`. Server certificates
//    carry extendedKeyUsage serverAuth, client certificates clientAuth.
//    `sans` are "DNS:<name>", "IP:<address>" or "URI:<uri>" entries. A
//    `node_id` (a UUID, client certificates of agents) is added as the SAN
//    URI "scn:node:<uuid>" — see node_id_of_cert().
//  - Names are [A-Za-z0-9._-]+. Every failure is a Status whose message names
//    the file or field and the OpenSSL reason.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace scn::tls {

enum class KeyType { kEcP256, kRsa2048 };

// "ec" / "p256" -> kEcP256, "rsa" / "rsa2048" -> kRsa2048.
Result<KeyType> parse_key_type(std::string_view text);

// The SAN URI prefix binding a client certificate to a node.
inline constexpr std::string_view kNodeUriPrefix = "scn:node:";

struct CaOptions {
  std::string dir;
  std::string common_name = "scn private CA";
  KeyType key_type = KeyType::kEcP256;
  int days = 3650;
  bool overwrite = false;
};

struct IssueOptions {
  std::string dir;                 // holds ca.crt and ca.key
  std::string name;                // file stem and subject CN
  std::vector<std::string> sans;   // "DNS:localhost", "IP:127.0.0.1", "URI:..."
  bool client = false;             // clientAuth instead of serverAuth
  std::string node_id;             // optional: SAN URI scn:node:<uuid>
  KeyType key_type = KeyType::kEcP256;
  int days = 825;
};

struct IssuedFiles {
  std::string cert_path;
  std::string key_path;
};

// Writes <dir>/ca.key and <dir>/ca.crt; returns their paths.
Result<IssuedFiles> init_ca(const CaOptions& options);

// Issues <dir>/<name>.crt and <dir>/<name>.key signed by the CA in `dir`.
Result<IssuedFiles> issue_cert(const IssueOptions& options);

// Splits "DNS:a,IP:1.2.3.4" into entries and checks each ("DNS:", "IP:",
// "URI:" prefixes; IP addresses must parse).
Result<std::vector<std::string>> parse_sans(std::string_view text);

// Verifies the certificate in `cert_path` against the CA in `ca_path`
// (chain, validity dates, purpose: client or server).
Status verify_cert_file(const std::string& ca_path, const std::string& cert_path, bool client);

// The node id bound to a PEM certificate (its SAN URI scn:node:<uuid>), or
// nullopt when it carries none. Errors: the PEM does not parse.
Result<std::optional<std::string>> node_id_of_cert_pem(std::string_view pem);

}  // namespace scn::tls
