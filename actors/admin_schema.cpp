#include "actors/admin_schema.hpp"

#include <algorithm>
#include <iterator>
#include <cctype>
#include <ctime>

namespace pbx {

const char* to_string(admin_errc code) {
  switch (code) {
    case admin_errc::none: return "none";
    case admin_errc::invalid: return "invalid";
    case admin_errc::not_found: return "not_found";
    case admin_errc::conflict: return "conflict";
    case admin_errc::forbidden: return "forbidden";
    case admin_errc::unauthorized: return "unauthorized";
    case admin_errc::too_large: return "too_large";
    case admin_errc::unsupported: return "unsupported";
    case admin_errc::internal: return "internal";
  }
  return "internal";
}

admin_reply admin_invalid(std::string reason, std::string field) {
  if (field.empty())
    field = admin_schema::blamed_field(reason);
  return admin_fail(admin_errc::invalid, std::move(reason), std::move(field));
}

std::string principal_name(const admin_principal& who) {
  if (who.role == admin_role::system)
    return "admin";
  return who.number + "@" + who.domain;
}

} // namespace pbx

namespace pbx::admin_schema {

namespace {

constexpr std::string_view integers[] = {
  "port", "expires_in", "extensions", "voicemail_max_seconds", "voicemail_min_seconds",
  "voicemail_silence_seconds", "voicemail_retain_days", "no_answer_timeout", "max_messages",
  "timeout", "seconds", "step", "sip_code", "ring_seconds", "talk_seconds", "duration",
  "imported", "tenants", "live_tenant_actors", "live_extension_actors", "actors", "devices", "registrations",
  "revoked", "fresh", "saved", "calls", "register_interval", "keep_alive_interval", "max_calls",
  "priority", "max_trunk_calls"};

constexpr std::string_view booleans[] = {
  "enabled", "allow_weak_passwords", "pin_auth", "mwi_unsolicited", "every_year", "read",
  "keep_alive", "diversion", "keep_caller_id", "e164", "e164_remove_symbols",
  "e164_remove_same_country", "e164_remove_duplicate_area", "anonymous_outbound", "online"};

// Every field an error may blame: input fields of every operation.
constexpr std::string_view inputs[] = {
  "domain", "name", "timezone", "allow_weak_passwords", "voicemail_number",
  "voicemail_max_seconds", "voicemail_min_seconds", "voicemail_silence_seconds",
  "voicemail_retain_days", "extension_number", "extension_password", "display_name", "email",
  "role", "enabled", "password", "mobile_phone", "work_phone", "home_phone", "address",
  "department", "voicemail_pin", "pin_auth", "time_readout", "max_messages", "mwi_unsolicited",
  "greeting", "no_answer_timeout", "status", "note", "slot", "action", "number", "mailbox",
  "timeout", "mode", "mon", "tue", "wed", "thu", "fri", "sat", "sun", "date", "time",
  "every_year", "caller", "when", "code", "feature", "at", "limit",
  // trunks, inbound and outbound rules, E.164 (actors/trunk_config.hpp)
  "auth_mode", "host", "port", "transport", "outbound_proxy", "username", "auth_username",
  "register_interval", "keep_alive", "keep_alive_interval", "source_ips", "did_pool",
  "max_calls", "did_in", "diversion", "keep_caller_id", "caller_id", "trunk", "did", "cid",
  "office", "outside", "holiday", "priority", "prefix", "length", "callers", "strategy",
  "outside_hours", "holidays", "route", "e164", "international_code", "country_code",
  "area_code", "national_code", "e164_remove_symbols", "e164_remove_same_country",
  "e164_remove_duplicate_area", "max_trunk_calls", "outbound_caller_id", "anonymous_outbound"};

bool known(std::string_view name) {
  return std::find(std::begin(inputs), std::end(inputs), name) != std::end(inputs);
}

} // namespace

field_kind kind_of(std::string_view resource, std::string_view name) {
  if (resource == "cdr" && name == "devices")
    return field_kind::text; // contact=code,... there; a count in status
  if (name == "id") // a holiday's or exception's number; a voicemail message's "3-17"
    return resource == "holiday" || resource == "exception" || resource == "explain"
             ? field_kind::integer
             : field_kind::text;
  if (std::find(std::begin(booleans), std::end(booleans), name) != std::end(booleans))
    return field_kind::boolean;
  if (std::find(std::begin(integers), std::end(integers), name) != std::end(integers))
    return field_kind::integer;
  return field_kind::text;
}

std::string iso_time_ms(std::int64_t ms) {
  if (ms == 0)
    return {};
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  return std::string{buf} + "." + std::to_string(1000 + ms % 1000).substr(1) + "Z";
}

std::string blamed_field(std::string_view reason) {
  constexpr std::string_view unknown = "unknown field '";
  if (reason.rfind(unknown, 0) == 0) {
    auto end = reason.find('\'', unknown.size());
    if (end != std::string_view::npos)
      return std::string{reason.substr(unknown.size(), end - unknown.size())};
  }
  // "unknown slot 'x'", "unknown action 'x'", "unknown time zone 'x'"...
  if (reason.rfind("unknown time zone", 0) == 0)
    return "timezone";
  if (reason.rfind("unknown ", 0) == 0) {
    auto word = reason.substr(8, reason.find(' ', 8) - 8);
    return known(word) ? std::string{word} : std::string{};
  }
  // Reasons start with the field they are about: "timeout must ...",
  // "date: ...", "number= goes with ...", "caller pattern ...".
  std::size_t n = 0;
  while (n < reason.size()
         && (std::islower(static_cast<unsigned char>(reason[n]))
             || std::isdigit(static_cast<unsigned char>(reason[n])) || reason[n] == '_'))
    ++n;
  auto word = reason.substr(0, n);
  return known(word) ? std::string{word} : std::string{};
}

} // namespace pbx::admin_schema
