// The forwarding rules' text parsers, each on the whole input: office hours
// (a day, a range), holiday dates, weekday keys, feature codes, explain's
// instant, and caller patterns (input "PATTERN\nCALLER"). The checks are
// what each parser's header promises.

#include <cctype>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "actors/feature_code.hpp"
#include "actors/forwarding.hpp"
#include "actors/office_hours.hpp"
#include "actors/rule_commands.hpp"

using namespace pbx;

namespace {

void check(bool ok) {
  if (!ok)
    __builtin_trap();
}

std::string lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// forwarding.hpp's definition of a caller pattern, the slow way.
bool pattern_oracle(std::string_view pat, std::string_view caller) {
  if (pat.empty())
    return false;
  const auto w = caller.size() + 1;
  // m[i * w + j]: pat[i..] matches caller[j..].
  std::vector<char> m((pat.size() + 1) * w, 0);
  m[pat.size() * w + caller.size()] = 1;
  for (auto i = pat.size(); i-- > 0;)
    for (auto j = caller.size() + 1; j-- > 0;) {
      char p = pat[i];
      bool r;
      if (p == '*')
        r = m[(i + 1) * w + j] || (j < caller.size() && m[i * w + j + 1]);
      else
        r = j < caller.size() && (p == 'x' || p == 'X' || p == '?' || p == caller[j])
            && m[(i + 1) * w + j + 1];
      m[i * w + j] = r;
    }
  return m[0];
}

// feature_code.hpp: 1-3 of `*`/`#`, then 0-4 digits, 2-7 characters in all.
bool code_shape(const std::string& code) {
  std::size_t p = 0;
  while (p < code.size() && (code[p] == '*' || code[p] == '#'))
    ++p;
  for (auto i = p; i < code.size(); ++i)
    if (code[i] < '0' || code[i] > '9')
      return false;
  return code.size() >= 2 && code.size() <= 7 && p >= 1 && p <= 3 && code.size() - p <= 4;
}

void hours(const std::string& text) {
  std::string err;
  if (auto r = office_hours::parse_range(text, err)) {
    check(office_hours::format_range(*r) == text);
    check(r->to <= 23 * 60 + 59 && (r->from < r->to || (r->from == 0 && r->to == 0)));
  }
  if (auto d = office_hours::parse_day(text, err))
    check(office_hours::format_day(*d) == text);
  if (auto d = office_hours::parse_date(text, err))
    check(office_hours::format_date(*d) == text);
  if (auto w = office_hours::parse_weekday(text))
    check(*w < 7 && lower(office_hours::weekday_name(*w)) == lower(text));
}

void codes(const std::string& text) {
  check(feature_code::check_code(text).empty() == code_shape(text));
  storage::tenant_rules_record defaults;
  if (auto m = feature_code::find(defaults, text))
    check(m->what && feature_code::code_of(defaults, m->what->name) + m->arg == text);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text{reinterpret_cast<const char*>(data), size};
  hours(text);
  codes(text);
  (void)rule_commands::parse_instant(text);

  auto nl = text.find('\n');
  std::string_view pattern{text}, caller{text};
  if (nl != std::string::npos) {
    pattern = pattern.substr(0, nl);
    caller = caller.substr(nl + 1);
  }
  bool matches = forwarding::caller_matches(pattern, caller);
  // The oracle is quadratic: the shell takes patterns of at most 64 characters.
  if (pattern.size() <= 64 && caller.size() <= 1024)
    check(matches == pattern_oracle(pattern, caller));
  return 0;
}
