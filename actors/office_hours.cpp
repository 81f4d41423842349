#include "actors/office_hours.hpp"

#include <cctype>
#include <cstdio>
#include <exception>
#include <tuple>

#include <date/date.h>
#include <date/tz.h>

namespace pbx::office_hours {

namespace {

constexpr unsigned end_of_day = 23 * 60 + 59;  // 23:59 as `to`: through midnight

const char* const day_short[7] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
const char* const day_key[7] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

std::string hhmm(unsigned minute) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02u:%02u", (minute / 60) % 100, minute % 60);
  return buf;
}

// Exactly two decimal digits at text[pos].
bool two_digits(const std::string& text, std::size_t pos, unsigned& out) {
  if (pos + 2 > text.size())
    return false;
  auto a = static_cast<unsigned char>(text[pos]);
  auto b = static_cast<unsigned char>(text[pos + 1]);
  if (!std::isdigit(a) || !std::isdigit(b))
    return false;
  out = (a - '0') * 10u + (b - '0');
  return true;
}

// "HH:MM" at text[pos]; minutes since midnight.
bool parse_hhmm(const std::string& text, std::size_t pos, unsigned& minute, std::string& err) {
  unsigned h = 0, m = 0;
  if (!two_digits(text, pos, h) || pos + 2 >= text.size() || text[pos + 2] != ':'
      || !two_digits(text, pos + 3, m)) {
    err = "expected HH:MM";
    return false;
  }
  if (h > 23) {
    err = "hour " + text.substr(pos, 2) + " is not 00-23";
    return false;
  }
  if (m > 59) {
    err = "minute " + text.substr(pos + 3, 2) + " is not 00-59";
    return false;
  }
  minute = h * 60 + m;
  return true;
}

std::string shifts_text(const std::vector<storage::time_range>& shifts) {
  std::string out;
  for (const auto& r : shifts) {
    if (!out.empty())
      out += ',';
    out += format_range(r);
  }
  return out;
}

}  // namespace

bool valid_zone(const std::string& zone) {
  if (zone.empty())
    return false;
  try {
    return date::locate_zone(zone) != nullptr;
  } catch (const std::exception&) {
    return false;
  }
}

std::optional<local_moment> to_local(const std::string& zone,
                                     std::chrono::system_clock::time_point t, std::string& err) {
  const date::time_zone* tz = nullptr;
  try {
    if (!zone.empty())
      tz = date::locate_zone(zone);
  } catch (const std::exception&) {
    tz = nullptr;
  }
  if (tz == nullptr) {
    err = "unknown time zone " + (zone.empty() ? std::string("(blank)") : zone);
    return std::nullopt;
  }
  using std::chrono::minutes;
  auto sys = date::floor<minutes>(t);
  // to_local answers in seconds (common type with seconds): back to minutes.
  auto local = date::floor<minutes>(tz->to_local(sys));
  auto info = tz->get_info(sys);
  auto ld = date::floor<date::days>(local);
  date::year_month_day ymd{ld};
  date::weekday wd{ld};
  local_moment m;
  m.year = static_cast<int>(ymd.year());
  m.month = static_cast<unsigned>(ymd.month());
  m.day = static_cast<unsigned>(ymd.day());
  m.weekday = wd.iso_encoding() - 1;  // ISO: Mon = 1 ... Sun = 7
  m.minute = static_cast<unsigned>(date::floor<minutes>(local - ld).count());
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u %s", m.year, m.month, m.day,
                hhmm(m.minute).c_str());
  m.text = std::string(buf) + " " + info.abbrev + " (" + day_short[m.weekday] + ")";
  return m;
}

bool in_range(const storage::time_range& r, unsigned minute) {
  if (r.from == r.to)
    return false;
  if (r.to == end_of_day)
    return minute >= r.from;
  return r.from <= minute && minute < r.to;
}

verdict within(const storage::week_hours& week, const local_moment& m) {
  verdict v;
  unsigned wd = m.weekday < 7 ? m.weekday : 0;
  const auto& day = week.days[wd];
  std::string at = std::string(day_short[wd]) + " " + hhmm(m.minute);
  if (!day.enabled) {
    v.open = false;
    v.why = std::string(day_short[wd]) + " switched off";
    return v;
  }
  if (day.shifts.empty()) {
    v.open = true;
    v.why = at + " open all day";
    return v;
  }
  for (const auto& r : day.shifts) {
    if (in_range(r, m.minute)) {
      v.open = true;
      v.why = at + " in " + format_range(r);
      return v;
    }
  }
  v.open = false;
  v.why = at + " outside " + shifts_text(day.shifts);
  return v;
}

const storage::holiday* holiday_at(const std::vector<storage::holiday>& list,
                                   const local_moment& m) {
  for (const auto& h : list) {
    bool covers = false;
    if (h.every_year) {
      auto md = std::make_tuple(m.month, m.day);
      auto first = std::make_tuple(unsigned(h.first.month), unsigned(h.first.day));
      auto last = std::make_tuple(unsigned(h.last.month), unsigned(h.last.day));
      if (first <= last)
        covers = first <= md && md <= last;
      else  // the run wraps the new year
        covers = md >= first || md <= last;
    } else {
      auto ymd = std::make_tuple(m.year, m.month, m.day);
      auto first = std::make_tuple(h.first.year, unsigned(h.first.month), unsigned(h.first.day));
      auto last = std::make_tuple(h.last.year, unsigned(h.last.month), unsigned(h.last.day));
      covers = first <= ymd && ymd <= last;
    }
    if (covers && !h.whole_day)
      covers = in_range(h.time, m.minute);
    if (covers)
      return &h;
  }
  return nullptr;
}

std::optional<storage::day_hours> parse_day(const std::string& text, std::string& err) {
  storage::day_hours d;
  if (text == "off") {
    d.enabled = false;
    return d;
  }
  if (text == "on") {
    d.enabled = true;
    return d;
  }
  if (text.empty()) {
    err = "expected off, on or HH:MM-HH:MM[,HH:MM-HH:MM...]";
    return std::nullopt;
  }
  std::size_t pos = 0;
  while (true) {
    auto comma = text.find(',', pos);
    auto piece = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    std::string why;
    auto r = parse_range(piece, why);
    if (!r) {
      err = "bad shift '" + piece + "': " + why + " (expected off, on or HH:MM-HH:MM[,...])";
      return std::nullopt;
    }
    d.shifts.push_back(*r);
    if (comma == std::string::npos)
      break;
    pos = comma + 1;
  }
  d.enabled = true;
  return d;
}

std::string format_day(const storage::day_hours& d) {
  if (!d.enabled)
    return "off";
  if (d.shifts.empty())
    return "on";
  return shifts_text(d.shifts);
}

std::optional<storage::time_range> parse_range(const std::string& text, std::string& err) {
  if (text.size() != 11 || text[5] != '-') {
    err = "expected HH:MM-HH:MM";
    return std::nullopt;
  }
  unsigned from = 0, to = 0;
  if (!parse_hhmm(text, 0, from, err) || !parse_hhmm(text, 6, to, err))
    return std::nullopt;
  bool closed_day = from == 0 && to == 0;
  if (!closed_day && from >= to) {
    err = "the start must be before the end";
    return std::nullopt;
  }
  return storage::time_range{static_cast<std::uint16_t>(from), static_cast<std::uint16_t>(to)};
}

std::string format_range(const storage::time_range& r) {
  return hhmm(r.from) + "-" + hhmm(r.to);
}

std::optional<storage::civil_date> parse_date(const std::string& text, std::string& err) {
  bool shape = text.size() == 10 && text[4] == '-' && text[7] == '-';
  for (std::size_t i = 0; shape && i < text.size(); ++i)
    if (i != 4 && i != 7 && !std::isdigit(static_cast<unsigned char>(text[i])))
      shape = false;
  if (!shape) {
    err = "expected YYYY-MM-DD";
    return std::nullopt;
  }
  int y = std::stoi(text.substr(0, 4));
  unsigned mo = static_cast<unsigned>(std::stoi(text.substr(5, 2)));
  unsigned d = static_cast<unsigned>(std::stoi(text.substr(8, 2)));
  date::year_month_day ymd{date::year{y}, date::month{mo}, date::day{d}};
  if (!ymd.ok()) {
    err = text + " is not a calendar date";
    return std::nullopt;
  }
  storage::civil_date c;
  c.year = y;
  c.month = static_cast<std::uint8_t>(mo);
  c.day = static_cast<std::uint8_t>(d);
  return c;
}

std::string format_date(const storage::civil_date& d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(d.year),
                static_cast<unsigned>(d.month), static_cast<unsigned>(d.day));
  return buf;
}

std::optional<unsigned> parse_weekday(const std::string& key) {
  std::string k;
  for (char c : key)
    k += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (unsigned i = 0; i < 7; ++i)
    if (k == day_key[i])
      return i;
  return std::nullopt;
}

const char* weekday_name(unsigned weekday) {
  return weekday < 7 ? day_short[weekday] : "?";
}

}  // namespace pbx::office_hours
