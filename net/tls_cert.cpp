#include "net/tls_cert.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <utility>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace pbx::net {

namespace {

template <class T, auto Free>
struct openssl_delete {
  void operator()(T* p) const { Free(p); }
};
using x509_ptr = std::unique_ptr<X509, openssl_delete<X509, X509_free>>;
using pkey_ptr = std::unique_ptr<EVP_PKEY, openssl_delete<EVP_PKEY, EVP_PKEY_free>>;
using bio_ptr = std::unique_ptr<BIO, openssl_delete<BIO, BIO_free_all>>;
using bn_ptr = std::unique_ptr<BIGNUM, openssl_delete<BIGNUM, BN_free>>;

// OpenSSL's reason for the last failure on this thread; clears the queue.
std::string ssl_reason() {
  const char* r = ERR_reason_error_string(ERR_peek_last_error());
  ERR_clear_error();
  return r ? r : "unknown OpenSSL error";
}

// A passphrase is never asked for: without it OpenSSL would prompt on the
// node's terminal. Encrypted keys are refused with a clear message instead.
int no_passphrase(char*, int, int, void*) {
  return -1;
}

std::string read_text(const std::string& path, std::string& out) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f)
    return std::strerror(errno);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
    out.append(buf, n);
    if (out.size() > (1u << 20)) {
      std::fclose(f);
      return "larger than 1 MiB, not a PEM file";
    }
  }
  int err = std::ferror(f) ? errno : 0;
  std::fclose(f);
  return err ? std::strerror(err) : std::string{};
}

bio_ptr memory_bio(const std::string& text) {
  return bio_ptr{BIO_new_mem_buf(text.data(), static_cast<int>(text.size()))};
}

std::string bio_text(BIO* b) {
  char* p = nullptr;
  long n = BIO_get_mem_data(b, &p);
  return n > 0 ? std::string{p, static_cast<size_t>(n)} : std::string{};
}

bool exists(const std::string& path, std::string& error) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0)
    return true;
  if (errno != ENOENT)
    error = path + ": " + std::strerror(errno);
  return false;
}

// Creates `path` (never replacing a file) and writes what `write` puts into it.
template <class F>
std::string write_new(const std::string& path, mode_t mode, F write) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0)
    return "cannot create " + path + ": " + std::strerror(errno);
  ::fchmod(fd, mode); // exactly this mode, whatever the umask
  FILE* f = ::fdopen(fd, "w");
  if (!f) {
    ::close(fd);
    ::unlink(path.c_str());
    return "cannot write " + path + ": " + std::strerror(errno);
  }
  bool ok = write(f) == 1;
  std::string reason = ok ? std::string{} : ssl_reason();
  ok = ok && std::fflush(f) == 0 && ::fsync(fd) == 0;
  if (std::fclose(f) != 0)
    ok = false;
  if (!ok) {
    ::unlink(path.c_str());
    return "cannot write " + path + ": " + (reason.empty() ? std::strerror(errno) : reason);
  }
  return {};
}

bool is_ip(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1
         || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

bool add_ext(X509* x, X509V3_CTX* ctx, int nid, const std::string& value) {
  X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str());
  if (!e)
    return false;
  bool ok = X509_add_ext(x, e, -1) == 1;
  X509_EXTENSION_free(e);
  return ok;
}

} // namespace

std::string write_self_signed(const std::string& cert_file, const std::string& key_file,
                              const std::string& host, int days) {
  // RSA rather than EC: older desk phones accept only RSA server certificates.
  pkey_ptr key{EVP_RSA_gen(2048)};
  x509_ptr x{X509_new()};
  if (!key || !x)
    return "cannot generate a key: " + ssl_reason();
  // A random positive 127-bit serial: two generated certificates never collide.
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1)
    return "no random bytes: " + ssl_reason();
  serial[0] &= 0x7f;
  bn_ptr bn{BN_bin2bn(serial, sizeof serial, nullptr)};
  X509_NAME* name = X509_get_subject_name(x.get());
  // A day back: a phone whose clock lags still accepts it at once.
  bool ok = bn && X509_set_version(x.get(), X509_VERSION_3)
            && BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(x.get()))
            && X509_gmtime_adj(X509_getm_notBefore(x.get()), -24 * 3600)
            && X509_time_adj_ex(X509_getm_notAfter(x.get()), days, 0, nullptr)
            && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                          reinterpret_cast<const unsigned char*>(host.c_str()),
                                          -1, -1, 0)
            && X509_set_issuer_name(x.get(), name) && X509_set_pubkey(x.get(), key.get());
  if (ok) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x.get(), x.get(), nullptr, nullptr, 0);
    ok = add_ext(x.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE")
         && add_ext(x.get(), &ctx, NID_key_usage, "critical,digitalSignature,keyEncipherment")
         && add_ext(x.get(), &ctx, NID_ext_key_usage, "serverAuth")
         && add_ext(x.get(), &ctx, NID_subject_key_identifier, "hash")
         // Clients check the name against subjectAltName, not the CN.
         && add_ext(x.get(), &ctx, NID_subject_alt_name,
                    (is_ip(host) ? "IP:" : "DNS:") + host)
         && X509_sign(x.get(), key.get(), EVP_sha256()) > 0;
  }
  if (!ok)
    return "cannot build a certificate for '" + host + "': " + ssl_reason();
  if (auto e = write_new(key_file, 0600, [&](FILE* f) {
        return PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
      });
      !e.empty())
    return e;
  if (auto e = write_new(cert_file, 0644, [&](FILE* f) { return PEM_write_X509(f, x.get()); });
      !e.empty()) {
    ::unlink(key_file.c_str()); // no key without its certificate
    return e;
  }
  return {};
}

std::string check_identity(const std::string& cert_file, const std::string& key_file,
                           tls_identity& out) {
  out.cert_file = cert_file;
  out.key_file = key_file;
  std::string cert_text, key_text;
  if (auto e = read_text(cert_file, cert_text); !e.empty())
    return "TLS certificate " + cert_file + ": " + e;
  x509_ptr x{PEM_read_bio_X509(memory_bio(cert_text).get(), nullptr, no_passphrase, nullptr)};
  if (!x) {
    ERR_clear_error();
    return "TLS certificate " + cert_file + ": no PEM certificate in it";
  }
  if (key_file == cert_file)
    key_text = cert_text;
  else if (auto e = read_text(key_file, key_text); !e.empty())
    return "TLS key " + key_file + ": " + e;
  pkey_ptr key{PEM_read_bio_PrivateKey(memory_bio(key_text).get(), nullptr, no_passphrase,
                                       nullptr)};
  if (!key) {
    ERR_clear_error();
    if (key_text.find("ENCRYPTED") != std::string::npos)
      return "TLS key " + key_file + ": encrypted; give the key without a passphrase";
    return "TLS key " + key_file + ": no PEM private key in it";
  }
  if (X509_check_private_key(x.get(), key.get()) != 1) {
    ERR_clear_error();
    return "TLS key " + key_file + " does not belong to the certificate in " + cert_file;
  }
  bio_ptr b{BIO_new(BIO_s_mem())};
  X509_NAME_print_ex(b.get(), X509_get_subject_name(x.get()), 0, XN_FLAG_ONELINE);
  out.subject = bio_text(b.get());
  b.reset(BIO_new(BIO_s_mem()));
  ASN1_TIME_print(b.get(), X509_get0_notAfter(x.get()));
  out.not_after = bio_text(b.get());
  out.expired = X509_cmp_current_time(X509_get0_notAfter(x.get())) <= 0
                || X509_cmp_current_time(X509_get0_notBefore(x.get())) >= 0;
  return {};
}

std::string prepare_identity(const std::string& cert, const std::string& key,
                             const std::string& data_dir, const std::string& host,
                             tls_identity& out) {
  out = {};
  if (!cert.empty())
    return check_identity(cert, key.empty() ? cert : key, out);
  auto dir = data_dir + "/tls";
  auto cert_path = dir + "/cert.pem", key_path = dir + "/key.pem";
  std::string error;
  bool have_cert = exists(cert_path, error), have_key = exists(key_path, error);
  if (!error.empty())
    return "TLS certificate: " + error;
  if (have_cert != have_key) {
    auto [there, missing] = have_cert ? std::pair{cert_path, key_path}
                                       : std::pair{key_path, cert_path};
    return missing + " is missing beside " + there + ": restore it, or remove " + there
           + " to have a new self-signed certificate made";
  }
  if (!have_cert) {
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
      return "cannot create " + dir + ": " + std::strerror(errno);
    if (auto e = write_self_signed(cert_path, key_path, host, 10 * 365); !e.empty())
      return e;
    out.generated = true;
  }
  bool generated = out.generated;
  auto e = check_identity(cert_path, key_path, out);
  out.generated = generated;
  return e;
}

} // namespace pbx::net
