// SIP over TLS: libre's TLS transport with the node's certificate and the
// protocol floor and cipher suites of PortSIP's specification, set on the
// OpenSSL context libre wraps.

// libre was built with OpenSSL: its headers then declare tls_openssl_context
// and take SHA from OpenSSL (else re_sha.h clashes with <openssl/sha.h>).
#define USE_OPENSSL 1
#include "net/stack_impl.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace pbx::net {

namespace {

// TLS 1.2: forward secrecy and AEAD only, strongest first. TLS 1.3 keeps
// OpenSSL's suites (all AEAD).
constexpr const char* tls12_ciphers = "ECDHE-ECDSA-AES256-GCM-SHA384:"
                                      "ECDHE-RSA-AES256-GCM-SHA384:"
                                      "ECDHE-ECDSA-CHACHA20-POLY1305:"
                                      "ECDHE-RSA-CHACHA20-POLY1305:"
                                      "ECDHE-ECDSA-AES128-GCM-SHA256:"
                                      "ECDHE-RSA-AES128-GCM-SHA256";

// Never a passphrase prompt on the node's terminal (tls_cert.cpp refuses
// encrypted keys before this).
int no_passphrase(char*, int, int, void*) {
  return -1;
}

std::string ssl_reason() {
  const char* r = ERR_reason_error_string(ERR_peek_last_error());
  ERR_clear_error();
  return r ? r : "unknown OpenSSL error";
}

} // namespace

std::string tls_context(sip_stack::impl& s) {
  if (s.tls)
    return {};
  // No key file here: libre would read the certificate and the key from one file.
  if (int err = tls_alloc(&s.tls, TLS_METHOD_SSLV23, nullptr, nullptr))
    return std::string{"tls: "} + strerror(err);
  SSL_CTX* ctx = tls_openssl_context(s.tls);
  if (!ctx)
    return "tls: no OpenSSL context";
  SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
  const auto& cert = s.cfg.tls_cert_file;
  const auto& key = s.cfg.tls_key_file;
  if (SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1)
    return "TLS certificate " + cert + ": " + ssl_reason();
  if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1)
    return "TLS key " + key + ": " + ssl_reason();
  if (SSL_CTX_check_private_key(ctx) != 1)
    return "TLS key " + key + " does not belong to " + cert + ": " + ssl_reason();
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1
      || SSL_CTX_set_cipher_list(ctx, tls12_ciphers) != 1)
    return "tls: cannot set the protocol floor or the ciphers: " + ssl_reason();
  SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Phones bring no client certificate, or a vendor one we have no CA for:
  // none is asked for. libre 1.1.0 asks none either (checked); said here so
  // that stays true whatever libre's default becomes.
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  return {};
}

std::string tls_listen(sip_stack::impl& s, const struct sa& laddr) {
  if (auto err = tls_context(s); !err.empty())
    return err;
  if (int err = sip_transp_add(s.sip, SIP_TRANSP_TLS, &laddr, s.tls))
    return "cannot listen on TLS " + s.cfg.sip_tls_listen + ": " + strerror(err);
  widen_listen_backlog(laddr);
  return {};
}

} // namespace pbx::net
