// Secrets and hashes through OpenSSL: random tokens, SHA-256, password KDF.
//
// Contract:
//  - sha256() returns the 32 raw digest bytes; to_hex() lower-case hex.
//  - new_secret(prefix) returns prefix + 43 characters of base64url (32 bytes
//    from OpenSSL's CSPRNG), e.g. "scn-key-3q2-..."; only its sha256() is
//    ever stored (api_keys, join_tokens, nodes, sessions).
//  - hash_password() derives a key with scrypt (EVP_PBE_scrypt) and a
//    random 16-byte salt, and encodes everything needed to check it again:
//    "scrypt$<log2 N>$<r>$<p>$<base64 salt>$<base64 key>". verify_password()
//    recomputes it with the encoded parameters and compares in constant time;
//    a malformed encoding verifies as false. Default cost N=2^15, r=8, p=1
//    (32 MiB, ~0.1 s); tests may pass a cheaper KdfParams.
//  - Failures of OpenSSL (which do not happen in practice) are kInternal.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/status.h"

namespace scn::crypto {

std::string sha256(std::string_view data);  // 32 raw bytes
std::string to_hex(std::string_view bytes);
// Unpadded base64url (RFC 4648 section 5).
std::string base64url(std::string_view bytes);

Result<std::string> random_bytes(std::size_t n);
Result<std::string> new_secret(std::string_view prefix, std::size_t bytes = 32);

// Equal length and equal bytes, in time independent of the contents.
bool constant_time_equals(std::string_view a, std::string_view b);

struct KdfParams {
  int log2_n = 15;
  int r = 8;
  int p = 1;
};

Result<std::string> hash_password(std::string_view password, const KdfParams& params = {});
bool verify_password(std::string_view password, std::string_view encoded);

}  // namespace scn::crypto
