#include <catch2/catch.hpp>

#include "actors/office_hours.hpp"
#include "fixed_clock.hpp"

using namespace pbx;
using test::hm;
using test::utc;
using office_hours::local_moment;
using storage::time_range;

namespace {

local_moment at(int y, unsigned mo, unsigned d, unsigned weekday, unsigned minute) {
  local_moment m;
  m.year = y;
  m.month = mo;
  m.day = d;
  m.weekday = weekday;
  m.minute = minute;
  return m;
}

storage::week_hours every_day(time_range r) {
  storage::week_hours w;
  for (auto& d : w.days) {
    d.enabled = true;
    d.shifts = {r};
  }
  return w;
}

// Open by `week` at `t` on the wall clock of `zone`.
bool open_at(const storage::week_hours& week, const std::string& zone,
             std::chrono::system_clock::time_point t) {
  std::string err;
  auto m = office_hours::to_local(zone, t, err);
  REQUIRE(m);
  return office_hours::within(week, *m).open;
}

storage::holiday make_holiday(storage::civil_date first, storage::civil_date last, bool every_year) {
  storage::holiday h;
  h.id = 1;
  h.name = "test";
  h.first = first;
  h.last = last;
  h.every_year = every_year;
  return h;
}

}  // namespace

TEST_CASE("in_range: from inclusive, to exclusive") {
  time_range r{hm(9, 0), hm(18, 0)};
  CHECK_FALSE(office_hours::in_range(r, hm(8, 59)));
  CHECK(office_hours::in_range(r, hm(9, 0)));
  CHECK(office_hours::in_range(r, hm(17, 59)));
  CHECK_FALSE(office_hours::in_range(r, hm(18, 0)));
}

TEST_CASE("in_range: 23:59 reaches the end of the day, 00:00-00:00 is empty") {
  time_range late{hm(20, 0), hm(23, 59)};
  CHECK_FALSE(office_hours::in_range(late, hm(19, 59)));
  CHECK(office_hours::in_range(late, hm(23, 58)));
  CHECK(office_hours::in_range(late, hm(23, 59)));
  time_range whole{0, hm(23, 59)};
  CHECK(office_hours::in_range(whole, 0));
  CHECK(office_hours::in_range(whole, hm(23, 59)));
  time_range closed{0, 0};
  CHECK_FALSE(office_hours::in_range(closed, 0));
  CHECK_FALSE(office_hours::in_range(closed, hm(12, 0)));
  CHECK_FALSE(office_hours::in_range(closed, hm(23, 59)));
}

TEST_CASE("within: default global hours, edges at 09:00 and 18:00") {
  auto w = storage::default_global_hours();
  CHECK_FALSE(office_hours::within(w, at(2026, 3, 2, 0, hm(8, 59))).open);
  auto v = office_hours::within(w, at(2026, 3, 2, 0, hm(9, 0)));
  CHECK(v.open);
  CHECK(v.why == "Mon 09:00 in 09:00-18:00");
  CHECK(office_hours::within(w, at(2026, 3, 2, 0, hm(17, 59))).open);
  CHECK_FALSE(office_hours::within(w, at(2026, 3, 2, 0, hm(18, 0))).open);
}

TEST_CASE("within: a day switched off, a day on without shifts") {
  auto w = storage::default_global_hours();
  auto sat = office_hours::within(w, at(2026, 3, 7, 5, hm(10, 0)));
  CHECK_FALSE(sat.open);
  CHECK(sat.why == "Sat switched off");
  w.days[6].enabled = true;  // Sunday on, no shifts: open all day
  CHECK(office_hours::within(w, at(2026, 3, 8, 6, 0)).open);
  CHECK(office_hours::within(w, at(2026, 3, 8, 6, hm(23, 59))).open);
  w.days[0].enabled = false;  // Monday off despite its shift
  CHECK_FALSE(office_hours::within(w, at(2026, 3, 2, 0, hm(10, 0))).open);
}

TEST_CASE("within: several shifts") {
  storage::week_hours w;
  w.days[2].shifts = {{hm(9, 0), hm(12, 0)}, {hm(13, 0), hm(18, 0)}};
  CHECK(office_hours::within(w, at(2026, 3, 4, 2, hm(11, 59))).open);
  auto lunch = office_hours::within(w, at(2026, 3, 4, 2, hm(12, 0)));
  CHECK_FALSE(lunch.open);
  CHECK(lunch.why == "Wed 12:00 outside 09:00-12:00,13:00-18:00");
  CHECK_FALSE(office_hours::within(w, at(2026, 3, 4, 2, hm(12, 59))).open);
  auto pm = office_hours::within(w, at(2026, 3, 4, 2, hm(13, 0)));
  CHECK(pm.open);
  CHECK(pm.why == "Wed 13:00 in 13:00-18:00");
  CHECK_FALSE(office_hours::within(w, at(2026, 3, 4, 2, hm(18, 0))).open);
}

TEST_CASE("within: a 23:59 shift and a 00:00-00:00 day") {
  storage::week_hours w;
  w.days[0].shifts = {{hm(18, 0), hm(23, 59)}};
  w.days[1].shifts = {{0, 0}};
  CHECK(office_hours::within(w, at(2026, 3, 2, 0, hm(23, 59))).open);
  CHECK_FALSE(office_hours::within(w, at(2026, 3, 2, 0, hm(17, 59))).open);
  CHECK_FALSE(office_hours::within(w, at(2026, 3, 3, 1, 0)).open);
  CHECK_FALSE(office_hours::within(w, at(2026, 3, 3, 1, hm(12, 0))).open);
}

TEST_CASE("to_local: zone names, fields and text") {
  CHECK(office_hours::valid_zone("Europe/Berlin"));
  CHECK(office_hours::valid_zone("UTC"));
  CHECK_FALSE(office_hours::valid_zone("Mars/Olympus"));
  CHECK_FALSE(office_hours::valid_zone(""));

  std::string err;
  auto m = office_hours::to_local("Europe/Berlin", utc(2026, 3, 29, 1, 30), err);
  REQUIRE(m);
  CHECK(m->text == "2026-03-29 03:30 CEST (Sun)");
  CHECK(m->year == 2026);
  CHECK(m->month == 3);
  CHECK(m->day == 29);
  CHECK(m->weekday == 6);
  CHECK(m->minute == hm(3, 30));

  auto before = office_hours::to_local("Europe/Berlin", utc(2026, 3, 29, 0, 59), err);
  REQUIRE(before);
  CHECK(before->text == "2026-03-29 01:59 CET (Sun)");

  // Late evening UTC is already the next day (and weekday) in Tokyo.
  auto tokyo = office_hours::to_local("Asia/Tokyo", utc(2026, 3, 1, 23, 0), err);
  REQUIRE(tokyo);
  CHECK(tokyo->day == 2);
  CHECK(tokyo->weekday == 0);
  CHECK(tokyo->minute == hm(8, 0));

  err.clear();
  CHECK_FALSE(office_hours::to_local("Mars/Olympus", utc(2026, 3, 1, 0, 0), err));
  CHECK_FALSE(err.empty());
}

TEST_CASE("DST spring forward: Europe/Berlin 2026-03-29") {
  auto w = every_day({hm(9, 0), hm(18, 0)});
  // Saturday 03-28, CET (+1): 09:00 local = 08:00Z.
  CHECK_FALSE(open_at(w, "Europe/Berlin", utc(2026, 3, 28, 7, 59)));
  CHECK(open_at(w, "Europe/Berlin", utc(2026, 3, 28, 8, 0)));
  // Sunday 03-29, CEST (+2): 09:00 local = 07:00Z.
  CHECK_FALSE(open_at(w, "Europe/Berlin", utc(2026, 3, 29, 6, 59)));
  CHECK(open_at(w, "Europe/Berlin", utc(2026, 3, 29, 7, 0)));
  // 18:00 local closes at 16:00Z on the 29th, at 17:00Z on the 28th.
  CHECK(open_at(w, "Europe/Berlin", utc(2026, 3, 28, 16, 30)));
  CHECK_FALSE(open_at(w, "Europe/Berlin", utc(2026, 3, 29, 16, 0)));
  CHECK_FALSE(open_at(w, "Europe/Berlin", utc(2026, 3, 28, 17, 0)));
}

TEST_CASE("DST fall back: America/New_York 2026-11-01") {
  auto w = every_day({hm(9, 0), hm(18, 0)});
  // Saturday 10-31, EDT (-4): 09:00 local = 13:00Z.
  CHECK_FALSE(open_at(w, "America/New_York", utc(2026, 10, 31, 12, 59)));
  CHECK(open_at(w, "America/New_York", utc(2026, 10, 31, 13, 0)));
  // Sunday 11-01, EST (-5): 09:00 local = 14:00Z; 13:00Z is only 08:00.
  CHECK_FALSE(open_at(w, "America/New_York", utc(2026, 11, 1, 13, 0)));
  CHECK_FALSE(open_at(w, "America/New_York", utc(2026, 11, 1, 13, 59)));
  CHECK(open_at(w, "America/New_York", utc(2026, 11, 1, 14, 0)));
  std::string err;
  auto m = office_hours::to_local("America/New_York", utc(2026, 11, 1, 14, 0), err);
  REQUIRE(m);
  CHECK(m->text == "2026-11-01 09:00 EST (Sun)");
}

TEST_CASE("holidays: one year, every year, time range, wrapping run") {
  std::vector<storage::holiday> list;

  SECTION("every year matches in another year") {
    list.push_back(make_holiday({2026, 12, 25}, {2026, 12, 26}, true));
    CHECK(office_hours::holiday_at(list, at(2030, 12, 25, 2, hm(10, 0))) == &list[0]);
    CHECK(office_hours::holiday_at(list, at(2024, 12, 26, 3, 0)) == &list[0]);
    CHECK(office_hours::holiday_at(list, at(2030, 12, 27, 4, 0)) == nullptr);
    CHECK(office_hours::holiday_at(list, at(2030, 12, 24, 1, 0)) == nullptr);
  }
  SECTION("one year does not match the next year") {
    list.push_back(make_holiday({2026, 12, 25}, {2026, 12, 25}, false));
    CHECK(office_hours::holiday_at(list, at(2026, 12, 25, 4, hm(10, 0))) != nullptr);
    CHECK(office_hours::holiday_at(list, at(2027, 12, 25, 5, hm(10, 0))) == nullptr);
  }
  SECTION("one-year run across the new year compares whole dates") {
    list.push_back(make_holiday({2026, 12, 30}, {2027, 1, 2}, false));
    CHECK(office_hours::holiday_at(list, at(2026, 12, 31, 3, 0)) != nullptr);
    CHECK(office_hours::holiday_at(list, at(2027, 1, 1, 4, 0)) != nullptr);
    CHECK(office_hours::holiday_at(list, at(2027, 1, 3, 6, 0)) == nullptr);
    CHECK(office_hours::holiday_at(list, at(2027, 6, 1, 1, 0)) == nullptr);
    CHECK(office_hours::holiday_at(list, at(2027, 12, 31, 4, 0)) == nullptr);
  }
  SECTION("a holiday with a time range") {
    auto h = make_holiday({2026, 12, 24}, {2026, 12, 24}, false);
    h.whole_day = false;
    h.time = {hm(12, 0), hm(23, 59)};
    list.push_back(h);
    CHECK(office_hours::holiday_at(list, at(2026, 12, 24, 3, hm(11, 59))) == nullptr);
    CHECK(office_hours::holiday_at(list, at(2026, 12, 24, 3, hm(12, 0))) != nullptr);
    CHECK(office_hours::holiday_at(list, at(2026, 12, 24, 3, hm(23, 59))) != nullptr);
    CHECK(office_hours::holiday_at(list, at(2026, 12, 23, 2, hm(13, 0))) == nullptr);
  }
  SECTION("an every-year run wrapping the new year") {
    list.push_back(make_holiday({2000, 12, 31}, {2000, 1, 1}, true));
    CHECK(office_hours::holiday_at(list, at(2027, 12, 31, 4, hm(10, 0))) != nullptr);
    CHECK(office_hours::holiday_at(list, at(2028, 1, 1, 5, hm(10, 0))) != nullptr);
    CHECK(office_hours::holiday_at(list, at(2028, 1, 2, 6, hm(10, 0))) == nullptr);
    CHECK(office_hours::holiday_at(list, at(2027, 12, 30, 3, hm(10, 0))) == nullptr);
    CHECK(office_hours::holiday_at(list, at(2027, 6, 15, 1, hm(10, 0))) == nullptr);
  }
  SECTION("the first covering holiday of the list") {
    auto a = make_holiday({2026, 5, 1}, {2026, 5, 1}, false);
    a.id = 7;
    auto b = make_holiday({2026, 5, 1}, {2026, 5, 1}, true);
    b.id = 8;
    list = {a, b};
    auto* h = office_hours::holiday_at(list, at(2026, 5, 1, 4, 0));
    REQUIRE(h != nullptr);
    CHECK(h->id == 7);
    CHECK(office_hours::holiday_at(list, at(2027, 5, 1, 5, 0))->id == 8);
  }
}

TEST_CASE("day text round trips") {
  std::string err;
  for (std::string text : {"off", "on", "09:00-18:00", "09:00-12:00,13:00-18:00",
                           "00:00-00:00", "00:00-23:59", "08:15-08:16"}) {
    auto d = office_hours::parse_day(text, err);
    INFO(text << ": " << err);
    REQUIRE(d);
    CHECK(office_hours::format_day(*d) == text);
  }
  auto off = office_hours::parse_day("off", err);
  REQUIRE(off);
  CHECK_FALSE(off->enabled);
  auto on = office_hours::parse_day("on", err);
  REQUIRE(on);
  CHECK(on->enabled);
  CHECK(on->shifts.empty());
  auto two = office_hours::parse_day("09:00-12:00,13:00-18:00", err);
  REQUIRE(two);
  REQUIRE(two->shifts.size() == 2);
  CHECK(two->shifts[1].from == hm(13, 0));
  CHECK(two->shifts[1].to == hm(18, 0));
}

TEST_CASE("day and range text rejections") {
  std::string err;
  for (std::string text : {"25:00-26:00", "09:00-08:00", "09:00-09:00", "09:60-10:00",
                           "9:00-10:00", "09:00-12:00,", ",09:00-12:00", "x", "", "ON",
                           "09:00 - 10:00", "mon=x"}) {
    err.clear();
    INFO(text);
    CHECK_FALSE(office_hours::parse_day(text, err));
    CHECK_FALSE(err.empty());
  }
  CHECK_FALSE(office_hours::parse_range("25:00-26:00", err));
  CHECK_FALSE(office_hours::parse_range("09:00-08:00", err));
  CHECK_FALSE(office_hours::parse_range("12:00-12:00", err));
  CHECK_FALSE(office_hours::parse_range("23:59-24:00", err));
  auto closed = office_hours::parse_range("00:00-00:00", err);
  REQUIRE(closed);
  CHECK(closed->from == 0);
  CHECK(closed->to == 0);
  auto r = office_hours::parse_range("07:05-23:59", err);
  REQUIRE(r);
  CHECK(r->from == hm(7, 5));
  CHECK(r->to == hm(23, 59));
  CHECK(office_hours::format_range(*r) == "07:05-23:59");

  // The shell's "mon=x": the key is a weekday, the value is not a day.
  std::string arg = "mon=x";
  auto eq = arg.find('=');
  CHECK(office_hours::parse_weekday(arg.substr(0, eq)) == 0u);
  CHECK_FALSE(office_hours::parse_day(arg.substr(eq + 1), err));
}

TEST_CASE("dates: real calendar dates only") {
  std::string err;
  auto d = office_hours::parse_date("2026-12-25", err);
  REQUIRE(d);
  CHECK(d->year == 2026);
  CHECK(d->month == 12);
  CHECK(d->day == 25);
  CHECK(office_hours::format_date(*d) == "2026-12-25");
  auto leap = office_hours::parse_date("2028-02-29", err);
  REQUIRE(leap);
  CHECK(office_hours::format_date(*leap) == "2028-02-29");
  CHECK(office_hours::format_date({2027, 1, 5}) == "2027-01-05");
  for (std::string text : {"2026-02-30", "2026-02-29", "2026-13-01", "2026-00-10", "2026-04-31",
                           "2026-2-3", "26-12-25", "2026/12/25", "", "2026-12-2x"}) {
    err.clear();
    INFO(text);
    CHECK_FALSE(office_hours::parse_date(text, err));
    CHECK_FALSE(err.empty());
  }
}

TEST_CASE("weekday keys") {
  const char* keys[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
  for (unsigned i = 0; i < 7; ++i) {
    CHECK(office_hours::parse_weekday(keys[i]) == i);
    CHECK(office_hours::parse_weekday(office_hours::weekday_name(i)) == i);
  }
  CHECK(std::string(office_hours::weekday_name(0)) == "Mon");
  CHECK(std::string(office_hours::weekday_name(6)) == "Sun");
  CHECK_FALSE(office_hours::parse_weekday("monday"));
  CHECK_FALSE(office_hours::parse_weekday("x"));
  CHECK_FALSE(office_hours::parse_weekday(""));
}
