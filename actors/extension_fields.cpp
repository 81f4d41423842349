#include "actors/extension_fields.hpp"

#include <algorithm>
#include <cctype>

#include "actors/mailbox.hpp"
#include "actors/office_hours.hpp"
#include "actors/digest.hpp"
#include "actors/password.hpp"
#include "actors/trunk_config.hpp"

namespace pbx {

namespace {

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) != 0;
  });
}

// PortSIP's web user name rule: 1-64 of [A-Za-z0-9_-'.], not starting or
// ending with '.', and not a reserved name.
std::string check_web_user(std::string_view s) {
  if (s.empty() || s.size() > 64)
    return "name must be 1-64 characters";
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-'
        && c != '\'' && c != '.')
      return "name may hold letters, digits and _ - ' . only";
  if (s.front() == '.' || s.back() == '.')
    return "name may not start or end with '.'";
  std::string lower{s};
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  for (auto reserved : {"admin", "system", "administrator", "root"})
    if (lower == reserved)
      return "name '" + lower + "' is reserved";
  return {};
}

bool parse_bool(std::string_view v, bool& out) {
  if (v == "true" || v == "1" || v == "yes") {
    out = true;
    return true;
  }
  if (v == "false" || v == "0" || v == "no") {
    out = false;
    return true;
  }
  return false;
}

bool valid_email(std::string_view v) {
  auto at = v.find('@');
  return at != std::string_view::npos && at > 0 && at + 1 < v.size()
         && v.find('@', at + 1) == std::string_view::npos
         && v.find(' ') == std::string_view::npos;
}

} // namespace

std::string check_password_fields(const field_list& fields) {
  for (auto& [k, v] : fields)
    if (k == "password" && v.size() < 8)
      return "password must be at least 8 characters";
  return {};
}

void hash_password_fields(field_list& fields) {
  for (auto& [k, v] : fields) {
    if (k != "password")
      continue;
    k = hashed_password_field;
    v = password::hash(v);
  }
}

bool has_password_field(const field_list& fields) {
  for (auto& [k, v] : fields)
    if (k == "password")
      return true;
  return false;
}

bool valid_extension_number(std::string_view number) {
  return number.size() >= 3 && number.size() <= 64 && all_digits(number);
}

bool phone_number(std::string_view n) {
  auto digits = !n.empty() && n[0] == '+' ? n.substr(1) : n;
  return !digits.empty() && digits.size() <= 32 && all_digits(digits);
}

std::string apply_extension_fields(storage::extension_record& rec,
                                   const field_list& fields, bool creating, bool allow_weak) {
  auto next = rec;
  for (auto& [key, value] : fields) {
    if (key == "extension_number") {
      if (!creating)
        return "extension_number cannot be changed";
      if (value != next.number)
        return "extension_number " + value + " differs from " + next.number;
    } else if (key == "extension_password") {
      if (value.size() < 4 || value.size() > 64)
        return "extension_password must be 4-64 characters";
      if (!allow_weak && (value.size() < 8 || value == next.number))
        return "extension_password is weak: it needs 8 characters and must not be the "
               "extension number (the tenant's allow_weak_passwords=true allows it)";
      // Only the HA1 is kept: a digest check needs nothing more.
      next.sip_ha1 = digest::ha1(next.number, next.domain, value);
      next.sip_password.clear();
    } else if (key == "display_name") {
      if (value.size() > 128)
        return "display_name is longer than 128 characters";
      next.display_name = value;
    } else if (key == "email") {
      if (!value.empty() && !valid_email(value))
        return "email '" + value + "' is not an address";
      next.email = value;
    } else if (key == "role") {
      if (value != "user" && value != "admin")
        return "role must be user or admin";
      next.role = value;
    } else if (key == "enabled") {
      if (!parse_bool(value, next.enabled))
        return "enabled must be true or false";
    } else if (key == "name") {
      if (auto err = check_web_user(value); !err.empty())
        return err;
      next.web_user = value;
    } else if (key == "password") {
      if (value.size() < 8)
        return "password must be at least 8 characters";
      next.web_password_hash = password::hash(value);
    } else if (key == hashed_password_field) {
      next.web_password_hash = value; // hashed by the shell session already
    } else if (key == "voicemail_pin") {
      // Blank: no PIN set.
      if (!value.empty())
        if (auto err = mailbox::check_pin(value); !err.empty())
          return err;
      next.voicemail_pin = value;
    } else if (key == "pin_auth") {
      if (!parse_bool(value, next.pin_auth))
        return "pin_auth must be true or false";
    } else if (key == "mwi_unsolicited") {
      if (!parse_bool(value, next.mwi_unsolicited))
        return "mwi_unsolicited must be true or false";
    } else if (key == "time_readout") {
      if (value != "12h" && value != "24h" && value != "off")
        return "time_readout must be 12h, 24h or off";
      next.time_readout = value;
    } else if (key == "max_messages") {
      if (!all_digits(value) || value.size() > 4 || std::stoi(value) < 1)
        return "max_messages must be 1-9999";
      next.max_messages = static_cast<std::uint32_t>(std::stoi(value));
    } else if (key == "greeting") {
      return "greeting is set by 'voicemail greeting DOMAIN NUMBER set FILE|reset'";
    } else if (key == "no_answer_timeout") {
      if (!all_digits(value) || value.size() > 4 || std::stoi(value) < 5
          || std::stoi(value) > 600)
        return "no_answer_timeout must be 5-600 seconds";
      next.no_answer_timeout = static_cast<std::uint32_t>(std::stoi(value));
      // The Users-page field is the Available no-answer rule's timeout.
      next.forwarding.rules[static_cast<std::size_t>(storage::forward_slot::available_no_answer)]
        .timeout = next.no_answer_timeout;
    } else if (key == "mobile_phone") {
      next.mobile_phone = value;
    } else if (key == "work_phone") {
      next.work_phone = value;
    } else if (key == "home_phone") {
      next.home_phone = value;
    } else if (key == "address") {
      next.address = value;
    } else if (key == "department") {
      next.department = value;
    } else if (key == "timezone") {
      // Blank: the tenant's zone. Office hours and holidays are read in it.
      if (!value.empty() && !office_hours::valid_zone(value))
        return "unknown time zone '" + value + "'";
      next.forwarding.timezone = value;
    } else if (key == "outbound_caller_id") {
      if (auto err = trunk_config::apply_outbound_caller_ids(next.outbound_caller_ids, value);
          !err.empty())
        return err;
    } else if (key == "anonymous_outbound") {
      if (!trunk_config::parse_yes_no(value, next.anonymous_outbound))
        return "anonymous_outbound must be yes or no";
    } else {
      return "unknown field '" + key + "'";
    }
  }
  if (creating && next.sip_ha1.empty())
    return "extension_password is required";
  rec = std::move(next);
  return {};
}

field_list describe_extension(const storage::extension_record& rec) {
  return {
    {"extension_number", rec.number},
    {"display_name", rec.display_name},
    {"email", rec.email},
    {"role", rec.role},
    {"enabled", rec.enabled ? "true" : "false"},
    {"name", rec.web_user},
    {"mobile_phone", rec.mobile_phone},
    {"work_phone", rec.work_phone},
    {"home_phone", rec.home_phone},
    {"address", rec.address},
    {"department", rec.department},
    {"no_answer_timeout", std::to_string(rec.no_answer_timeout)},
    {"timezone", rec.forwarding.timezone},
    {"pin_auth", rec.pin_auth ? "true" : "false"},
    {"time_readout", rec.time_readout},
    {"max_messages", std::to_string(rec.max_messages)},
    {"mwi_unsolicited", rec.mwi_unsolicited ? "true" : "false"},
    {"greeting", rec.greeting},
    {"outbound_caller_id", trunk_config::format_outbound_caller_ids(rec.outbound_caller_ids)},
    {"anonymous_outbound", rec.anonymous_outbound ? "true" : "false"},
  };
}

void copy_extension_settings(const storage::extension_record& from,
                             storage::extension_record& to) {
  to.display_name = from.display_name;
  to.email = from.email;
  to.role = from.role;
  to.enabled = from.enabled;
  to.mobile_phone = from.mobile_phone;
  to.work_phone = from.work_phone;
  to.home_phone = from.home_phone;
  to.address = from.address;
  to.department = from.department;
  to.no_answer_timeout = from.no_answer_timeout;
  // Mailbox settings, not its PIN or greeting (the other box's file).
  to.pin_auth = from.pin_auth;
  to.time_readout = from.time_readout;
  to.max_messages = from.max_messages;
  to.mwi_unsolicited = from.mwi_unsolicited;
  // Caller IDs name the person's numbers: not copied. Anonymity is a setting.
  to.anonymous_outbound = from.anonymous_outbound;
  // Forwarding rules, hours, holidays and exceptions are settings; the
  // presence (status, note) belongs to the person.
  auto status = to.forwarding.status;
  auto note = to.forwarding.note;
  to.forwarding = from.forwarding;
  to.forwarding.status = status;
  to.forwarding.note = note;
  to.forwarding.saved.clear();
}

} // namespace pbx
