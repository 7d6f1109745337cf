// Helpers shared by common/tls/*.cpp (not for other folders): OpenSSL error
// text and owning pointers for OpenSSL objects.
//
// Contract:
//  - openssl_error(context) drains the thread's OpenSSL error queue and
//    returns "context: <reason>" (the first queued reason, or "unknown error").
//  - node_id_of(cert) returns the UUID of the first SAN URI "scn:node:<uuid>"
//    of `cert` (nullopt when none, or when `cert` is null).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

namespace scn::tls::detail {

std::string openssl_error(std::string_view context);

std::optional<std::string> node_id_of(const X509* cert);

struct BioFree { void operator()(BIO* b) const { BIO_free_all(b); } };
struct PkeyFree { void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); } };
struct X509Free { void operator()(X509* x) const { X509_free(x); } };
using BioPtr = std::unique_ptr<BIO, BioFree>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;

}  // namespace scn::tls::detail
