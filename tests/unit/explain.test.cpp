// `explain` is the shell's view of the same evaluator the calls use: these
// cases are the evaluator's (DST, edges, holidays, exceptions, loops) seen
// through the output an admin reads.
#include <catch2/catch.hpp>

#include <map>

#include "actors/rule_commands.hpp"
#include "actors/shell_syntax.hpp"

using namespace pbx;
using storage::forward_action;
using storage::forward_slot;

namespace {

std::chrono::system_clock::time_point at(const std::string& iso) {
  auto t = rule_commands::parse_instant(iso);
  REQUIRE(t);
  return *t;
}

storage::extension_record ext(const std::string& number) {
  storage::extension_record e;
  e.domain = "a.test";
  e.number = number;
  return e;
}

storage::forward_rule to_number(const std::string& n) {
  storage::forward_rule r;
  r.action = forward_action::forward_to_number;
  r.number = n;
  return r;
}

void set(storage::extension_record& e, forward_slot s, storage::forward_rule r) {
  e.forwarding.rules[static_cast<std::size_t>(s)] = r;
}

struct world {
  storage::tenant_record tenant;
  std::map<std::string, storage::extension_record> exts;

  world() {
    tenant.domain = "a.test";
    tenant.timezone = "UTC";
  }

  // Explains a call from `caller` to `to`; every extension is registered.
  admin_reply explain(const std::string& caller, const std::string& to, const std::string& when) {
    forwarding::call_facts f;
    f.caller = caller;
    f.at = at(when);
    f.registered = true;
    return rule_commands::explain(exts.at(to), tenant, f, [&](const std::string& n) {
      auto i = exts.find(n);
      return i == exts.end() ? std::nullopt
                             : std::optional<rule_commands::explain_target>({i->second, true});
    });
  }
};

std::string decision(const admin_reply& r) {
  REQUIRE(r.ok);
  REQUIRE(!r.records.empty());
  return shell::format_record(r.records.back());
}

bool has_line(const admin_reply& r, const std::string& part) {
  for (auto& rec : r.records)
    if (shell::format_record(rec).find(part) != std::string::npos)
      return true;
  return false;
}

} // namespace

TEST_CASE("explain: one step per line, the decision last") {
  world w;
  w.exts["101"] = ext("101");
  auto r = w.explain("555", "101", "2026-11-30T10:00:00Z"); // Monday, default hours
  CHECK(decision(r) == "decision slot=available_office_hours action=RING_ANYWAY timeout=60 "
                       "no_answer_slot=available_no_answer no_answer_action=FORWARD_TO_VOICEMAIL "
                       "extension=101");
  for (std::size_t i = 0; i + 1 < r.records.size(); ++i)
    CHECK(shell::format_record(r.records[i]).rfind("step=" + std::to_string(i + 1) + " text=\"", 0) == 0);
  CHECK(has_line(r, "Mon 10:00"));
}

TEST_CASE("explain: office-hours edges") {
  world w;
  w.exts["101"] = ext("101");
  CHECK(decision(w.explain("5", "101", "2026-11-30T08:59:00Z")).find("available_non_office_hours")
        != std::string::npos);
  CHECK(decision(w.explain("5", "101", "2026-11-30T09:00:00Z")).find("available_office_hours")
        != std::string::npos);
  CHECK(decision(w.explain("5", "101", "2026-11-30T18:00:00Z")).find("available_non_office_hours")
        != std::string::npos);
  // 00:00-23:59 open all day (23:59 included); 00:00-00:00 closed.
  auto& e = w.exts["101"];
  e.forwarding.mode = storage::hours_mode::custom;
  e.forwarding.hours.days[0].shifts = {{0, 23 * 60 + 59}};
  e.forwarding.hours.days[1].shifts = {{0, 0}};
  CHECK(decision(w.explain("5", "101", "2026-11-30T23:59:00Z")).find("available_office_hours")
        != std::string::npos);
  CHECK(decision(w.explain("5", "101", "2026-12-01T00:00:00Z")).find("available_non_office_hours")
        != std::string::npos);
  CHECK(decision(w.explain("5", "101", "2026-12-01T12:00:00Z")).find("available_non_office_hours")
        != std::string::npos);
}

TEST_CASE("explain: DST change days in Europe/Berlin and America/New_York") {
  world w;
  auto e = ext("101");
  e.forwarding.mode = storage::hours_mode::custom;
  for (auto& d : e.forwarding.hours.days)
    d.shifts = {{9 * 60, 18 * 60}};
  set(e, forward_slot::available_non_office_hours, to_number("999"));
  w.exts["101"] = e;
  w.tenant.timezone = "Europe/Berlin";
  // Sunday 2026-03-29 is CEST (UTC+2) from 02:00: 09:00 local is 07:00Z.
  CHECK(decision(w.explain("5", "101", "2026-03-29T07:00:00Z")).find("available_office_hours")
        != std::string::npos);
  CHECK(decision(w.explain("5", "101", "2026-03-29T06:59:00Z")).find("available_non_office_hours")
        != std::string::npos);
  // The day before is CET (UTC+1): 07:30Z is 08:30 local, closed; 08:00Z opens.
  CHECK(decision(w.explain("5", "101", "2026-03-28T07:30:00Z")).find("available_non_office_hours")
        != std::string::npos);
  CHECK(has_line(w.explain("5", "101", "2026-03-29T07:00:00Z"), "CEST"));
  w.tenant.timezone = "America/New_York";
  // Sunday 2026-11-01 falls back to EST (UTC-5): 09:00 local is 14:00Z; on Oct 31 13:00Z.
  CHECK(decision(w.explain("5", "101", "2026-11-01T13:30:00Z")).find("available_non_office_hours")
        != std::string::npos);
  CHECK(decision(w.explain("5", "101", "2026-11-01T14:00:00Z")).find("available_office_hours")
        != std::string::npos);
  CHECK(decision(w.explain("5", "101", "2026-10-31T13:00:00Z")).find("available_office_hours")
        != std::string::npos);
}

TEST_CASE("explain: a holiday every year and a one-year holiday") {
  world w;
  w.exts["101"] = ext("101");
  storage::holiday xmas;
  xmas.id = 1;
  xmas.name = "Christmas";
  xmas.first = xmas.last = {2026, 12, 25};
  xmas.every_year = true;
  storage::holiday once;
  once.id = 2;
  once.name = "Move";
  once.first = once.last = {2026, 12, 1};
  w.tenant.rules.holidays = {xmas, once};
  // 2028-12-25 is a Monday: an every-year holiday counts; 2027-12-01 (Wed) is no holiday.
  auto r = w.explain("5", "101", "2028-12-25T10:00:00Z");
  CHECK(decision(r).find("available_non_office_hours") != std::string::npos);
  CHECK(has_line(r, "Christmas"));
  CHECK(decision(w.explain("5", "101", "2026-12-01T10:00:00Z")).find("available_non_office_hours")
        != std::string::npos);
  CHECK(decision(w.explain("5", "101", "2027-12-01T10:00:00Z")).find("available_office_hours")
        != std::string::npos);
}

TEST_CASE("explain: an exception wins, for its caller only") {
  world w;
  auto e = ext("101");
  storage::exception_rule x;
  x.id = 7;
  x.caller = "55*";
  x.rule.action = forward_action::hangup;
  e.forwarding.exceptions = {x};
  w.exts["101"] = e;
  CHECK(decision(w.explain("5551", "101", "2026-11-30T10:00:00Z"))
        == "decision slot=exception id=7 action=HANGUP reroute=FORWARDING_EXCEPTION extension=101");
  CHECK(decision(w.explain("4441", "101", "2026-11-30T10:00:00Z")).find("slot=available_office")
        != std::string::npos);
}

TEST_CASE("explain follows forwards and stops a loop") {
  world w;
  auto a = ext("101");
  auto b = ext("102");
  auto c = ext("103");
  for (auto s : {forward_slot::available_office_hours, forward_slot::available_non_office_hours}) {
    set(a, s, to_number("102"));
    set(b, s, to_number("103"));
  }
  w.exts = {{"101", a}, {"102", b}, {"103", c}};
  auto r = w.explain("5", "101", "2026-11-30T10:00:00Z");
  CHECK(has_line(r, "forward to 102"));
  CHECK(has_line(r, "forward to 103"));
  CHECK(decision(r).find("action=RING_ANYWAY") != std::string::npos);
  CHECK(decision(r).find("extension=103") != std::string::npos);
  // 103 forwards back to 101: stopped like a call would be.
  set(w.exts["103"], forward_slot::available_office_hours, to_number("101"));
  r = w.explain("5", "101", "2026-11-30T10:00:00Z");
  CHECK(decision(r).find("stopped=\"forwarding loop: 101 -> 102 -> 103 -> 101\"")
        != std::string::npos);
  CHECK(has_line(r, "stop: forwarding loop"));
  // A number that is no extension here: stopped with the reason.
  set(w.exts["103"], forward_slot::available_office_hours, to_number("+491701234567"));
  CHECK(decision(w.explain("5", "101", "2026-11-30T10:00:00Z"))
          .find("stopped=\"forward to +491701234567: not an extension of this tenant\"")
        != std::string::npos);
}

TEST_CASE("explain's at=: the ISO-8601 forms it takes") {
  using namespace std::chrono;
  auto base = at("2026-11-30T12:30:00Z");
  CHECK(at("2026-11-30T12:30Z") == base);
  CHECK(at("2026-11-30T13:30:00+01:00") == base);
  CHECK(at("2026-11-30T13:30+01:00") == base);
  CHECK(at("2026-11-30T13:30:00+01") == base);
  CHECK(at("2026-11-30T11:00:00-01:30") == base);
  for (std::string bad : {"", "yesterday", "2026-11-30", "2026-11-30T12:30", "2026-11-30T1x:30Z",
                          "2026-11-30T12:30:0Z", "2026-11-30T12:30:00+a1:00", "2026-1-3T1:3:5Z",
                          " 2026-11-30T12:30Z", "2026-11-30T12:30Z ", "2026-02-30T12:30Z",
                          "2026-11-30T24:00Z", "2026-11-30T12:30:00+0100",
                          "2620-03-29T09:00:00+02:00", "1600-01-01T00:00Z"}) {
    INFO(bad);
    CHECK_FALSE(rule_commands::parse_instant(bad));
  }
}
