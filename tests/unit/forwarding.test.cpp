#include <catch2/catch.hpp>

#include "actors/forwarding.hpp"
#include "fixed_clock.hpp"

using namespace pbx;
using test::hm;
using test::utc;
using storage::exception_when;
using storage::forward_action;
using storage::forward_slot;
using storage::presence;

namespace {

constexpr std::size_t idx(forward_slot s) { return static_cast<std::size_t>(s); }

// Monday 2026-03-02: 10:00Z in the default global hours, 20:00Z outside.
const auto monday_office = utc(2026, 3, 2, 10, 0);
const auto monday_evening = utc(2026, 3, 2, 20, 0);
const auto saturday_office = utc(2026, 3, 7, 10, 0);

storage::tenant_record tenant(const std::string& zone = "UTC") {
  storage::tenant_record t;
  t.domain = "a.test";
  t.timezone = zone;
  return t;
}

// Every slot forwards to its own number, 900 + slot index, so a wrong slot shows.
storage::extension_record distinct_ext() {
  storage::extension_record e;
  e.domain = "a.test";
  e.number = "101";
  for (std::size_t i = 0; i < storage::forward_slot_count; ++i) {
    auto& r = e.forwarding.rules[i];
    r.action = forward_action::forward_to_number;
    r.number = std::to_string(900 + i);
  }
  return e;
}

forwarding::call_facts facts(std::chrono::system_clock::time_point at, bool registered = true,
                             bool on_call = false, const std::string& caller = "5551234") {
  forwarding::call_facts f;
  f.caller = caller;
  f.registered = registered;
  f.on_call = on_call;
  f.at = at;
  return f;
}

bool any_step(const forwarding::decision& d, const std::string& part) {
  for (const auto& s : d.steps)
    if (s.find(part) != std::string::npos)
      return true;
  return false;
}

storage::week_hours only_monday(storage::time_range r) {
  storage::week_hours w;
  for (auto& day : w.days)
    day.enabled = false;
  w.days[0].enabled = true;
  w.days[0].shifts = {r};
  return w;
}

storage::week_hours every_day(storage::time_range r) {
  storage::week_hours w;
  for (auto& day : w.days)
    day.shifts = {r};
  return w;
}

}  // namespace

TEST_CASE("every status x office hours picks its own slot") {
  struct row {
    presence status;
    bool registered, on_call, office;
    forward_slot slot;
    const char* reason;
  };
  const row rows[] = {
    {presence::available, true, false, true, forward_slot::available_office_hours, "FORWARDING_UNCONDITIONAL"},
    {presence::available, true, false, false, forward_slot::available_non_office_hours, "FORWARDING_UNCONDITIONAL"},
    {presence::available, true, true, true, forward_slot::busy_office_hours, "FORWARDING_BUSY"},
    {presence::available, true, true, false, forward_slot::busy_non_office_hours, "FORWARDING_BUSY"},
    {presence::available, false, false, true, forward_slot::offline_office_hours, "FORWARDING_NOT_REACHABLE"},
    {presence::available, false, false, false, forward_slot::offline_non_office_hours, "FORWARDING_NOT_REACHABLE"},
    {presence::available, false, true, true, forward_slot::offline_office_hours, "FORWARDING_NOT_REACHABLE"},
    {presence::dnd, true, false, true, forward_slot::dnd_office_hours, "FORWARDING_DND"},
    {presence::dnd, true, false, false, forward_slot::dnd_non_office_hours, "FORWARDING_DND"},
    {presence::dnd, true, true, true, forward_slot::dnd_office_hours, "FORWARDING_DND"},
    {presence::away, true, false, true, forward_slot::away_office_hours, "FORWARDING_AWAY"},
    {presence::away, true, false, false, forward_slot::away_non_office_hours, "FORWARDING_AWAY"},
    {presence::away, false, false, true, forward_slot::away_office_hours, "FORWARDING_AWAY"},
    {presence::lunch, true, false, true, forward_slot::lunch_office_hours, "FORWARDING_LUNCH"},
    {presence::lunch, true, false, false, forward_slot::lunch_non_office_hours, "FORWARDING_LUNCH"},
    {presence::trip, true, false, true, forward_slot::trip_office_hours, "FORWARDING_BUSINESS_TRIP"},
    {presence::trip, false, false, false, forward_slot::trip_non_office_hours, "FORWARDING_BUSINESS_TRIP"},
  };
  auto t = tenant();
  for (const auto& r : rows) {
    auto e = distinct_ext();
    e.forwarding.status = r.status;
    auto d = forwarding::decide(e, t, facts(r.office ? monday_office : monday_evening,
                                            r.registered, r.on_call));
    INFO(forwarding::presence_name(r.status) << " registered=" << r.registered
                                             << " on_call=" << r.on_call << " office=" << r.office);
    CHECK(d.slot == r.slot);
    CHECK(d.office == r.office);
    CHECK_FALSE(d.exception);
    CHECK(d.rule.action == forward_action::forward_to_number);
    CHECK(d.rule.number == std::to_string(900 + idx(r.slot)));
    CHECK(d.reroute_reason == r.reason);
    CHECK(any_step(d, std::string("slot ") + forwarding::slot_name(r.slot)));
  }
}

TEST_CASE("status steps say why") {
  auto t = tenant();
  auto e = distinct_ext();
  CHECK(any_step(forwarding::decide(e, t, facts(monday_office, false)), "status offline"));
  CHECK(any_step(forwarding::decide(e, t, facts(monday_office, true, true)), "status busy"));
  CHECK(any_step(forwarding::decide(e, t, facts(monday_office)), "status available"));
  e.forwarding.status = presence::lunch;
  CHECK(any_step(forwarding::decide(e, t, facts(monday_office, false)), "status lunch"));
}

TEST_CASE("default rules: available rings, then the no-answer rule") {
  auto t = tenant();
  storage::extension_record e;
  e.number = "101";
  e.forwarding.rules[idx(forward_slot::available_no_answer)].timeout = 25;
  e.forwarding.rules[idx(forward_slot::busy_no_answer)].timeout = 35;
  e.forwarding.rules[idx(forward_slot::busy_no_answer)].mailbox = "200";

  auto d = forwarding::decide(e, t, facts(monday_office));
  CHECK(d.slot == forward_slot::available_office_hours);
  CHECK(d.rule.action == forward_action::ring_anyway);
  CHECK(d.reroute_reason.empty());
  CHECK(d.no_answer_slot == forward_slot::available_no_answer);
  CHECK(d.no_answer.action == forward_action::forward_to_voicemail);
  CHECK(d.no_answer.timeout == 25);
  CHECK(d.busy_slot == forward_slot::busy_office_hours);
  CHECK(d.busy.action == forward_action::ring_anyway);
  CHECK(d.steps.back().find("ring 25 s, then available_no_answer: FORWARD_TO_VOICEMAIL")
        != std::string::npos);

  auto busy = forwarding::decide(e, t, facts(monday_evening, true, true));
  CHECK(busy.slot == forward_slot::busy_non_office_hours);
  CHECK(busy.rule.action == forward_action::ring_anyway);
  CHECK(busy.no_answer_slot == forward_slot::busy_no_answer);
  CHECK(busy.no_answer.timeout == 35);
  CHECK(busy.no_answer.mailbox == "200");
  CHECK(busy.busy_slot == forward_slot::busy_non_office_hours);
  CHECK(any_step(busy, "ring 35 s, then busy_no_answer"));

  // Away goes straight to voicemail by default.
  e.forwarding.status = presence::away;
  auto away = forwarding::decide(e, t, facts(monday_office));
  CHECK(away.rule.action == forward_action::forward_to_voicemail);
  CHECK(away.reroute_reason == "FORWARDING_AWAY");
}

TEST_CASE("RING_ANYWAY carries the no-answer and busy rules of the same moment") {
  auto t = tenant();
  auto e = distinct_ext();
  e.forwarding.rules[idx(forward_slot::available_non_office_hours)].action = forward_action::ring_anyway;
  e.forwarding.rules[idx(forward_slot::available_no_answer)].timeout = 15;
  auto d = forwarding::decide(e, t, facts(monday_evening));
  CHECK(d.rule.action == forward_action::ring_anyway);
  CHECK(d.reroute_reason.empty());
  CHECK(d.no_answer_slot == forward_slot::available_no_answer);
  CHECK(d.no_answer.number == "902");
  CHECK(d.no_answer.timeout == 15);
  CHECK(d.busy_slot == forward_slot::busy_non_office_hours);
  CHECK(d.busy.number == "904");
  CHECK(any_step(d, "ring 15 s, then available_no_answer: FORWARD_TO_NUMBER 902"));
}

TEST_CASE("CUSTOM hours replace the tenant's GLOBAL hours") {
  auto t = tenant();
  auto e = distinct_ext();
  e.forwarding.hours = every_day({hm(7, 0), hm(8, 0)});

  auto global = forwarding::decide(e, t, facts(saturday_office));
  CHECK_FALSE(global.office);
  CHECK(global.slot == forward_slot::available_non_office_hours);
  CHECK(any_step(global, "global"));

  e.forwarding.mode = storage::hours_mode::custom;
  CHECK(forwarding::decide(e, t, facts(utc(2026, 3, 7, 7, 30))).office);
  auto custom = forwarding::decide(e, t, facts(monday_office));
  CHECK_FALSE(custom.office);  // global would be open at Monday 10:00
  CHECK(custom.slot == forward_slot::available_non_office_hours);
  CHECK(any_step(custom, "custom"));

  // The tenant's hours follow edits of the tenant record.
  e.forwarding.mode = storage::hours_mode::global;
  t.rules.hours.days[5].enabled = true;
  CHECK(forwarding::decide(e, t, facts(saturday_office)).office);
}

TEST_CASE("holidays count as outside office hours") {
  auto e = distinct_ext();
  storage::holiday h;
  h.id = 4;
  h.name = "Founders Day";
  h.first = {2026, 3, 2};
  h.last = {2026, 3, 2};

  SECTION("tenant holiday") {
    auto t = tenant();
    t.rules.holidays.push_back(h);
    auto d = forwarding::decide(e, t, facts(monday_office));
    CHECK_FALSE(d.office);
    CHECK(d.slot == forward_slot::available_non_office_hours);
    CHECK(any_step(d, "Founders Day"));
    // The next day is a normal office day.
    CHECK(forwarding::decide(e, t, facts(utc(2026, 3, 3, 10, 0))).office);
  }
  SECTION("personal holiday, custom mode too") {
    auto t = tenant();
    e.forwarding.holidays.push_back(h);
    e.forwarding.mode = storage::hours_mode::custom;
    e.forwarding.hours = every_day({0, hm(23, 59)});
    auto d = forwarding::decide(e, t, facts(monday_office, false));
    CHECK_FALSE(d.office);
    CHECK(d.slot == forward_slot::offline_non_office_hours);
    CHECK(any_step(d, "Founders Day"));
  }
  SECTION("only within its time range") {
    auto t = tenant();
    h.whole_day = false;
    h.time = {hm(12, 0), hm(23, 59)};
    t.rules.holidays.push_back(h);
    CHECK(forwarding::decide(e, t, facts(monday_office)).office);
    CHECK_FALSE(forwarding::decide(e, t, facts(utc(2026, 3, 2, 12, 0))).office);
  }
}

TEST_CASE("time zones: tenant zone, DST days, extension override, unknown zone") {
  auto e = distinct_ext();
  e.forwarding.mode = storage::hours_mode::custom;
  e.forwarding.hours = every_day({hm(9, 0), hm(18, 0)});

  SECTION("Europe/Berlin spring forward") {
    auto t = tenant("Europe/Berlin");
    CHECK_FALSE(forwarding::decide(e, t, facts(utc(2026, 3, 28, 7, 59))).office);
    CHECK(forwarding::decide(e, t, facts(utc(2026, 3, 28, 8, 0))).office);
    CHECK_FALSE(forwarding::decide(e, t, facts(utc(2026, 3, 29, 6, 59))).office);
    auto d = forwarding::decide(e, t, facts(utc(2026, 3, 29, 7, 0)));
    CHECK(d.office);
    CHECK(d.steps.front().find("2026-03-29 09:00 CEST (Sun)") != std::string::npos);
    CHECK(d.steps.front().find("Europe/Berlin") != std::string::npos);
  }
  SECTION("America/New_York fall back") {
    auto t = tenant("America/New_York");
    CHECK_FALSE(forwarding::decide(e, t, facts(utc(2026, 10, 31, 12, 59))).office);
    CHECK(forwarding::decide(e, t, facts(utc(2026, 10, 31, 13, 0))).office);
    CHECK_FALSE(forwarding::decide(e, t, facts(utc(2026, 11, 1, 13, 0))).office);
    CHECK_FALSE(forwarding::decide(e, t, facts(utc(2026, 11, 1, 13, 59))).office);
    CHECK(forwarding::decide(e, t, facts(utc(2026, 11, 1, 14, 0))).office);
  }
  SECTION("the extension's zone overrides the tenant's") {
    auto t = tenant("UTC");
    auto at = utc(2026, 11, 2, 13, 30);  // 13:30 UTC, 08:30 EST
    CHECK(forwarding::decide(e, t, facts(at)).office);
    e.forwarding.timezone = "America/New_York";
    auto d = forwarding::decide(e, t, facts(at));
    CHECK_FALSE(d.office);
    CHECK(d.slot == forward_slot::available_non_office_hours);
    CHECK(d.steps.front().find("08:30 EST") != std::string::npos);
  }
  SECTION("an unknown zone falls back to UTC and says so") {
    auto t = tenant("Mars/Olympus");
    auto d = forwarding::decide(e, t, facts(utc(2026, 3, 2, 9, 0)));
    CHECK(d.office);  // 09:00 UTC
    CHECK(any_step(d, "Mars/Olympus is unknown, using UTC"));
    CHECK_FALSE(forwarding::decide(e, t, facts(utc(2026, 3, 2, 8, 59))).office);
    e.forwarding.timezone = "Nowhere/Else";
    t.timezone = "Asia/Tokyo";
    auto own = forwarding::decide(e, t, facts(utc(2026, 3, 2, 9, 0)));
    CHECK(own.office);  // UTC, not Tokyo (18:00 there)
    CHECK(any_step(own, "Nowhere/Else is unknown, using UTC"));
  }
}

TEST_CASE("exceptions come first") {
  auto t = tenant();
  auto e = distinct_ext();
  e.forwarding.status = presence::dnd;
  storage::exception_rule x;
  x.id = 11;
  x.caller = "555*";
  x.rule.action = forward_action::forward_to_number;
  x.rule.number = "777";
  e.forwarding.exceptions.push_back(x);

  SECTION("a matching ALL_HOURS exception wins over the status rule") {
    auto d = forwarding::decide(e, t, facts(monday_evening, true, false, "5551234"));
    CHECK(d.exception);
    CHECK(d.exception_id == 11);
    CHECK(d.rule.number == "777");
    CHECK(d.reroute_reason == "FORWARDING_EXCEPTION");
    CHECK(any_step(d, "exception 11"));
  }
  SECTION("a caller that does not match falls through") {
    auto d = forwarding::decide(e, t, facts(monday_evening, true, false, "6001234"));
    CHECK_FALSE(d.exception);
    CHECK(d.slot == forward_slot::dnd_non_office_hours);
    CHECK(d.rule.number == std::to_string(900 + idx(forward_slot::dnd_non_office_hours)));
    CHECK(d.reroute_reason == "FORWARDING_DND");
    CHECK(any_step(d, "does not match"));
  }
  SECTION("the first applying exception in order decides") {
    storage::exception_rule y = x;
    y.id = 12;
    y.caller = "*";
    y.rule.number = "888";
    e.forwarding.exceptions.insert(e.forwarding.exceptions.begin(), y);
    auto d = forwarding::decide(e, t, facts(monday_office, true, false, "5551234"));
    CHECK(d.exception_id == 12);
    CHECK(d.rule.number == "888");
  }
  SECTION("SPECIFIC_HOURS and OUTSIDE_SPECIFIC_HOURS") {
    e.forwarding.exceptions[0].when = exception_when::specific_hours;
    e.forwarding.exceptions[0].hours = only_monday({hm(9, 0), hm(12, 0)});
    storage::exception_rule outside = x;
    outside.id = 13;
    outside.when = exception_when::outside_specific_hours;
    outside.hours = only_monday({hm(9, 0), hm(12, 0)});
    outside.rule.number = "333";
    e.forwarding.exceptions.push_back(outside);

    auto in = forwarding::decide(e, t, facts(utc(2026, 3, 2, 11, 59)));
    CHECK(in.exception_id == 11);
    CHECK(in.rule.number == "777");
    auto out = forwarding::decide(e, t, facts(utc(2026, 3, 2, 12, 0)));
    CHECK(out.exception_id == 13);
    CHECK(out.rule.number == "333");
    CHECK(any_step(out, "does not apply"));
    auto tuesday = forwarding::decide(e, t, facts(utc(2026, 3, 3, 10, 0)));
    CHECK(tuesday.exception_id == 13);

    // Only the specific one: outside its hours the status rule applies.
    e.forwarding.exceptions.pop_back();
    auto none = forwarding::decide(e, t, facts(utc(2026, 3, 2, 12, 0)));
    CHECK_FALSE(none.exception);
    CHECK(none.slot == forward_slot::dnd_office_hours);
  }
  SECTION("holidays do not affect exceptions") {
    e.forwarding.exceptions[0].when = exception_when::specific_hours;
    e.forwarding.exceptions[0].hours = only_monday({hm(9, 0), hm(12, 0)});
    storage::holiday h;
    h.name = "Closed";
    h.first = h.last = {2026, 3, 2};
    t.rules.holidays.push_back(h);
    auto d = forwarding::decide(e, t, facts(monday_office));
    CHECK(d.exception);
    CHECK(d.rule.number == "777");
    CHECK_FALSE(d.office);
  }
  SECTION("a RING_ANYWAY exception rings with the no-answer rule") {
    e.forwarding.status = presence::available;
    e.forwarding.exceptions[0].rule = storage::forward_rule{};
    e.forwarding.exceptions[0].rule.action = forward_action::ring_anyway;
    e.forwarding.rules[idx(forward_slot::available_no_answer)].timeout = 20;
    auto d = forwarding::decide(e, t, facts(monday_office, true, true));
    CHECK(d.exception);
    CHECK(d.rule.action == forward_action::ring_anyway);
    CHECK(d.reroute_reason.empty());
    CHECK(d.no_answer_slot == forward_slot::busy_no_answer);
    CHECK(d.no_answer.number == "905");
    CHECK(d.busy_slot == forward_slot::busy_office_hours);
    CHECK(d.busy.number == "903");
  }
}

TEST_CASE("steps are single lines without double quotes") {
  auto t = tenant("Bad\"Zone");
  auto e = distinct_ext();
  storage::exception_rule x;
  x.id = 1;
  x.caller = "\"*";
  e.forwarding.exceptions.push_back(x);
  auto d = forwarding::decide(e, t, facts(monday_office, true, false, "a\"b\nc"));
  REQUIRE(d.steps.size() >= 4);
  for (const auto& s : d.steps) {
    INFO(s);
    CHECK(s.find('"') == std::string::npos);
    CHECK(s.find('\n') == std::string::npos);
    CHECK_FALSE(s.empty());
  }
}

TEST_CASE("reroute reasons per slot") {
  using S = forward_slot;
  const std::pair<S, const char*> table[] = {
    {S::available_office_hours, "FORWARDING_UNCONDITIONAL"},
    {S::available_non_office_hours, "FORWARDING_UNCONDITIONAL"},
    {S::available_no_answer, "FORWARDING_NO_ANSWER"},
    {S::busy_office_hours, "FORWARDING_BUSY"},
    {S::busy_non_office_hours, "FORWARDING_BUSY"},
    {S::busy_no_answer, "FORWARDING_NO_ANSWER"},
    {S::dnd_office_hours, "FORWARDING_DND"},
    {S::dnd_non_office_hours, "FORWARDING_DND"},
    {S::away_office_hours, "FORWARDING_AWAY"},
    {S::away_non_office_hours, "FORWARDING_AWAY"},
    {S::lunch_office_hours, "FORWARDING_LUNCH"},
    {S::lunch_non_office_hours, "FORWARDING_LUNCH"},
    {S::trip_office_hours, "FORWARDING_BUSINESS_TRIP"},
    {S::trip_non_office_hours, "FORWARDING_BUSINESS_TRIP"},
    {S::offline_office_hours, "FORWARDING_NOT_REACHABLE"},
    {S::offline_non_office_hours, "FORWARDING_NOT_REACHABLE"},
  };
  for (const auto& [slot, reason] : table)
    CHECK(std::string(forwarding::reroute_reason(slot)) == reason);
}

TEST_CASE("loop protection") {
  CHECK(forwarding::loop_check({"101", "102"}, "101", 5) == "forwarding loop: 101 -> 102 -> 101");
  CHECK(forwarding::loop_check({"101"}, "101", 5) == "forwarding loop: 101 -> 101");
  CHECK(forwarding::loop_check({"101"}, "102", 1).empty());
  CHECK(forwarding::loop_check({"101", "102"}, "103", 1) == "too many forwards: 101 -> 102 -> 103");
  CHECK(forwarding::loop_check({"101", "102"}, "103", 2).empty());
  CHECK(forwarding::loop_check({"101", "102", "103"}, "104", 2)
        == "too many forwards: 101 -> 102 -> 103 -> 104");
  CHECK(forwarding::loop_check({}, "101", 0).empty());
}

TEST_CASE("caller patterns") {
  using forwarding::caller_matches;
  CHECK(caller_matches("101", "101"));
  CHECK_FALSE(caller_matches("101", "1011"));
  CHECK_FALSE(caller_matches("101", "10"));
  CHECK(caller_matches("10x", "105"));
  CHECK(caller_matches("10X", "105"));
  CHECK(caller_matches("1?5", "1a5"));
  CHECK_FALSE(caller_matches("10x", "10"));
  CHECK_FALSE(caller_matches("10x", "1050"));
  CHECK(caller_matches("*", ""));
  CHECK(caller_matches("*", "anything"));
  CHECK(caller_matches("+49*", "+4930123456"));
  CHECK(caller_matches("+49*", "+49"));
  CHECK_FALSE(caller_matches("+49*", "0049301"));
  CHECK(caller_matches("*23", "123"));
  CHECK_FALSE(caller_matches("*23", "1234"));
  CHECK(caller_matches("1*2*3", "1a2b3"));
  CHECK(caller_matches("a*b", "aXbXb"));
  CHECK(caller_matches("*5x", "12355"));
  // A '*' in the caller is still matched by the pattern's star (found by tests/fuzz).
  CHECK(caller_matches("+9*", "+9*1"));
  CHECK(caller_matches("*", "*1"));
  CHECK(caller_matches("1*", "1**"));
  CHECK_FALSE(caller_matches("1*2", "1*3"));
  CHECK_FALSE(caller_matches("", ""));
  CHECK_FALSE(caller_matches("", "101"));
}

TEST_CASE("slot_allows follows table 4.2") {
  using S = forward_slot;
  using A = forward_action;
  for (std::size_t i = 0; i < storage::forward_slot_count; ++i) {
    auto s = static_cast<S>(i);
    bool can_ring = s == S::available_office_hours || s == S::available_non_office_hours
                    || s == S::busy_office_hours || s == S::busy_non_office_hours;
    INFO(forwarding::slot_name(s));
    CHECK(forwarding::slot_allows(s, A::forward_to_number));
    CHECK(forwarding::slot_allows(s, A::forward_to_voicemail));
    CHECK(forwarding::slot_allows(s, A::hangup));
    CHECK(forwarding::slot_allows(s, A::ring_anyway) == can_ring);
  }
}

TEST_CASE("names round trip") {
  for (std::size_t i = 0; i < storage::forward_slot_count; ++i) {
    auto s = static_cast<forward_slot>(i);
    CHECK(forwarding::parse_slot(forwarding::slot_name(s)) == s);
  }
  CHECK(std::string(forwarding::slot_name(forward_slot::offline_non_office_hours))
        == "offline_non_office_hours");
  CHECK(std::string(forwarding::slot_name(forward_slot::available_no_answer)) == "available_no_answer");
  CHECK_FALSE(forwarding::parse_slot("online_no_answer"));

  const char* actions[] = {"FORWARD_TO_NUMBER", "FORWARD_TO_VOICEMAIL", "RING_ANYWAY", "HANGUP"};
  for (int i = 0; i < 4; ++i) {
    auto a = static_cast<forward_action>(i);
    CHECK(std::string(forwarding::action_name(a)) == actions[i]);
    CHECK(forwarding::parse_action(actions[i]) == a);
  }
  CHECK_FALSE(forwarding::parse_action("forward_to_number"));

  const char* presences[] = {"available", "away", "dnd", "lunch", "trip"};
  for (int i = 0; i < 5; ++i) {
    auto p = static_cast<presence>(i);
    CHECK(std::string(forwarding::presence_name(p)) == presences[i]);
    CHECK(forwarding::parse_presence(presences[i]) == p);
  }
  CHECK_FALSE(forwarding::parse_presence("offline"));
  CHECK_FALSE(forwarding::parse_presence("busy"));

  const char* whens[] = {"ALL_HOURS", "SPECIFIC_HOURS", "OUTSIDE_SPECIFIC_HOURS"};
  for (int i = 0; i < 3; ++i) {
    auto w = static_cast<exception_when>(i);
    CHECK(std::string(forwarding::when_name(w)) == whens[i]);
    CHECK(forwarding::parse_when(whens[i]) == w);
  }
  CHECK_FALSE(forwarding::parse_when("SOMETIMES"));
}
