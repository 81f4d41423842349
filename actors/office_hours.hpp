#pragma once
// Office hours and holidays: is a moment inside the office hours of a week,
// and is it a holiday, in an IANA time zone (date's tz library, so DST
// transitions come from tzdata, not from offset arithmetic).

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "storage/rule_records.hpp"

namespace pbx::office_hours {

/// A moment on the local wall clock of a zone.
struct local_moment {
  std::int32_t year = 0;
  unsigned month = 1, day = 1;
  unsigned weekday = 0;  // 0 = Monday ... 6 = Sunday
  unsigned minute = 0;   // minutes since local midnight
  std::string text;      // e.g. "2026-03-29 03:30 CEST (Sun)"
};

/// false when `zone` is not an IANA zone name known to tzdata.
bool valid_zone(const std::string& zone);

/// The local wall clock of `zone` at `t`; nullopt (and `err`) for an unknown zone.
std::optional<local_moment> to_local(const std::string& zone,
                                     std::chrono::system_clock::time_point t, std::string& err);

/// Is `minute` inside `r` (23:59 as `to` reaches the end of the day; from == to is empty).
bool in_range(const storage::time_range& r, unsigned minute);

struct verdict {
  bool open = false;
  std::string why;  // e.g. "Mon 09:00 in 09:00-12:00", "Sat switched off"
};

/// Open by the week's hours at `m` (holidays not considered).
verdict within(const storage::week_hours& week, const local_moment& m);

/// The first holiday of `list` that covers `m`, or null.
const storage::holiday* holiday_at(const std::vector<storage::holiday>& list,
                                   const local_moment& m);

// Text forms used by the admin shell.
/// "off" (closed), "on" (open all day) or "09:00-12:00,13:00-18:00".
std::optional<storage::day_hours> parse_day(const std::string& text, std::string& err);
std::string format_day(const storage::day_hours& d);
/// "HH:MM-HH:MM" with from <= to (from == to only as 00:00-00:00).
std::optional<storage::time_range> parse_range(const std::string& text, std::string& err);
std::string format_range(const storage::time_range& r);
/// "YYYY-MM-DD", a real calendar date.
std::optional<storage::civil_date> parse_date(const std::string& text, std::string& err);
std::string format_date(const storage::civil_date& d);
/// mon tue wed thu fri sat sun -> 0..6
std::optional<unsigned> parse_weekday(const std::string& key);
const char* weekday_name(unsigned weekday);

} // namespace pbx::office_hours
