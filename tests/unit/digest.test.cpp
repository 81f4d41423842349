#include <catch2/catch.hpp>

#include "actors/digest.hpp"

using namespace pbx;

namespace {

digest_credentials rfc2617_example() {
  // RFC 2617 section 3.5.
  digest_credentials c;
  c.present = true;
  c.scheme = "Digest";
  c.username = "Mufasa";
  c.realm = "testrealm@host.com";
  c.nonce = "dcd98b7102dd2f0e8b11d0f600bfb0c093";
  c.uri = "/dir/index.html";
  c.qop = "auth";
  c.nc = "00000001";
  c.cnonce = "0a4f113b";
  return c;
}

} // namespace

TEST_CASE("md5 matches RFC 1321 test vectors") {
  CHECK(digest::md5_hex("") == "d41d8cd98f00b204e9800998ecf8427e");
  CHECK(digest::md5_hex("abc") == "900150983cd24fb0d6963f7d28e17f72");
  CHECK(digest::md5_hex("message digest") == "f96b697d7cb7938d525a2f31aaf161d0");
}

TEST_CASE("digest response matches the RFC 2617 example") {
  auto c = rfc2617_example();
  auto ha1 = digest::ha1("Mufasa", "testrealm@host.com", "Circle Of Life");
  CHECK(ha1 == "939e7578ed9e3c518a452acee763bce9");
  CHECK(digest::expected_response(ha1, "GET", c) == "6629fae49393a05397450978507c4ef1");
}

TEST_CASE("digest response without qop follows RFC 2069") {
  auto c = rfc2617_example();
  c.qop.clear();
  auto ha1 = digest::ha1("Mufasa", "testrealm@host.com", "Circle Of Life");
  auto ha2 = digest::md5_hex("GET:/dir/index.html");
  CHECK(digest::expected_response(ha1, "GET", c)
        == digest::md5_hex(ha1 + ":" + c.nonce + ":" + ha2));
}

TEST_CASE("nonces are bound to realm and secret and expire") {
  auto n = digest::make_nonce("secret", "a.test", 1000);
  CHECK(digest::check_nonce("secret", "a.test", n, 1000, 300) == digest::nonce_state::valid);
  CHECK(digest::check_nonce("secret", "a.test", n, 1300, 300) == digest::nonce_state::valid);
  CHECK(digest::check_nonce("secret", "a.test", n, 1301, 300) == digest::nonce_state::stale);
  CHECK(digest::check_nonce("other", "a.test", n, 1000, 300) == digest::nonce_state::invalid);
  // The per-thread MAC context is re-keyed back and forth.
  CHECK(digest::make_nonce("secret", "a.test", 1000) == n);
  CHECK(digest::make_nonce("other", "a.test", 1000) != n);
  CHECK(digest::check_nonce("secret", "a.test", n, 1000, 300) == digest::nonce_state::valid);
  CHECK(digest::check_nonce("secret", "b.test", n, 1000, 300) == digest::nonce_state::invalid);
  CHECK(digest::check_nonce("secret", "a.test", "garbage", 1000, 300)
        == digest::nonce_state::invalid);
  auto tampered = n;
  tampered[0] = tampered[0] == '1' ? '2' : '1';
  CHECK(digest::check_nonce("secret", "a.test", tampered, 1000, 300)
        == digest::nonce_state::invalid);
}

TEST_CASE("check: verdicts for a registrar") {
  const std::string secret = "s3cret", realm = "a.test";
  digest_credentials c;
  c.present = true;
  c.scheme = "Digest";
  c.username = "101";
  c.realm = realm;
  c.nonce = digest::make_nonce(secret, realm, 5000);
  c.uri = "sip:a.test";
  c.qop = "auth";
  c.nc = "00000001";
  c.cnonce = "abc";
  c.response = digest::expected_response(digest::ha1("101", realm, "pw101"), "REGISTER", c);
  auto check = [&](const digest_credentials& x, std::optional<std::string> pw,
                   std::int64_t now = 5010) {
    std::optional<std::string> h;
    if (pw)
      h = digest::ha1("101", realm, *pw);
    return digest::check(x, "101", realm, h, "REGISTER", secret, now, 300);
  };
  CHECK(check(c, std::string{"pw101"}) == digest::verdict::ok);
  CHECK(check(c, std::string{"wrong"}) == digest::verdict::forbidden);
  SECTION("an unknown user is treated like a wrong password") {
    CHECK(check(c, std::nullopt) == digest::verdict::forbidden);
  }
  SECTION("an expired nonce asks again with stale=true") {
    CHECK(check(c, std::string{"pw101"}, 9000) == digest::verdict::stale_challenge);
    CHECK(check(c, std::nullopt, 9000) == digest::verdict::stale_challenge);
  }
  SECTION("no credentials, another realm or scheme: a challenge") {
    digest_credentials none;
    CHECK(check(none, std::string{"pw101"}) == digest::verdict::challenge);
    auto other = c;
    other.realm = "b.test";
    CHECK(check(other, std::string{"pw101"}) == digest::verdict::challenge);
    auto basic = c;
    basic.scheme = "Basic";
    CHECK(check(basic, std::string{"pw101"}) == digest::verdict::challenge);
  }
  SECTION("credentials of another user are refused") {
    auto other = c;
    other.username = "102";
    CHECK(check(other, std::string{"pw101"}) == digest::verdict::forbidden);
  }
}
