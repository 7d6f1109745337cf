#include "common/crypto/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include <charconv>
#include <vector>

namespace scn::crypto {
namespace {

constexpr std::size_t kSaltBytes = 16;
constexpr std::size_t kKeyBytes = 32;
constexpr std::uint64_t kMaxMem = 256ull << 20;

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(n < 0 ? 0 : static_cast<std::size_t>(n));
  return out;
}

bool unbase64(std::string_view text, std::string* out) {
  if (text.empty() || text.size() % 4 != 0) return false;
  std::string buf(text.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(buf.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return false;
  std::size_t pad = 0;
  if (text.back() == '=') ++pad;
  if (text.size() >= 2 && text[text.size() - 2] == '=') ++pad;
  buf.resize(static_cast<std::size_t>(n) - pad);
  *out = std::move(buf);
  return true;
}

bool derive(std::string_view password, std::string_view salt, const KdfParams& p,
            std::string* key) {
  if (p.log2_n < 1 || p.log2_n > 22 || p.r < 1 || p.r > 32 || p.p < 1 || p.p > 16) return false;
  key->assign(kKeyBytes, '\0');
  return EVP_PBE_scrypt(password.data(), password.size(),
                        reinterpret_cast<const unsigned char*>(salt.data()), salt.size(),
                        std::uint64_t{1} << p.log2_n, static_cast<std::uint64_t>(p.r),
                        static_cast<std::uint64_t>(p.p), kMaxMem,
                        reinterpret_cast<unsigned char*>(key->data()), key->size()) == 1;
}

bool parse_int(std::string_view s, int* out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

}  // namespace

std::string sha256(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // Fetched once: EVP_sha256() makes EVP_Digest look the algorithm up
  // (locks, a provider query) on every call, which cost more than the
  // digest of a short key.
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  EVP_Digest(data.data(), data.size(), digest, &len, md != nullptr ? md : EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(digest), len);
}

std::string to_hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::string base64url(std::string_view bytes) {
  std::string s = base64(bytes);
  while (!s.empty() && s.back() == '=') s.pop_back();
  for (char& c : s) {
    if (c == '+') c = '-';
    else if (c == '/') c = '_';
  }
  return s;
}

Result<std::string> random_bytes(std::size_t n) {
  std::string out(n, '\0');
  if (n > 0 && RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1)
    return Status::internal("the random number generator failed");
  return out;
}

Result<std::string> new_secret(std::string_view prefix, std::size_t bytes) {
  SCN_ASSIGN_OR_RETURN(std::string raw, random_bytes(bytes));
  return std::string(prefix) + base64url(raw);
}

bool constant_time_equals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Result<std::string> hash_password(std::string_view password, const KdfParams& params) {
  SCN_ASSIGN_OR_RETURN(std::string salt, random_bytes(kSaltBytes));
  std::string key;
  if (!derive(password, salt, params, &key)) return Status::internal("scrypt failed");
  return "scrypt$" + std::to_string(params.log2_n) + "$" + std::to_string(params.r) + "$" +
         std::to_string(params.p) + "$" + base64(salt) + "$" + base64(key);
}

bool verify_password(std::string_view password, std::string_view encoded) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    std::size_t pos = encoded.find('$', start);
    parts.push_back(encoded.substr(start, pos == std::string_view::npos ? pos : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  if (parts.size() != 6 || parts[0] != "scrypt") return false;
  KdfParams p;
  std::string salt, want, got;
  if (!parse_int(parts[1], &p.log2_n) || !parse_int(parts[2], &p.r) || !parse_int(parts[3], &p.p))
    return false;
  if (!unbase64(parts[4], &salt) || !unbase64(parts[5], &want) || want.size() != kKeyBytes)
    return false;
  if (!derive(password, salt, p, &got)) return false;
  return constant_time_equals(got, want);
}

}  // namespace scn::crypto
