// Plain records of the forwarding domain (statuses, rules, office hours,
// holidays, exceptions, feature codes), persisted inside the tenant and
// extension records. Same wire rule as records.hpp: append, never reorder.
// Enums are stored by value: never renumber one.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <cereal/cereal.hpp>
#include <cereal/types/array.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/vector.hpp>

namespace pbx::storage {

enum class presence : std::uint8_t { available = 0, away = 1, dnd = 2, lunch = 3, trip = 4 };

enum class forward_action : std::uint8_t {
  forward_to_number = 0,
  forward_to_voicemail = 1,
  ring_anyway = 2,
  hangup = 3,
};

// The spec's rule fields without `_forward_rule`, in this order.
enum class forward_slot : std::uint8_t {
  available_office_hours = 0,
  available_non_office_hours,
  available_no_answer,
  busy_office_hours,
  busy_non_office_hours,
  busy_no_answer,
  dnd_office_hours,
  dnd_non_office_hours,
  away_office_hours,
  away_non_office_hours,
  lunch_office_hours,
  lunch_non_office_hours,
  trip_office_hours,
  trip_non_office_hours,
  offline_office_hours,
  offline_non_office_hours,
};
constexpr std::size_t forward_slot_count = 16;

struct forward_rule {
  forward_action action = forward_action::forward_to_voicemail;
  std::string number;   // FORWARD_TO_NUMBER target
  std::string mailbox;  // FORWARD_TO_VOICEMAIL: blank = own mailbox
  std::uint32_t timeout = 60;  // no-answer slots: seconds of ringing

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t const version) {
    ar(action, number, mailbox, timeout);
    (void)version;
  }
  bool operator==(const forward_rule& o) const {
    return action == o.action && number == o.number && mailbox == o.mailbox
           && timeout == o.timeout;
  }
};

// Minutes since local midnight. `to` 23:59 (1439) means through the end of the
// day; from == to is an empty range (00:00-00:00 = closed).
struct time_range {
  std::uint16_t from = 0, to = 0;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t const version) {
    ar(from, to);
    (void)version;
  }
};

// A day switched off is closed; on with no shifts is open all day; on with
// shifts is open only within them.
struct day_hours {
  bool enabled = true;
  std::vector<time_range> shifts;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t const version) {
    ar(enabled, shifts);
    (void)version;
  }
};

// days[0] is Monday ... days[6] Sunday.
struct week_hours {
  std::array<day_hours, 7> days;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t const version) {
    ar(days);
    (void)version;
  }
};

struct civil_date {
  std::int32_t year = 0;
  std::uint8_t month = 1, day = 1;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t const version) {
    ar(year, month, day);
    (void)version;
  }
};

// A named holiday: the days first..last (inclusive), all day or only within
// `time` on each of them; every_year ignores the years (a run may wrap the
// new year, e.g. 12-31..01-01).
struct holiday {
  std::uint32_t id = 0;
  std::string name;
  civil_date first, last;
  bool whole_day = true;
  time_range time;
  bool every_year = false;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t const version) {
    ar(id, name, first, last, whole_day, time, every_year);
    (void)version;
  }
};

enum class exception_when : std::uint8_t { all_hours = 0, specific_hours = 1, outside_specific_hours = 2 };

// Caller pattern: digits/characters match themselves, `x` or `?` one
// character, `*` any run (also empty); the whole caller ID must match.
struct exception_rule {
  std::uint32_t id = 0;
  std::string caller;
  exception_when when = exception_when::all_hours;
  week_hours hours;  // for specific/outside_specific hours
  forward_rule rule;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t const version) {
    ar(id, caller, when, hours, rule);
    (void)version;
  }
};

// Available and Busy ring (RING_ANYWAY) and go to voicemail after 60 s of
// no answer; every other status and Offline go straight to voicemail.
inline std::array<forward_rule, forward_slot_count> default_forward_rules() {
  std::array<forward_rule, forward_slot_count> r;
  for (auto s : {forward_slot::available_office_hours, forward_slot::available_non_office_hours,
                 forward_slot::busy_office_hours, forward_slot::busy_non_office_hours})
    r[static_cast<std::size_t>(s)].action = forward_action::ring_anyway;
  return r;
}

// Monday to Friday 09:00-18:00; Saturday and Sunday closed.
inline week_hours default_global_hours() {
  week_hours w;
  for (std::size_t d = 0; d < 7; ++d) {
    w.days[d].enabled = d < 5;
    if (d < 5)
      w.days[d].shifts.push_back(time_range{9 * 60, 18 * 60});
  }
  return w;
}

enum class hours_mode : std::uint8_t { global = 0, custom = 1 };

// The per-extension part of the forwarding domain.
struct forwarding_record {
  presence status = presence::available;
  std::string note;  // presence note, <= 128 characters
  std::array<forward_rule, forward_slot_count> rules = default_forward_rules();
  hours_mode mode = hours_mode::global;
  week_hours hours;  // CUSTOM office hours
  std::vector<holiday> holidays;  // personal; the tenant's apply too
  std::vector<exception_rule> exceptions;  // tried in order, first match wins
  std::string timezone;  // blank: the tenant's
  std::uint32_t next_id = 1;  // ids of holidays and exceptions
  // Rules a feature code replaced, by feature, restored when it is turned off.
  std::map<std::string, std::vector<std::pair<std::uint8_t, forward_rule>>> saved;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t const version) {
    ar(status, note, rules, mode, hours, holidays, exceptions, timezone, next_id, saved);
    (void)version;
  }
};

// The per-tenant part: global hours, holidays and feature codes.
struct tenant_rules_record {
  week_hours hours = default_global_hours();
  std::vector<holiday> holidays;
  std::map<std::string, std::string> feature_codes;  // feature -> code; missing = default
  std::uint32_t next_id = 1;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t const version) {
    ar(hours, holidays, feature_codes, next_id);
    (void)version;
  }
};

}  // namespace pbx::storage

CEREAL_CLASS_VERSION(pbx::storage::forward_rule, 1)
CEREAL_CLASS_VERSION(pbx::storage::time_range, 1)
CEREAL_CLASS_VERSION(pbx::storage::day_hours, 1)
CEREAL_CLASS_VERSION(pbx::storage::week_hours, 1)
CEREAL_CLASS_VERSION(pbx::storage::civil_date, 1)
CEREAL_CLASS_VERSION(pbx::storage::holiday, 1)
CEREAL_CLASS_VERSION(pbx::storage::exception_rule, 1)
CEREAL_CLASS_VERSION(pbx::storage::forwarding_record, 1)
CEREAL_CLASS_VERSION(pbx::storage::tenant_rules_record, 1)
