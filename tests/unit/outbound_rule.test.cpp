#include <catch2/catch.hpp>

#include <chrono>

#include "actors/outbound_rule.hpp"

using namespace pbx;
using storage::outbound_route;
using storage::outbound_rule_record;

namespace {

outbound_route route(std::string trunk, std::uint32_t strip = 0, std::string prepend = "",
                     std::string cid = "") {
  outbound_route r;
  r.trunk = std::move(trunk);
  r.strip_digits = strip;
  r.prepend = std::move(prepend);
  r.outbound_caller_id = std::move(cid);
  return r;
}

outbound_rule_record rule(std::string name, std::uint32_t priority, std::string prefix = "",
                          std::string length = "", std::string mask = "") {
  outbound_rule_record r;
  r.domain = "example.test";
  r.name = std::move(name);
  r.priority = priority;
  r.number_prefix = std::move(prefix);
  r.number_length = std::move(length);
  r.number_mask = std::move(mask);
  r.routes = {route("t-" + r.name)};
  return r;
}

outbound_rule::call dial(std::string number, std::string caller = "101") {
  outbound_rule::call c;
  c.caller = std::move(caller);
  c.number = std::move(number);
  return c;
}

std::size_t no_random(std::size_t) {
  FAIL("pick called for a PRIORITIZED rule");
  return 0;
}

std::string winner(const outbound_rule::rule_set& s, const outbound_rule::call& c) {
  auto d = s.decide(c, no_random);
  return d.code == 200 ? d.rule : std::to_string(d.code);
}

} // namespace

TEST_CASE("outbound_rule: validate names the field") {
  auto ok = rule("intl", 10, "00;+", "8;10;12", "101-110;199");
  CHECK(outbound_rule::validate(ok) == "");

  auto r = ok;
  r.number_prefix = "00;1a";
  CHECK(outbound_rule::validate(r) == "number_prefix: '1a': a prefix is 1-32 digits, after an "
                                      "optional '+'");
  r.number_prefix = "00;++";
  CHECK(outbound_rule::validate(r) == "number_prefix: '++': a prefix is 1-32 digits, after an "
                                      "optional '+'");
  r = ok;
  r.number_length = "8;0";
  CHECK(outbound_rule::validate(r) == "number_length: '0': a length is a number 1-32");
  r.number_length = "8;x";
  CHECK(outbound_rule::validate(r) == "number_length: 'x': a length is a number 1-32");
  r = ok;
  r.number_mask = "101-11";
  CHECK(outbound_rule::validate(r)
        == "number_mask: '101-11': the ends of a range have the same number of digits");
  r = ok;
  r.routing_strategy = "ROUND_ROBIN";
  CHECK(outbound_rule::validate(r)
        == "routing_strategy: 'ROUND_ROBIN' is not PRIORITIZED or RANDOMLY");
  r = ok;
  r.routes.clear();
  CHECK(outbound_rule::validate(r) == "routes: a rule has 1-6 trunk routes, not 0");
  r.routes.assign(7, route("a"));
  CHECK(outbound_rule::validate(r) == "routes: a rule has 1-6 trunk routes, not 7");
  r.routes.assign(6, route("a"));
  CHECK(outbound_rule::validate(r) == "");
  r.routes = {route("a"), route("b", 10)};
  CHECK(outbound_rule::validate(r) == "routes: route 2 (b): strip_digits must be 0-9");
  r.routes = {route("a", 9, "+1*#")};
  CHECK(outbound_rule::validate(r) == "");
  r.routes = {route("a", 0, "9x")};
  CHECK(outbound_rule::validate(r)
        == "routes: route 1 (a): prepend '9x' may hold digits, '+', '*' and '#' only (up to 32)");
  r.routes = {route("")};
  CHECK(outbound_rule::validate(r) == "routes: route 1 names no trunk");
  r.routes = {route("a", 0, "", "<sip:x>")};
  CHECK(outbound_rule::validate(r)
        == "routes: route 1 (a): outbound_caller_id '<sip:x>' is not a number");
  r.routes = {route("a", 0, "", "+15551230001")};
  CHECK(outbound_rule::validate(r) == "");
}

TEST_CASE("outbound_rule: lower priority wins, ties by name") {
  outbound_rule::rule_set s({rule("zeta", 5), rule("beta", 100), rule("alpha", 100)});
  CHECK(s.size() == 3);
  CHECK(winner(s, dial("0015551230001")) == "zeta");
  outbound_rule::rule_set tie({rule("beta", 100), rule("alpha", 100)});
  CHECK(winner(tie, dial("0015551230001")) == "alpha");
  // Insertion order does not matter.
  outbound_rule::rule_set tie2({rule("alpha", 100), rule("beta", 100)});
  CHECK(winner(tie2, dial("0015551230001")) == "alpha");
}

TEST_CASE("outbound_rule: prefix, length and caller mask all have to match") {
  outbound_rule::rule_set s({
      rule("intl", 10, "00;+", "", ""),
      rule("mobile", 20, "07", "11", ""),
      rule("sales-long", 30, "", "10;12", "101-110;2**"),
      rule("fallback", 1000),
  });
  CHECK(winner(s, dial("0015551230001")) == "intl");
  CHECK(winner(s, dial("+15551230001")) == "intl");
  CHECK(winner(s, dial("07700900123")) == "mobile");        // 11 digits
  CHECK(winner(s, dial("0770090012")) == "sales-long");     // 10 digits: not mobile
  CHECK(winner(s, dial("077009001234")) == "sales-long");   // 12 digits, caller 101
  CHECK(winner(s, dial("077009001234", "111")) == "fallback");
  CHECK(winner(s, dial("077009001234", "250")) == "sales-long");  // 2** pattern
  CHECK(winner(s, dial("077009001234", "2500")) == "fallback");
  CHECK(winner(s, dial("5551230001", "105")) == "sales-long");    // 10 digits
  CHECK(winner(s, dial("55512300011", "105")) == "fallback");     // 11 digits
}

TEST_CASE("outbound_rule: length ignores a leading '+', prefix does not") {
  outbound_rule::rule_set s({rule("e164-11", 10, "+1", "11"), rule("plain", 20, "1", "11")});
  CHECK(winner(s, dial("+15551230001")) == "e164-11");
  CHECK(winner(s, dial("15551230001")) == "plain");
  CHECK(winner(s, dial("+1555123000")) == "404");
}

TEST_CASE("outbound_rule: no match is 404 naming the number") {
  outbound_rule::rule_set s({rule("intl", 10, "00")});
  auto d = s.decide(dial("123"), no_random);
  CHECK(d.code == 404);
  CHECK(d.reason == "no outbound rule matches 123");
  CHECK(d.rule.empty());
  CHECK(d.steps.empty());
  outbound_rule::rule_set none;
  CHECK(none.size() == 0);
  CHECK(none.decide(dial("0015551230001"), no_random).reason
        == "no outbound rule matches 0015551230001");
}

TEST_CASE("outbound_rule: a disabled matching rule is 403 and stops the search") {
  auto intl = rule("intl", 10, "00");
  intl.disable_outside_hours = true;
  auto any = rule("any", 20);
  outbound_rule::rule_set s({intl, any});

  auto c = dial("0015551230001");
  auto d = s.decide(c, no_random);
  CHECK(d.code == 200);
  CHECK(d.rule == "intl");

  c.office_hours = false;
  d = s.decide(c, no_random);
  CHECK(d.code == 403);
  CHECK(d.rule == "intl");
  CHECK(d.reason == "rule intl is disabled outside office hours");
  CHECK(d.steps.empty());
  // The rule does not apply to this number: the next one routes it.
  CHECK(winner(s, [] { auto x = dial("5551230001"); x.office_hours = false; return x; }())
        == "any");

  // Holidays: only a rule that says so.
  c.office_hours = true;
  c.holiday = true;
  CHECK(s.decide(c, no_random).code == 200);
  intl.disable_on_holidays = true;
  outbound_rule::rule_set h({intl, any});
  d = h.decide(c, no_random);
  CHECK(d.code == 403);
  CHECK(d.reason == "rule intl is disabled on holidays");
  c.office_hours = false;  // both: the holiday is named
  CHECK(h.decide(c, no_random).reason == "rule intl is disabled on holidays");
}

TEST_CASE("outbound_rule: steps strip, prepend and pick the caller ID") {
  auto r = rule("intl", 10, "00");
  r.routes = {route("carrier-a", 2, "+", ""), route("carrier-b", 0, "9", "+15550000002"),
              route("carrier-c", 9, "", "")};
  outbound_rule::rule_set s({r});
  auto c = dial("0015551230001");
  c.caller_ids = {{"carrier-a", "+15551110101"}, {"carrier-c", ""}, {"other", "+1999"}};
  auto d = s.decide(c, no_random);
  REQUIRE(d.code == 200);
  CHECK(d.strategy == "PRIORITIZED");
  CHECK(d.reason == "rule intl matches 0015551230001");
  REQUIRE(d.steps.size() == 3);
  CHECK(d.steps[0].trunk == "carrier-a");
  CHECK(d.steps[0].digits == "+15551230001");
  CHECK(d.steps[0].caller_id == "+15551110101");   // the extension's for that trunk
  CHECK(d.steps[1].trunk == "carrier-b");
  CHECK(d.steps[1].digits == "90015551230001");
  CHECK(d.steps[1].caller_id == "+15550000002");   // the route's
  CHECK(d.steps[2].trunk == "carrier-c");
  CHECK(d.steps[2].digits == "0001");
  CHECK(d.steps[2].caller_id == "");               // the trunk's default, later

  // The extension's beats the route's on the same trunk.
  c.caller_ids = {{"carrier-b", "+15551110102"}};
  d = s.decide(c, no_random);
  CHECK(d.steps[1].caller_id == "+15551110102");
  CHECK(d.steps[0].caller_id == "");

  // Stripping more digits than the number has leaves the prepend alone.
  auto shortr = rule("short", 10);
  shortr.routes = {route("t", 9, "55")};
  outbound_rule::rule_set s2({shortr});
  CHECK(s2.decide(dial("123"), no_random).steps.at(0).digits == "55");
}

TEST_CASE("outbound_rule: RANDOMLY shuffles the steps with pick") {
  auto r = rule("spread", 10);
  r.routing_strategy = "RANDOMLY";
  r.routes = {route("a"), route("b"), route("c"), route("d")};
  outbound_rule::rule_set s({r});

  // Fisher-Yates from the end: pick(4)=0 swaps 3<->0, pick(3)=0 swaps 2<->0,
  // pick(2)=1 keeps 1: a b c d -> d b c a -> c b d a -> c b d a.
  std::vector<std::size_t> asked;
  std::vector<std::size_t> answers = {0, 0, 1};
  auto d = s.decide(dial("123"), [&](std::size_t n) {
    asked.push_back(n);
    return answers.at(asked.size() - 1);
  });
  CHECK(d.strategy == "RANDOMLY");
  CHECK(asked == std::vector<std::size_t>{4, 3, 2});
  REQUIRE(d.steps.size() == 4);
  CHECK(d.steps[0].trunk == "c");
  CHECK(d.steps[1].trunk == "b");
  CHECK(d.steps[2].trunk == "d");
  CHECK(d.steps[3].trunk == "a");

  // pick(n) = n - 1 keeps every step in place.
  d = s.decide(dial("123"), [](std::size_t n) { return n - 1; });
  CHECK(d.steps[0].trunk == "a");
  CHECK(d.steps[3].trunk == "d");

  // A source answering out of range cannot break the shuffle (taken modulo n).
  d = s.decide(dial("123"), [](std::size_t n) { return n + 1; });
  CHECK(d.steps.size() == 4);
}

TEST_CASE("outbound_rule: an invalid stored rule never matches") {
  auto bad = rule("bad", 1);
  bad.routes.clear();
  outbound_rule::rule_set s({bad, rule("good", 2)});
  CHECK(s.size() == 1);
  CHECK(winner(s, dial("123")) == "good");
}

TEST_CASE("outbound_rule: 1000 rules decide the right one in microseconds") {
  std::vector<outbound_rule_record> rules;
  // 999 rules whose prefixes "9000".."9998" the number does not start with, one
  // that it does, all with lower priority numbers than a catch-all.
  for (int i = 0; i < 999; ++i)
    rules.push_back(rule("r" + std::to_string(i), static_cast<std::uint32_t>(i),
                         std::to_string(9000 + i), "11;12", "101-199"));
  auto target = rule("target", 500, "0044", "14", "1**");
  target.routes = {route("uk", 4, "0")};
  rules.push_back(target);
  rules.push_back(rule("catch-all", 5000));
  outbound_rule::rule_set s(std::move(rules));
  REQUIRE(s.size() == 1001);

  auto c = dial("00442079460000", "150");
  auto d = s.decide(c, no_random);
  CHECK(d.rule == "target");
  REQUIRE(d.steps.size() == 1);
  CHECK(d.steps[0].digits == "02079460000");
  // Another rule's prefix takes that rule, its caller mask still applies.
  CHECK(winner(s, dial("96001234567", "150")) == "r600");
  CHECK(winner(s, dial("96001234567", "250")) == "catch-all");

  auto t0 = std::chrono::steady_clock::now();
  std::size_t hits = 0;
  for (int i = 0; i < 1000; ++i)
    hits += s.decide(c, no_random).rule == "target";
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                std::chrono::steady_clock::now() - t0)
                .count();
  CHECK(hits == 1000);
  // Generous for a shared, sanitized build: 1 ms per decision at most.
  CHECK(us < 1000 * 1000);
}
