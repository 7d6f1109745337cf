#include "common/tls/pki.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>

#include "common/tls/openssl_util.h"
#include "common/uuid.h"

namespace scn::tls {
namespace detail {

std::string openssl_error(std::string_view context) {
  unsigned long code = ERR_get_error();
  std::string reason = "unknown error";
  if (code != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    reason = buf;
  }
  ERR_clear_error();
  return std::string(context) + ": " + reason;
}

std::optional<std::string> node_id_of(const X509* cert) {
  if (cert == nullptr) return std::nullopt;
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return std::nullopt;
  std::optional<std::string> found;
  for (int i = 0; i < sk_GENERAL_NAME_num(names) && !found; ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type != GEN_URI) continue;
    const ASN1_IA5STRING* uri = name->d.uniformResourceIdentifier;
    std::string_view text(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                          static_cast<std::size_t>(ASN1_STRING_length(uri)));
    if (text.substr(0, kNodeUriPrefix.size()) == kNodeUriPrefix) {
      std::string_view id = text.substr(kNodeUriPrefix.size());
      if (common::is_uuid(id)) found = std::string(id);
    }
  }
  GENERAL_NAMES_free(names);
  return found;
}

}  // namespace detail

namespace {

using detail::BioPtr;
using detail::openssl_error;
using detail::PkeyPtr;
using detail::X509Ptr;
namespace fs = std::filesystem;

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 64 || name == "ca") return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) return false;
  return name.front() != '.';
}

Result<PkeyPtr> generate_key(KeyType type) {
  EVP_PKEY* key = type == KeyType::kEcP256 ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048);
  if (key == nullptr) return Status::internal(openssl_error("generating a key"));
  return PkeyPtr(key);
}

Result<std::string> bio_text(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  if (n < 0) return Status::internal("reading an OpenSSL memory buffer");
  return std::string(data, static_cast<std::size_t>(n));
}

// Writes `text` to `path` with `mode` (also when the file existed before).
Status write_file(const std::string& path, const std::string& text, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Status::io_error("cannot write " + path + ": " + std::strerror(errno));
  bool ok = ::fchmod(fd, mode) == 0;
  std::size_t done = 0;
  while (ok && done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ok = false; else done += static_cast<std::size_t>(n);
  }
  int saved = errno;
  if (::close(fd) != 0) ok = false;
  if (!ok) return Status::io_error("cannot write " + path + ": " + std::strerror(saved));
  return Status::ok();
}

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::not_found("cannot read " + path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

Status write_key(const std::string& path, EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return Status::internal(openssl_error("encoding the key for " + path));
  SCN_ASSIGN_OR_RETURN(std::string pem, bio_text(bio.get()));
  return write_file(path, pem, 0600);
}

Status write_cert(const std::string& path, X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1)
    return Status::internal(openssl_error("encoding the certificate for " + path));
  SCN_ASSIGN_OR_RETURN(std::string pem, bio_text(bio.get()));
  return write_file(path, pem, 0644);
}

Result<X509Ptr> load_cert(const std::string& path) {
  SCN_ASSIGN_OR_RETURN(std::string pem, read_file(path));
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
  if (cert == nullptr) return Status::invalid_argument(openssl_error("no PEM certificate in " + path));
  return X509Ptr(cert);
}

Result<PkeyPtr> load_key(const std::string& path) {
  SCN_ASSIGN_OR_RETURN(std::string pem, read_file(path));
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (key == nullptr) return Status::invalid_argument(openssl_error("no PEM private key in " + path));
  return PkeyPtr(key);
}

// Adds one v3 extension written in openssl.cnf syntax.
Status add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr)
    return Status::invalid_argument(openssl_error(std::string("certificate extension ") +
                                                  OBJ_nid2sn(nid) + "=" + value));
  int rc = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (rc != 1) return Status::internal(openssl_error("adding a certificate extension"));
  return Status::ok();
}

// A certificate with subject CN=`cn`, a random serial, validity now-1h ..
// now+days, and the public key of `key`.
Result<X509Ptr> new_cert(const std::string& cn, EVP_PKEY* key, int days) {
  X509Ptr cert(X509_new());
  if (!cert) return Status::internal(openssl_error("X509_new"));
  X509_set_version(cert.get(), X509_VERSION_3);
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) return Status::internal(openssl_error("RAND_bytes"));
  serial[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  bool ok = bn != nullptr && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get())) != nullptr;
  BN_free(bn);
  ok = ok && X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) != nullptr;
  ok = ok && X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(days) * 86400) != nullptr;
  ok = ok && X509_set_pubkey(cert.get(), key) == 1;
  X509_NAME* subject = X509_get_subject_name(cert.get());
  ok = ok && X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                        reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                        0) == 1;
  if (!ok) return Status::internal(openssl_error("building a certificate"));
  return cert;
}

Status sign(X509* cert, EVP_PKEY* key) {
  if (X509_sign(cert, key, EVP_sha256()) <= 0) return Status::internal(openssl_error("signing"));
  return Status::ok();
}

}  // namespace

Result<KeyType> parse_key_type(std::string_view text) {
  if (text == "ec" || text == "p256" || text == "ec-p256") return KeyType::kEcP256;
  if (text == "rsa" || text == "rsa2048" || text == "rsa-2048") return KeyType::kRsa2048;
  return Status::invalid_argument("unknown key type '" + std::string(text) + "' (ec or rsa)");
}

Result<std::vector<std::string>> parse_sans(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    std::size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.empty()) continue;
    std::size_t colon = item.find(':');
    std::string_view kind = item.substr(0, colon);
    std::string_view value = colon == std::string_view::npos ? "" : item.substr(colon + 1);
    if (value.empty() || (kind != "DNS" && kind != "IP" && kind != "URI"))
      return Status::invalid_argument("bad SAN '" + std::string(item) +
                                      "' (expected DNS:<name>, IP:<address> or URI:<uri>)");
    if (kind == "IP") {
      boost::system::error_code ec;
      boost::asio::ip::make_address(std::string(value), ec);
      if (ec) return Status::invalid_argument("bad IP address in SAN '" + std::string(item) + "'");
    }
    out.emplace_back(item);
  }
  return out;
}

Result<IssuedFiles> init_ca(const CaOptions& options) {
  if (options.dir.empty()) return Status::invalid_argument("no --dir for the CA");
  if (options.days <= 0) return Status::invalid_argument("days must be positive");
  std::error_code ec;
  fs::create_directories(options.dir, ec);
  if (ec) return Status::io_error("cannot create " + options.dir + ": " + ec.message());
  IssuedFiles files{(fs::path(options.dir) / "ca.crt").string(),
                    (fs::path(options.dir) / "ca.key").string()};
  if (!options.overwrite && (fs::exists(files.cert_path) || fs::exists(files.key_path)))
    return Status::conflict("a CA already exists in " + options.dir + " (refusing to overwrite it)");
  SCN_ASSIGN_OR_RETURN(PkeyPtr key, generate_key(options.key_type));
  SCN_ASSIGN_OR_RETURN(X509Ptr cert, new_cert(options.common_name, key.get(), options.days));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get())) != 1)
    return Status::internal(openssl_error("setting the CA issuer"));
  SCN_RETURN_IF_ERROR(add_ext(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE"));
  SCN_RETURN_IF_ERROR(add_ext(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign"));
  SCN_RETURN_IF_ERROR(add_ext(cert.get(), cert.get(), NID_subject_key_identifier, "hash"));
  SCN_RETURN_IF_ERROR(sign(cert.get(), key.get()));
  SCN_RETURN_IF_ERROR(write_key(files.key_path, key.get()));
  SCN_RETURN_IF_ERROR(write_cert(files.cert_path, cert.get()));
  return files;
}

Result<IssuedFiles> issue_cert(const IssueOptions& options) {
  if (!valid_name(options.name))
    return Status::invalid_argument("bad certificate name '" + options.name +
                                    "' (letters, digits, '.', '_', '-'; not 'ca')");
  if (!options.node_id.empty() && !common::is_uuid(options.node_id))
    return Status::invalid_argument("node id '" + options.node_id + "' is not a UUID");
  if (options.days <= 0) return Status::invalid_argument("days must be positive");
  fs::path dir(options.dir);
  SCN_ASSIGN_OR_RETURN(X509Ptr ca_cert, load_cert((dir / "ca.crt").string()));
  SCN_ASSIGN_OR_RETURN(PkeyPtr ca_key, load_key((dir / "ca.key").string()));
  if (X509_check_private_key(ca_cert.get(), ca_key.get()) != 1)
    return Status::invalid_argument(openssl_error("ca.key does not match ca.crt in " + options.dir));

  SCN_ASSIGN_OR_RETURN(PkeyPtr key, generate_key(options.key_type));
  SCN_ASSIGN_OR_RETURN(X509Ptr cert, new_cert(options.name, key.get(), options.days));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get())) != 1)
    return Status::internal(openssl_error("setting the issuer"));
  X509* c = cert.get();
  SCN_RETURN_IF_ERROR(add_ext(c, ca_cert.get(), NID_basic_constraints, "critical,CA:FALSE"));
  SCN_RETURN_IF_ERROR(add_ext(c, ca_cert.get(), NID_key_usage,
                              options.key_type == KeyType::kRsa2048
                                  ? "critical,digitalSignature,keyEncipherment"
                                  : "critical,digitalSignature"));
  SCN_RETURN_IF_ERROR(
      add_ext(c, ca_cert.get(), NID_ext_key_usage, options.client ? "clientAuth" : "serverAuth"));
  SCN_RETURN_IF_ERROR(add_ext(c, ca_cert.get(), NID_subject_key_identifier, "hash"));
  SCN_RETURN_IF_ERROR(add_ext(c, ca_cert.get(), NID_authority_key_identifier, "keyid:always"));
  std::vector<std::string> sans;
  for (const auto& s : options.sans) {
    SCN_ASSIGN_OR_RETURN(auto parsed, parse_sans(s));
    sans.insert(sans.end(), parsed.begin(), parsed.end());
  }
  if (!options.node_id.empty()) sans.push_back("URI:" + std::string(kNodeUriPrefix) + options.node_id);
  if (!sans.empty()) {
    std::string joined;
    for (const auto& s : sans) joined += (joined.empty() ? "" : ",") + s;
    SCN_RETURN_IF_ERROR(add_ext(c, ca_cert.get(), NID_subject_alt_name, joined));
  }
  SCN_RETURN_IF_ERROR(sign(c, ca_key.get()));
  IssuedFiles files{(dir / (options.name + ".crt")).string(), (dir / (options.name + ".key")).string()};
  SCN_RETURN_IF_ERROR(write_key(files.key_path, key.get()));
  SCN_RETURN_IF_ERROR(write_cert(files.cert_path, c));
  return files;
}

Status verify_cert_file(const std::string& ca_path, const std::string& cert_path, bool client) {
  SCN_ASSIGN_OR_RETURN(X509Ptr ca, load_cert(ca_path));
  SCN_ASSIGN_OR_RETURN(X509Ptr cert, load_cert(cert_path));
  X509_STORE* store = X509_STORE_new();
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  Status result;
  if (store == nullptr || ctx == nullptr || X509_STORE_add_cert(store, ca.get()) != 1 ||
      X509_STORE_CTX_init(ctx, store, cert.get(), nullptr) != 1) {
    result = Status::internal(openssl_error("setting up verification"));
  } else {
    X509_STORE_CTX_set_purpose(ctx, client ? X509_PURPOSE_SSL_CLIENT : X509_PURPOSE_SSL_SERVER);
    if (X509_verify_cert(ctx) != 1)
      result = Status::permission_denied(
          cert_path + " does not verify against " + ca_path + ": " +
          X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
  }
  ERR_clear_error();
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return result;
}

Result<std::optional<std::string>> node_id_of_cert_pem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
  if (cert == nullptr) return Status::invalid_argument(openssl_error("not a PEM certificate"));
  X509Ptr owned(cert);
  return detail::node_id_of(cert);
}

}  // namespace scn::tls
