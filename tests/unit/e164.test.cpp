#include <catch2/catch.hpp>

#include "actors/e164.hpp"

using namespace pbx;

namespace {

// New York: dials 011 abroad, 1 + area code nationally.
storage::e164_record us() {
  storage::e164_record c;
  c.enabled = true;
  c.international_code = "011";
  c.country_code = "1";
  c.area_code = "212";
  c.national_code = "1";
  c.remove_symbols = true;
  return c;
}

// London: 00 abroad, 0 + area code nationally.
storage::e164_record uk() {
  storage::e164_record c;
  c.enabled = true;
  c.international_code = "00";
  c.country_code = "44";
  c.area_code = "20";
  c.national_code = "0";
  c.remove_symbols = true;
  return c;
}

} // namespace

TEST_CASE("e164: validate names the field") {
  CHECK(e164::validate(storage::e164_record{}) == "");  // the defaults, disabled
  CHECK(e164::validate(us()) == "");
  CHECK(e164::validate(uk()) == "");
  auto c = us();
  c.country_code = "";
  CHECK(e164::validate(c) == "country_code: required when E.164 processing is enabled");
  c = us();
  c.international_code = "";
  CHECK(e164::validate(c) == "international_code: required when E.164 processing is enabled");
  c = us();
  c.country_code = "12345";
  CHECK(e164::validate(c) == "country_code: '12345' is not 1-4 digits");
  c = us();
  c.area_code = "2l2";
  CHECK(e164::validate(c) == "area_code: '2l2' is not 1-6 digits");
  c = us();
  c.national_code = "1234567";
  CHECK(e164::validate(c) == "national_code: '1234567' is not 1-6 digits");
  c = us();
  c.area_code = "";
  c.national_code = "";
  CHECK(e164::validate(c) == "");
  storage::e164_record off;
  off.international_code = "+00";
  CHECK(e164::validate(off) == "international_code: '+00' is not 1-6 digits");
}

TEST_CASE("e164: outgoing from New York") {
  auto c = us();
  CHECK(e164::outgoing(c, "+44 20 7946 0000") == "011442079460000");
  CHECK(e164::outgoing(c, "+1 (212) 555-0100") == "5550100");      // own area: local
  CHECK(e164::outgoing(c, "+1 (415) 555-0100") == "14155550100");  // own country: national
  CHECK(e164::outgoing(c, "+33 1 23 45 67 89") == "01133123456789");
  // Without '+': as dialled (symbols still go).
  CHECK(e164::outgoing(c, "011 44 20 7946 0000") == "011442079460000");
  CHECK(e164::outgoing(c, "555-0100") == "5550100");
  CHECK(e164::outgoing(c, "") == "");

  c.remove_duplicate_area = false;
  CHECK(e164::outgoing(c, "+12125550100") == "12125550100");
  c.remove_same_country = false;
  CHECK(e164::outgoing(c, "+12125550100") == "01112125550100");
}

TEST_CASE("e164: outgoing from London") {
  auto c = uk();
  CHECK(e164::outgoing(c, "+44 20 7946 0000") == "79460000");
  CHECK(e164::outgoing(c, "+44 161 496 0000") == "01614960000");
  CHECK(e164::outgoing(c, "+1 212 555 0100") == "0012125550100");
  // "+4420" followed by nothing of its own is not a local number.
  CHECK(e164::outgoing(c, "+4420") == "020");
}

TEST_CASE("e164: remove_symbols off keeps the text as written") {
  auto c = us();
  c.remove_symbols = false;
  CHECK(e164::outgoing(c, "+44 20 7946 0000") == "01144 20 7946 0000");
  CHECK(e164::outgoing(c, "+442079460000") == "011442079460000");
  CHECK(e164::outgoing(c, "(212) 555-0100") == "(212) 555-0100");
}

TEST_CASE("e164: disabled leaves numbers unchanged") {
  auto c = us();
  c.enabled = false;
  CHECK(e164::outgoing(c, "+44 20 7946 0000") == "+44 20 7946 0000");
  CHECK(e164::outgoing(c, "+12125550100") == "+12125550100");
  CHECK(e164::incoming(c, "011442079460000") == "011442079460000");
  CHECK(e164::incoming(c, "12125550100") == "12125550100");
}

TEST_CASE("e164: incoming to E.164") {
  auto c = us();
  CHECK(e164::incoming(c, "011442079460000") == "+442079460000");
  CHECK(e164::incoming(c, "12125550100") == "+12125550100");
  CHECK(e164::incoming(c, "2125550100") == "2125550100");      // no prefix: as it came
  CHECK(e164::incoming(c, "+442079460000") == "+442079460000");
  CHECK(e164::incoming(c, "911") == "911");
  CHECK(e164::incoming(c, "anonymous") == "anonymous");
  CHECK(e164::incoming(c, "") == "");

  auto u = uk();
  CHECK(e164::incoming(u, "00442079460000") == "+442079460000");
  CHECK(e164::incoming(u, "0012125550100") == "+12125550100");
  CHECK(e164::incoming(u, "02079460000") == "+442079460000");
  CHECK(e164::incoming(u, "07700900123") == "+447700900123");
  CHECK(e164::incoming(u, "0800") == "0800");     // short: +44800 is no number
  CHECK(e164::incoming(u, "00123") == "00123");   // short international stays, not +440123
  CHECK(e164::incoming(u, "999") == "999");
  CHECK(e164::incoming(u, "0044207946000012345") == "0044207946000012345");  // over 15 digits
}
