#include "actors/e164.hpp"

#include <algorithm>

namespace pbx::e164 {

namespace {

bool all_digits(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool starts_with(std::string_view s, std::string_view p) {
  return !p.empty() && s.size() > p.size() && s.compare(0, p.size(), p) == 0;
}

std::string check_code(const char* field, const std::string& v, std::size_t max, bool required) {
  if (v.empty())
    return required ? std::string(field) + ": required when E.164 processing is enabled" : "";
  if (!all_digits(v) || v.size() > max)
    return std::string(field) + ": '" + v + "' is not 1-" + std::to_string(max) + " digits";
  return {};
}

// E.164 numbers have at most 15 digits; fewer than 7 after the conversion is a
// short or service number ("0800", "999"), which stays as it came.
bool plausible(std::size_t digits) { return digits >= 7 && digits <= 15; }

} // namespace

std::string validate(const storage::e164_record& cfg) {
  // Codes are checked for shape always; the ones the conversion cannot work
  // without are required only when it is on.
  for (auto e : {check_code("international_code", cfg.international_code, 6, cfg.enabled),
                 check_code("country_code", cfg.country_code, 4, cfg.enabled),
                 check_code("area_code", cfg.area_code, 6, false),
                 check_code("national_code", cfg.national_code, 6, false)})
    if (!e.empty())
      return e;
  return {};
}

std::string outgoing(const storage::e164_record& cfg, std::string_view number) {
  if (!cfg.enabled)
    return std::string(number);
  std::string n;
  n.reserve(number.size());
  for (char c : number)
    if (!cfg.remove_symbols || (c != '(' && c != ')' && c != ' ' && c != '-'))
      n += c;
  if (n.empty() || n.front() != '+')
    return n;
  // Without remove_symbols the codes are compared with the text as written.
  std::string_view rest = std::string_view(n).substr(1);
  if (cfg.remove_same_country && starts_with(rest, cfg.country_code)) {
    auto national = rest.substr(cfg.country_code.size());
    if (cfg.remove_duplicate_area && starts_with(national, cfg.area_code))
      return std::string(national.substr(cfg.area_code.size()));
    return cfg.national_code + std::string(national);
  }
  return cfg.international_code + std::string(rest);
}

std::string incoming(const storage::e164_record& cfg, std::string_view number) {
  if (!cfg.enabled || !all_digits(number))
    return std::string(number);
  // International first: "00" starts with the national "0" too.
  if (starts_with(number, cfg.international_code)) {
    auto rest = number.substr(cfg.international_code.size());
    if (plausible(rest.size()))
      return "+" + std::string(rest);
    return std::string(number);
  }
  if (!cfg.country_code.empty() && starts_with(number, cfg.national_code)) {
    auto rest = number.substr(cfg.national_code.size());
    if (plausible(cfg.country_code.size() + rest.size()))
      return "+" + cfg.country_code + std::string(rest);
  }
  return std::string(number);
}

} // namespace pbx::e164
