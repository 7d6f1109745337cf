#include "common/tls/context.h"

#include <filesystem>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/error.hpp>

#include "common/tls/openssl_util.h"

namespace scn::tls {
namespace {

namespace ssl = boost::asio::ssl;

// Checks that `path` names a readable file, for a clear message.
Status check_file(std::string_view what, const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    return Status::invalid_argument("cannot load TLS " + std::string(what) + " " + path +
                                    ": no such file");
  return Status::ok();
}

Status load_error(std::string_view what, const std::string& path,
                  const boost::system::error_code& ec) {
  std::string reason = detail::openssl_error("");
  if (reason == ": unknown error") reason = ": " + ec.message();
  return Status::invalid_argument("cannot load TLS " + std::string(what) + " " + path + reason);
}

Status load_identity(ssl::context& ctx, const std::string& cert, const std::string& key) {
  SCN_RETURN_IF_ERROR(check_file("certificate", cert));
  SCN_RETURN_IF_ERROR(check_file("key", key));
  boost::system::error_code ec;
  ctx.use_certificate_chain_file(cert, ec);
  if (ec) return load_error("certificate", cert, ec);
  ctx.use_private_key_file(key, ssl::context::pem, ec);
  if (ec) {
    Status st = load_error("key", key, ec);
    if (st.message().find("mismatch") != std::string::npos)
      return Status::invalid_argument(st.message() + " (the key does not match certificate " +
                                      cert + ")");
    return st;
  }
  if (SSL_CTX_check_private_key(ctx.native_handle()) != 1)
    return Status::invalid_argument(
        detail::openssl_error("TLS key " + key + " does not match certificate " + cert));
  return Status::ok();
}

constexpr auto kOptions = ssl::context::default_workarounds | ssl::context::no_sslv2 |
                          ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                          ssl::context::no_tlsv1_1 | ssl::context::single_dh_use;

}  // namespace

Status ServerTlsConfig::validate() const {
  if (cert_file.empty() != key_file.empty())
    return Status::invalid_argument("--tls-cert and --tls-key go together");
  if (!client_ca_file.empty() && cert_file.empty())
    return Status::invalid_argument("--tls-client-ca needs --tls-cert and --tls-key");
  return Status::ok();
}

Status ClientTlsConfig::validate() const {
  if (cert_file.empty() != key_file.empty())
    return Status::invalid_argument("--tls-cert and --tls-key (client certificate) go together");
  return Status::ok();
}

Result<SslContextPtr> make_server_context(const ServerTlsConfig& config) {
  SCN_RETURN_IF_ERROR(config.validate());
  if (!config.enabled()) return Status::invalid_argument("no TLS certificate configured");
  try {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    ctx->set_options(kOptions);
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
    SCN_RETURN_IF_ERROR(load_identity(*ctx, config.cert_file, config.key_file));
    // Resumed sessions of verified clients need a session id context.
    static constexpr unsigned char kSessionContext[] = "scn";
    SSL_CTX_set_session_id_context(ctx->native_handle(), kSessionContext, sizeof kSessionContext - 1);
    if (!config.client_ca_file.empty()) {
      SCN_RETURN_IF_ERROR(check_file("client CA", config.client_ca_file));
      boost::system::error_code ec;
      ctx->load_verify_file(config.client_ca_file, ec);
      if (ec) return load_error("client CA", config.client_ca_file, ec);
      STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(config.client_ca_file.c_str());
      if (names != nullptr) SSL_CTX_set_client_CA_list(ctx->native_handle(), names);
      ctx->set_verify_mode(config.client_cert_optional
                               ? ssl::verify_peer
                               : ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    }
    ERR_clear_error();
    return ctx;
  } catch (const std::exception& e) {
    return Status::internal(std::string("creating the TLS server context: ") + e.what());
  }
}

Result<SslContextPtr> make_client_context(const ClientTlsConfig& config) {
  SCN_RETURN_IF_ERROR(config.validate());
  try {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
    ctx->set_options(kOptions);
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
    boost::system::error_code ec;
    if (config.ca_file.empty()) {
      ctx->set_default_verify_paths(ec);
      if (ec) return Status::internal("loading the system CA store: " + ec.message());
    } else {
      SCN_RETURN_IF_ERROR(check_file("CA", config.ca_file));
      ctx->load_verify_file(config.ca_file, ec);
      if (ec) return load_error("CA", config.ca_file, ec);
    }
    ctx->set_verify_mode(ssl::verify_peer);
    if (!config.cert_file.empty())
      SCN_RETURN_IF_ERROR(load_identity(*ctx, config.cert_file, config.key_file));
    ERR_clear_error();
    return ctx;
  } catch (const std::exception& e) {
    return Status::internal(std::string("creating the TLS client context: ") + e.what());
  }
}

Status prepare_client_ssl(SSL* ssl, std::string_view host) {
  std::string h(host);
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  boost::system::error_code ec;
  boost::asio::ip::make_address(h, ec);
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  if (!ec) {
    if (X509_VERIFY_PARAM_set1_ip_asc(param, h.c_str()) != 1)
      return Status::invalid_argument(detail::openssl_error("bad IP address " + h));
    return Status::ok();
  }
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (X509_VERIFY_PARAM_set1_host(param, h.c_str(), h.size()) != 1 ||
      SSL_set_tlsext_host_name(ssl, h.c_str()) != 1)
    return Status::invalid_argument(detail::openssl_error("bad TLS host name " + h));
  return Status::ok();
}

std::string handshake_error(const boost::system::error_code& ec, SSL* ssl, std::string_view peer) {
  std::string message = "TLS handshake with " + std::string(peer) + " failed: ";
  long verify = ssl != nullptr ? SSL_get_verify_result(ssl) : X509_V_OK;
  if (verify != X509_V_OK) {
    message += std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify);
    if (verify == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
        verify == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ||
        verify == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
        verify == X509_V_ERR_CERT_SIGNATURE_FAILURE)
      message += " (is --ca the CA that signed the server's certificate?)";
    else if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH)
      message += " (the certificate's SANs do not name this host; reissue it with --san)";
  } else {
    message += ec.message();
    if (ec == boost::asio::ssl::error::stream_truncated || ec.message().find("alert") != std::string::npos)
      message += " (the server may require a client certificate: --tls-cert/--tls-key)";
  }
  ERR_clear_error();
  return message;
}

std::optional<std::string> peer_node_id(SSL* ssl) {
  if (ssl == nullptr) return std::nullopt;
  X509* cert = SSL_get1_peer_certificate(ssl);
  detail::X509Ptr owned(cert);
  return detail::node_id_of(cert);
}

Status check_node_binding(const std::optional<std::string>& cert_node_id, std::string_view node_id) {
  if (!cert_node_id)
    return Status::permission_denied("the client certificate is not bound to a node (no SAN URI scn:node:<uuid>)");
  if (*cert_node_id != node_id)
    return Status::permission_denied("the client certificate is bound to node " + *cert_node_id +
                                     ", not to node " + std::string(node_id));
  return Status::ok();
}

}  // namespace scn::tls
