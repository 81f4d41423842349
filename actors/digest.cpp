#include "actors/digest.hpp"

#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/hmac.h>
#include <openssl/params.h>

#include <cstdio>
#include <cstring>

namespace pbx::digest {

namespace {

std::string to_hex(const unsigned char* data, std::size_t len) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (std::size_t i = 0; i < len; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 0x0f];
  }
  return out;
}

// OpenSSL 3 looks an algorithm up on every one-shot call; fetch each once.
const EVP_MD* md5() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "MD5", nullptr);
  return md;
}

const EVP_MD* sha256() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

// HMAC() fetches the algorithm and builds a context on every call (it was
// 6% of the node under REGISTER load). Each thread keys one context once;
// EVP_MAC_init with no key restarts it with the key it has.
struct hmac_ctx {
  std::string key;
  EVP_MAC_CTX* ctx = nullptr;
  ~hmac_ctx() { EVP_MAC_CTX_free(ctx); }
};

std::string hmac_hex(std::string_view key, std::string_view data) {
  static EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  thread_local hmac_ctx h;
  unsigned char out[EVP_MAX_MD_SIZE];
  std::size_t len = 0;
  bool ok = mac != nullptr;
  if (ok && (h.ctx == nullptr || h.key != key)) {
    EVP_MAC_CTX_free(h.ctx);
    h.ctx = EVP_MAC_CTX_new(mac);
    char digest_name[] = "SHA256";
    OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
      OSSL_PARAM_construct_end()};
    ok = h.ctx != nullptr
         && EVP_MAC_init(h.ctx, reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                         params) == 1;
    h.key = ok ? std::string{key} : std::string{};
  } else if (ok) {
    ok = EVP_MAC_init(h.ctx, nullptr, 0, nullptr) == 1;
  }
  ok = ok && EVP_MAC_update(h.ctx, reinterpret_cast<const unsigned char*>(data.data()),
                            data.size()) == 1
       && EVP_MAC_final(h.ctx, out, &len, sizeof(out)) == 1;
  if (!ok) {
    // Fall back to the one-shot call rather than hand out a weak tag.
    unsigned int n = 0;
    HMAC(sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &n);
  }
  return to_hex(out, 16); // 128 bits are plenty for a nonce tag
}

bool equal_ci(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i]))
        != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

// Compares without an early exit, so timing says nothing about the secret.
bool equal_const_time(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<unsigned char>(
      std::tolower(static_cast<unsigned char>(a[i]))
      ^ std::tolower(static_cast<unsigned char>(b[i])));
  return diff == 0;
}

} // namespace

std::string md5_hex(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out, &len, md5(), nullptr);
  return to_hex(out, len);
}

std::string ha1(std::string_view user, std::string_view realm,
                std::string_view password) {
  std::string s;
  s.reserve(user.size() + realm.size() + password.size() + 2);
  s.append(user).append(":").append(realm).append(":").append(password);
  return md5_hex(s);
}

std::string expected_response(std::string_view ha1, std::string_view method,
                              const digest_credentials& c) {
  std::string a2;
  a2.append(method).append(":").append(c.uri);
  auto ha2 = md5_hex(a2);
  std::string kd;
  kd.append(ha1).append(":").append(c.nonce).append(":");
  if (!c.qop.empty())
    kd.append(c.nc).append(":").append(c.cnonce).append(":").append(c.qop).append(":");
  kd.append(ha2);
  return md5_hex(kd);
}

std::string make_nonce(std::string_view secret, std::string_view realm,
                       std::int64_t now) {
  char ts[24];
  std::snprintf(ts, sizeof(ts), "%llx", static_cast<unsigned long long>(now));
  std::string data = ts;
  data.append(":").append(realm);
  std::string nonce = ts;
  nonce += '.';
  nonce += hmac_hex(secret, data);
  return nonce;
}

nonce_state check_nonce(std::string_view secret, std::string_view realm,
                        std::string_view nonce, std::int64_t now,
                        std::uint32_t ttl) {
  auto dot = nonce.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot > 16)
    return nonce_state::invalid;
  std::string ts{nonce.substr(0, dot)};
  char* end = nullptr;
  auto created = static_cast<std::int64_t>(std::strtoull(ts.c_str(), &end, 16));
  if (end == nullptr || *end != '\0')
    return nonce_state::invalid;
  std::string data = ts;
  data.append(":").append(realm);
  if (!equal_const_time(nonce.substr(dot + 1), hmac_hex(secret, data)))
    return nonce_state::invalid;
  if (created > now + 5 || now - created > static_cast<std::int64_t>(ttl))
    return nonce_state::stale;
  return nonce_state::valid;
}

verdict check(const digest_credentials& c, std::string_view user,
              std::string_view realm, const std::optional<std::string>& stored_ha1,
              std::string_view method, std::string_view secret,
              std::int64_t now, std::uint32_t ttl) {
  if (!c.present || !equal_ci(c.scheme, "Digest") || c.realm != realm)
    return verdict::challenge;
  if (!c.algorithm.empty() && !equal_ci(c.algorithm, "MD5"))
    return verdict::challenge;
  if (!c.qop.empty() && c.qop != "auth")
    return verdict::challenge;
  switch (check_nonce(secret, realm, c.nonce, now, ttl)) {
    case nonce_state::invalid:
      return verdict::challenge;
    case nonce_state::stale:
      return verdict::stale_challenge;
    case nonce_state::valid:
      break;
  }
  if (!stored_ha1 || stored_ha1->empty() || c.username != user)
    return verdict::forbidden;
  auto expected = expected_response(*stored_ha1, method, c);
  return equal_const_time(expected, c.response) ? verdict::ok
                                                : verdict::forbidden;
}

} // namespace pbx::digest

namespace pbx::digest {

bool fill_failure(verdict v, sip_reply& r, const std::string& realm,
                  std::string_view secret, std::int64_t now) {
  switch (v) {
    case verdict::ok:
      return false;
    case verdict::forbidden:
      r.code = 403;
      r.reason = "Forbidden";
      return true;
    case verdict::challenge:
    case verdict::stale_challenge:
      r.code = 401;
      r.reason = "Unauthorized";
      r.challenge_realm = realm;
      r.challenge_nonce = make_nonce(secret, realm, now);
      r.stale = v == verdict::stale_challenge;
      return true;
  }
  return false;
}

} // namespace pbx::digest
