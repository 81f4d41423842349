#pragma once
// HTTP digest (RFC 2617 / RFC 3261 section 22) for the registrar and, later,
// INVITE: stateless nonces that expire, and the check of a response.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "actors/messages/registration.hpp"

namespace pbx::digest {

std::string md5_hex(std::string_view data);

/// HA1 = MD5(user:realm:password).
std::string ha1(std::string_view user, std::string_view realm,
                std::string_view password);

/// The response a client with `ha1` must send (qop=auth, or RFC 2069 without qop).
std::string expected_response(std::string_view ha1, std::string_view method,
                              const digest_credentials& c);

/// A nonce naming its creation time, bound to `realm` by an HMAC of `secret`.
std::string make_nonce(std::string_view secret, std::string_view realm,
                       std::int64_t now);

enum class nonce_state { valid, stale, invalid };

nonce_state check_nonce(std::string_view secret, std::string_view realm,
                        std::string_view nonce, std::int64_t now,
                        std::uint32_t ttl);

enum class verdict {
  challenge,        // no usable credentials: 401 with a fresh nonce
  stale_challenge,  // right credentials shape but an expired nonce: stale=true
  forbidden,        // wrong password, wrong user, or unknown user: 403
  ok,
};

/// Checks `c` for `user` in `realm` against the user's stored HA1 (hex).
/// `ha1` is empty for an unknown user, who gets exactly the treatment a
/// known user with a wrong password gets.
verdict check(const digest_credentials& c, std::string_view user,
              std::string_view realm, const std::optional<std::string>& ha1,
              std::string_view method, std::string_view secret,
              std::int64_t now, std::uint32_t ttl);

} // namespace pbx::digest

namespace pbx::digest {

/// Fills `r` with the answer to a failed check (401 with a fresh nonce, or
/// 403); returns false when `v` is ok and there is nothing to answer.
bool fill_failure(verdict v, sip_reply& r, const std::string& realm,
                  std::string_view secret, std::int64_t now);

} // namespace pbx::digest
