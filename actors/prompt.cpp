#include "actors/prompt.hpp"

#include <chrono>
#include <exception>
#include <sys/stat.h>

#include <date/date.h>
#include <date/tz.h>

namespace pbx {

namespace {

std::string num(unsigned n) { return "num-" + std::to_string(n); }

void append(std::vector<std::string>& out, const std::vector<std::string>& more) {
  out.insert(out.end(), more.begin(), more.end());
}

// 0-99: 0-59 are whole prompts (clock minutes need them), above that tens + unit.
void say_below_100(unsigned n, std::vector<std::string>& out) {
  if (n < 60 || n % 10 == 0) {
    out.push_back(num(n));
    return;
  }
  out.push_back(num(n - n % 10));
  out.push_back(num(n % 10));
}

// 1-999.
void say_below_1000(unsigned n, std::vector<std::string>& out) {
  if (n >= 100) {
    out.push_back(num(n / 100));
    out.push_back("hundred");
  }
  if (n % 100 != 0)
    say_below_100(n % 100, out);
}

const date::time_zone* zone_or_utc(const std::string& tz) {
  try {
    if (!tz.empty())
      return date::locate_zone(tz);
  } catch (const std::exception&) {
  }
  return date::locate_zone("UTC");
}

const char* const weekdays[] = {"day-sunday",   "day-monday", "day-tuesday", "day-wednesday",
                                "day-thursday", "day-friday", "day-saturday"};
const char* const months[] = {"month-january",   "month-february", "month-march",
                              "month-april",     "month-may",      "month-june",
                              "month-july",      "month-august",   "month-september",
                              "month-october",   "month-november", "month-december"};

} // namespace

std::vector<std::string> say_number(unsigned n) {
  std::vector<std::string> out;
  if (n == 0) {
    out.push_back(num(0));
    return out;
  }
  struct group { unsigned value; const char* word; };
  const group groups[] = {{1000000000u, "billion"}, {1000000u, "million"}, {1000u, "thousand"}};
  for (const auto& g : groups) {
    if (n >= g.value) {
      say_below_1000(n / g.value, out);
      out.push_back(g.word);
      n %= g.value;
    }
  }
  if (n != 0)
    say_below_1000(n, out);
  return out;
}

std::vector<std::string> say_digits(std::string_view digits) {
  std::vector<std::string> out;
  for (char c : digits) {
    if (c >= '0' && c <= '9')
      out.push_back(std::string("digit-") + c);
    else if (c == '*')
      out.push_back("digit-star");
    else if (c == '#')
      out.push_back("digit-pound");
  }
  return out;
}

std::vector<std::string> say_message_counts(unsigned new_count, unsigned saved_count) {
  std::vector<std::string> out{"vm-you-have"};
  if (new_count == 0 && saved_count == 0) {
    out.push_back("vm-no-messages");
    return out;
  }
  if (new_count != 0) {
    append(out, say_number(new_count));
    out.push_back(new_count == 1 ? "vm-new-message" : "vm-new-messages");
  }
  if (new_count != 0 && saved_count != 0)
    out.push_back("and");
  if (saved_count != 0) {
    append(out, say_number(saved_count));
    out.push_back(saved_count == 1 ? "vm-saved-message" : "vm-saved-messages");
  }
  return out;
}

std::optional<time_readout> parse_time_readout(std::string_view text) {
  if (text == "12h")
    return time_readout::h12;
  if (text == "24h")
    return time_readout::h24;
  if (text == "off")
    return time_readout::off;
  return std::nullopt;
}

std::vector<std::string> say_received(std::int64_t unix_seconds, const std::string& tz,
                                      time_readout readout) {
  std::vector<std::string> out;
  if (readout == time_readout::off)
    return out;
  using std::chrono::minutes;
  using std::chrono::seconds;
  auto sys = date::sys_seconds{seconds{unix_seconds}};
  auto local = zone_or_utc(tz)->to_local(sys);
  auto day = date::floor<date::days>(local);
  date::year_month_day ymd{day};
  auto minute_of_day = date::floor<minutes>(local - day).count();
  unsigned hour = static_cast<unsigned>(minute_of_day / 60);
  unsigned minute = static_cast<unsigned>(minute_of_day % 60);

  out.push_back("vm-received");
  out.push_back(weekdays[date::weekday{day}.c_encoding()]);
  out.push_back(months[static_cast<unsigned>(ymd.month()) - 1]);
  out.push_back("ord-" + std::to_string(static_cast<unsigned>(ymd.day())));
  out.push_back("at");
  bool h12 = readout == time_readout::h12;
  unsigned spoken_hour = h12 ? (hour % 12 == 0 ? 12 : hour % 12) : hour;
  out.push_back(num(spoken_hour));
  if (minute == 0) {
    out.push_back(h12 ? "oclock" : "hundred");
  } else {
    if (minute < 10)
      out.push_back("oh");
    out.push_back(num(minute));
  }
  if (h12)
    out.push_back(hour < 12 ? "am" : "pm");
  return out;
}

std::string prompt_path(const std::string& system_dir, const std::string& tenant_dir,
                        const std::string& name) {
  auto file = name + ".wav";
  if (!tenant_dir.empty()) {
    auto candidate = tenant_dir + "/" + file;
    struct stat st{};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode))
      return candidate;
  }
  return system_dir + "/" + file;
}

std::string tenant_prompt_dir(const std::string& data_dir, const std::string& domain) {
  // The domain becomes a path component: nothing that could leave DATA/prompts.
  if (domain.empty() || domain == "." || domain == ".." || domain.find('/') != std::string::npos)
    return {};
  return data_dir + "/prompts/" + domain;
}

} // namespace pbx
