#include <catch2/catch.hpp>

#include "actors/inbound_rule.hpp"

using namespace pbx;
using storage::inbound_destination;
using storage::inbound_rule_record;

namespace {

inbound_destination dest(std::string kind, std::string value = "") {
  inbound_destination d;
  d.kind = std::move(kind);
  d.value = std::move(value);
  return d;
}

inbound_rule_record rule(std::string name, std::string did, std::string mask = "",
                         std::string trunk = "carrier") {
  inbound_rule_record r;
  r.domain = "example.test";
  r.name = std::move(name);
  r.trunk = std::move(trunk);
  r.did_numbers = std::move(did);
  r.cid_number_mask = std::move(mask);
  r.office = dest("extension", "101");
  r.outside = dest("voicemail", "101");
  r.holiday = dest("hangup");
  return r;
}

storage::trunk_record trunk(std::string pool = "1000-2000; 5551230001") {
  storage::trunk_record t;
  t.domain = "example.test";
  t.name = "carrier";
  t.did_pool = std::move(pool);
  return t;
}

inbound_rule::call in(std::string did, std::string cid = "15551239999",
                      std::string trunk_name = "carrier") {
  inbound_rule::call c;
  c.trunk = std::move(trunk_name);
  c.did = std::move(did);
  c.cid = std::move(cid);
  return c;
}

} // namespace

TEST_CASE("inbound_rule: validate names the field") {
  auto t = trunk();
  CHECK(inbound_rule::validate(rule("main", "1005"), t) == "");
  CHECK(inbound_rule::validate(rule("block", "1000-1099"), t) == "");

  CHECK(inbound_rule::validate(rule("x", "1005", "", ""), t)
        == "trunk: a rule names exactly one trunk");
  CHECK(inbound_rule::validate(rule("x", "1005", "", "other"), t)
        == "trunk: the rule names 'other', not 'carrier'");
  CHECK(inbound_rule::validate(rule("x", ""), t)
        == "did_numbers: a DID or a DID range is required");
  CHECK(inbound_rule::validate(rule("x", "1005;1006"), t)
        == "did_numbers: one DID or one range, not a list");
  CHECK(inbound_rule::validate(rule("x", "10a5"), t) == "did_numbers: '10a5': digits only");
  CHECK(inbound_rule::validate(rule("x", "1990-2010"), t)
        == "did_numbers: 1990-2010 is not inside the DID pool of trunk carrier "
           "(1000-2000;5551230001)");
  CHECK(inbound_rule::validate(rule("x", "5551230002"), t)
        == "did_numbers: 5551230002 is not inside the DID pool of trunk carrier "
           "(1000-2000;5551230001)");
  CHECK(inbound_rule::validate(rule("x", "1005"), trunk(""))
        == "did_numbers: trunk carrier has no DID pool");
  CHECK(inbound_rule::validate(rule("x", "1005"), trunk("0100"))
        == "did_numbers: the DID pool of trunk carrier is invalid: '0100': a DID may not start "
           "with '+', '0' or '00'");
  CHECK(inbound_rule::validate(rule("x", "1005", "0044**x"), t)
        == "cid_number_mask: '0044**x': digits and '*' only (one '*' per digit), after an "
           "optional '+'");

  auto r = rule("x", "1000-1099");
  r.office = dest("range", "200-299");
  CHECK(inbound_rule::validate(r, t) == "");
  r.office = dest("range", "200-298");
  CHECK(inbound_rule::validate(r, t) == "office: range 200-298 holds 99 extensions, the DIDs 100");
  r.office = dest("extension", "101");
  r.outside = dest("queue", "8000");
  CHECK(inbound_rule::validate(r, t)
        == "outside: 'queue' is not extension, voicemail, hangup, number or range");
  r.outside = dest("voicemail", "");
  CHECK(inbound_rule::validate(r, t) == "outside: voicemail '' is not an extension number");
  r.outside = dest("hangup");
  r.holiday = dest("hangup", "now");
  CHECK(inbound_rule::validate(r, t) == "holiday: hangup takes no value");
  r.holiday = dest("number", "0015551230001x");
  CHECK(inbound_rule::validate(r, t) == "holiday: number '0015551230001x' is not a phone number");
  r.holiday = dest("number", "+15551230001");
  CHECK(inbound_rule::validate(r, t) == "");
  r.holiday = dest("range", "200");
  CHECK(inbound_rule::validate(r, t)
        == "holiday: '200': a range destination is one range FIRST-LAST");
}

TEST_CASE("inbound_rule: destinations parse and format") {
  std::string err;
  auto d = inbound_rule::parse_destination("extension:101", err);
  REQUIRE(d);
  CHECK(d->kind == "extension");
  CHECK(d->value == "101");
  d = inbound_rule::parse_destination("0", err);
  REQUIRE(d);
  CHECK(d->kind == "extension");
  CHECK(d->value == "0");
  CHECK(inbound_rule::format_destination(*d) == "0");
  d = inbound_rule::parse_destination(" hangup ", err);
  REQUIRE(d);
  CHECK(d->kind == "hangup");
  CHECK(d->value == "");
  CHECK(inbound_rule::format_destination(*d) == "hangup");
  for (std::string text : {"voicemail:101", "number:0015551230001", "range:200-299",
                           "extension:101"}) {
    d = inbound_rule::parse_destination(text, err);
    INFO(text << ": " << err);
    REQUIRE(d);
    CHECK(inbound_rule::format_destination(*d) == text);
  }
  CHECK_FALSE(inbound_rule::parse_destination("queue:8000", err));
  CHECK(err == "'queue:8000': 'queue' is not extension, voicemail, hangup, number or range");
  CHECK_FALSE(inbound_rule::parse_destination("extension:", err));
  CHECK(err == "'extension:': extension '' is not an extension number");
  CHECK_FALSE(inbound_rule::parse_destination("101", err));
  CHECK(err == "'101': '101' is not extension, voicemail, hangup, number or range");
  CHECK_FALSE(inbound_rule::parse_destination("range:299-200", err));
  CHECK(err == "'range:299-200': '299-200': the first number of a range is not above the last");
}

TEST_CASE("inbound_rule: office hours, outside and holiday") {
  auto r = rule("main", "1005");
  r.office = dest("extension", "101");
  r.outside = dest("voicemail", "102");
  r.holiday = dest("number", "0015551230001");
  inbound_rule::rule_set s({r});

  auto c = in("1005");
  auto d = s.decide(c);
  CHECK(d.code == 200);
  CHECK(d.rule == "main");
  CHECK(d.when == "office hours");
  CHECK(d.kind == "extension");
  CHECK(d.target == "101");
  CHECK(d.reason == "rule main: DID 1005 from 15551239999, office hours -> extension 101");

  c.office_hours = false;
  d = s.decide(c);
  CHECK(d.when == "outside office hours");
  CHECK(d.kind == "voicemail");
  CHECK(d.target == "102");

  // Holiday beats both.
  c.holiday = true;
  d = s.decide(c);
  CHECK(d.when == "holiday");
  CHECK(d.kind == "number");
  CHECK(d.target == "0015551230001");
  c.office_hours = true;
  CHECK(s.decide(c).when == "holiday");

  r.holiday = dest("hangup");
  inbound_rule::rule_set h({r});
  d = h.decide(c);
  CHECK(d.kind == "hangup");
  CHECK(d.target == "");
  CHECK(d.reason == "rule main: DID 1005 from 15551239999, holiday -> hangup");
}

TEST_CASE("inbound_rule: DID, trunk and no match") {
  inbound_rule::rule_set s({rule("block", "1000-1099")});
  CHECK(s.decide(in("1000")).code == 200);
  CHECK(s.decide(in("1099")).code == 200);
  CHECK(s.decide(in("+1050")).rule == "block");  // a provider's '+' is not part of the pool
  auto d = s.decide(in("1100"));
  CHECK(d.code == 404);
  CHECK(d.rule.empty());
  CHECK(d.reason == "no inbound rule of trunk carrier matches DID 1100 from 15551239999");
  CHECK(s.decide(in("10000")).code == 404);
  CHECK(s.decide(in("10a0")).code == 404);
  CHECK(s.decide(in("")).code == 404);
  d = s.decide(in("1050", "", "other"));
  CHECK(d.code == 404);
  CHECK(d.reason == "no inbound rule of trunk other matches DID 1050");
}

TEST_CASE("inbound_rule: a CID mask rule beats a rule without, both must match") {
  auto uk = rule("z-uk", "5551230001", "0044**********");
  uk.office = dest("extension", "201");
  auto fr = rule("z-fr", "5551230001", "0033*********");
  fr.office = dest("extension", "202");
  auto vip = rule("a-vip", "5551230001", "15551230100-15551230199; 15557770000");
  vip.office = dest("extension", "100");
  auto any = rule("a-any", "5551230001");  // name sorts first, but has no mask
  any.office = dest("extension", "101");
  inbound_rule::rule_set s({any, uk, fr, vip});

  CHECK(s.decide(in("5551230001", "00442079460000")).target == "201");
  CHECK(s.decide(in("5551230001", "0033123456789")).target == "202");
  CHECK(s.decide(in("5551230001", "15551230150")).target == "100");
  CHECK(s.decide(in("5551230001", "15557770000")).target == "100");
  CHECK(s.decide(in("5551230001", "0044207946000")).target == "101");  // a digit short
  CHECK(s.decide(in("5551230001", "")).target == "101");
  auto d = s.decide(in("5551230001", "0049301234567"));
  CHECK(d.rule == "a-any");
  // A mask on the other DID does not help.
  CHECK(s.decide(in("5551230002", "00442079460000")).code == 404);

  // Two masks that both match: by name.
  auto uk2 = rule("a-uk-london", "5551230001", "004420********");
  uk2.office = dest("extension", "203");
  inbound_rule::rule_set s2({uk, uk2});
  CHECK(s2.decide(in("5551230001", "00442079460000")).rule == "a-uk-london");
  CHECK(s2.decide(in("5551230001", "00441614960000")).rule == "z-uk");
}

TEST_CASE("inbound_rule: a DID range maps to an extension range by offset") {
  auto r = rule("block", "1000-1099");
  r.office = dest("range", "200-299");
  r.outside = dest("range", "0300-0399");
  r.holiday = dest("voicemail", "0");
  inbound_rule::rule_set s({r});
  auto d = s.decide(in("1005"));
  CHECK(d.code == 200);
  CHECK(d.kind == "extension");
  CHECK(d.target == "205");
  CHECK(d.reason == "rule block: DID 1005 from 15551239999, office hours -> extension 205");
  CHECK(s.decide(in("1000")).target == "200");
  CHECK(s.decide(in("1099")).target == "299");
  auto c = in("1042");
  c.office_hours = false;
  CHECK(s.decide(c).target == "0342");
  c.holiday = true;
  d = s.decide(c);
  CHECK(d.kind == "voicemail");
  CHECK(d.target == "1042");

  // A range of another size is refused when compiling: the rule never matches.
  r.office = dest("range", "200-298");
  inbound_rule::rule_set bad({r});
  CHECK(bad.decide(in("1005")).code == 404);
}

TEST_CASE("inbound_rule: destination 0 is the dialled DID") {
  auto r = rule("passthrough", "1000-1999");
  r.office = dest("extension", "0");
  inbound_rule::rule_set s({r});
  auto d = s.decide(in("1234"));
  CHECK(d.kind == "extension");
  CHECK(d.target == "1234");
  CHECK(s.decide(in("+1777")).target == "1777");
}
