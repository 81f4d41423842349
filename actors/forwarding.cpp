#include "actors/forwarding.hpp"

#include <cstdio>
#include <iterator>

#include <date/date.h>

#include "actors/office_hours.hpp"

namespace pbx::forwarding {

using storage::exception_when;
using storage::forward_action;
using storage::forward_rule;
using storage::forward_slot;
using storage::presence;

namespace {

const char* const slot_names[storage::forward_slot_count] = {
  "available_office_hours", "available_non_office_hours", "available_no_answer",
  "busy_office_hours",      "busy_non_office_hours",      "busy_no_answer",
  "dnd_office_hours",       "dnd_non_office_hours",       "away_office_hours",
  "away_non_office_hours",  "lunch_office_hours",         "lunch_non_office_hours",
  "trip_office_hours",      "trip_non_office_hours",      "offline_office_hours",
  "offline_non_office_hours",
};

const char* const action_names[] = {"FORWARD_TO_NUMBER", "FORWARD_TO_VOICEMAIL", "RING_ANYWAY",
                                    "HANGUP"};
const char* const presence_names[] = {"available", "away", "dnd", "lunch", "trip"};
const char* const when_names[] = {"ALL_HOURS", "SPECIFIC_HOURS", "OUTSIDE_SPECIFIC_HOURS"};

template <std::size_t N>
const char* name_at(const char* const (&names)[N], std::size_t i) {
  return i < N ? names[i] : "?";
}

template <std::size_t N>
std::optional<std::size_t> index_of(const char* const (&names)[N], std::string_view name) {
  for (std::size_t i = 0; i < N; ++i)
    if (name == names[i])
      return i;
  return std::nullopt;
}

constexpr std::size_t idx(forward_slot s) { return static_cast<std::size_t>(s); }

// The derived status the rule matrix is indexed by.
enum class status { available, busy, dnd, away, lunch, trip, offline };

const char* status_name(status s) {
  switch (s) {
    case status::available: return "available";
    case status::busy: return "busy";
    case status::dnd: return "dnd";
    case status::away: return "away";
    case status::lunch: return "lunch";
    case status::trip: return "trip";
    case status::offline: return "offline";
  }
  return "?";
}

forward_slot slot_for(status s, bool office) {
  switch (s) {
    case status::available:
      return office ? forward_slot::available_office_hours : forward_slot::available_non_office_hours;
    case status::busy:
      return office ? forward_slot::busy_office_hours : forward_slot::busy_non_office_hours;
    case status::dnd:
      return office ? forward_slot::dnd_office_hours : forward_slot::dnd_non_office_hours;
    case status::away:
      return office ? forward_slot::away_office_hours : forward_slot::away_non_office_hours;
    case status::lunch:
      return office ? forward_slot::lunch_office_hours : forward_slot::lunch_non_office_hours;
    case status::trip:
      return office ? forward_slot::trip_office_hours : forward_slot::trip_non_office_hours;
    case status::offline:
      return office ? forward_slot::offline_office_hours : forward_slot::offline_non_office_hours;
  }
  return forward_slot::available_office_hours;
}

// "FORWARD_TO_NUMBER 102", "FORWARD_TO_VOICEMAIL own mailbox", "HANGUP", ...
std::string describe(const forward_rule& r) {
  std::string out = action_name(r.action);
  switch (r.action) {
    case forward_action::forward_to_number:
      out += " " + (r.number.empty() ? std::string("(no number)") : r.number);
      break;
    case forward_action::forward_to_voicemail:
      out += r.mailbox.empty() ? std::string(" own mailbox") : " mailbox " + r.mailbox;
      break;
    default:
      break;
  }
  return out;
}

// Steps end up as key="value": no double quotes, no line breaks.
std::string clean(std::string s) {
  for (auto& c : s) {
    if (c == '"')
      c = '\'';
    else if (c == '\n' || c == '\r' || c == '\t')
      c = ' ';
  }
  return s;
}

office_hours::local_moment utc_moment(std::chrono::system_clock::time_point t) {
  // Only reached when tzdata lacks even UTC: plain civil arithmetic.
  auto mins = date::floor<std::chrono::minutes>(t);
  auto d = date::floor<date::days>(mins);
  date::year_month_day ymd{d};
  office_hours::local_moment m;
  m.year = static_cast<int>(ymd.year());
  m.month = static_cast<unsigned>(ymd.month());
  m.day = static_cast<unsigned>(ymd.day());
  m.weekday = date::weekday{d}.iso_encoding() - 1;
  m.minute = static_cast<unsigned>((mins - d).count());
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u %02u:%02u UTC (%s)", m.year, m.month, m.day,
                m.minute / 60, m.minute % 60, office_hours::weekday_name(m.weekday));
  m.text = buf;
  return m;
}

}  // namespace

const char* slot_name(forward_slot s) { return name_at(slot_names, idx(s)); }

std::optional<forward_slot> parse_slot(std::string_view name) {
  if (auto i = index_of(slot_names, name))
    return static_cast<forward_slot>(*i);
  return std::nullopt;
}

const char* action_name(forward_action a) {
  return name_at(action_names, static_cast<std::size_t>(a));
}

std::optional<forward_action> parse_action(std::string_view name) {
  if (auto i = index_of(action_names, name))
    return static_cast<forward_action>(*i);
  return std::nullopt;
}

bool slot_allows(forward_slot s, forward_action a) {
  if (static_cast<std::size_t>(a) >= std::size(action_names) || idx(s) >= storage::forward_slot_count)
    return false;
  switch (s) {
    case forward_slot::available_office_hours:
    case forward_slot::available_non_office_hours:
    case forward_slot::busy_office_hours:
    case forward_slot::busy_non_office_hours:
      return true;
    default:
      return a != forward_action::ring_anyway;
  }
}

const char* presence_name(presence p) {
  return name_at(presence_names, static_cast<std::size_t>(p));
}

std::optional<presence> parse_presence(std::string_view name) {
  if (auto i = index_of(presence_names, name))
    return static_cast<presence>(*i);
  return std::nullopt;
}

const char* when_name(exception_when w) {
  return name_at(when_names, static_cast<std::size_t>(w));
}

std::optional<exception_when> parse_when(std::string_view name) {
  if (auto i = index_of(when_names, name))
    return static_cast<exception_when>(*i);
  return std::nullopt;
}

bool caller_matches(std::string_view pattern, std::string_view caller) {
  if (pattern.empty())
    return false;
  // Greedy wildcard match with backtracking to the last `*`.
  std::size_t p = 0, c = 0;
  std::size_t star = std::string_view::npos, star_c = 0;
  while (c < caller.size()) {
    // '*' first: a caller may hold a '*' too, and it must not use the star up as a literal.
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_c = c;
    } else if (p < pattern.size()
               && (pattern[p] == 'x' || pattern[p] == 'X' || pattern[p] == '?'
                   || pattern[p] == caller[c])) {
      ++p;
      ++c;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      c = ++star_c;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*')
    ++p;
  return p == pattern.size();
}

const char* reroute_reason(forward_slot slot) {
  switch (slot) {
    case forward_slot::available_office_hours:
    case forward_slot::available_non_office_hours:
      return "FORWARDING_UNCONDITIONAL";
    case forward_slot::available_no_answer:
    case forward_slot::busy_no_answer:
      return "FORWARDING_NO_ANSWER";
    case forward_slot::busy_office_hours:
    case forward_slot::busy_non_office_hours:
      return "FORWARDING_BUSY";
    case forward_slot::dnd_office_hours:
    case forward_slot::dnd_non_office_hours:
      return "FORWARDING_DND";
    case forward_slot::away_office_hours:
    case forward_slot::away_non_office_hours:
      return "FORWARDING_AWAY";
    case forward_slot::lunch_office_hours:
    case forward_slot::lunch_non_office_hours:
      return "FORWARDING_LUNCH";
    case forward_slot::trip_office_hours:
    case forward_slot::trip_non_office_hours:
      return "FORWARDING_BUSINESS_TRIP";
    case forward_slot::offline_office_hours:
    case forward_slot::offline_non_office_hours:
      return "FORWARDING_NOT_REACHABLE";
  }
  return "";
}

decision decide(const storage::extension_record& ext, const storage::tenant_record& tenant,
                const call_facts& facts) {
  decision d;
  const auto& fw = ext.forwarding;

  // 1. The moment, on the wall clock of the extension's (or tenant's) zone.
  bool own_zone = !fw.timezone.empty();
  std::string zone = own_zone ? fw.timezone : tenant.timezone;
  std::string zone_note;
  std::string err;
  auto local = office_hours::to_local(zone, facts.at, err);
  if (!local) {
    zone_note = std::string(own_zone ? "extension" : "tenant") + " time zone "
                + (zone.empty() ? std::string("(blank)") : zone) + " is unknown, using UTC";
    zone = "UTC";
    local = office_hours::to_local(zone, facts.at, err);
    if (!local)
      local = utc_moment(facts.at);
  }
  d.steps.push_back("call from " + (facts.caller.empty() ? std::string("(no caller ID)") : facts.caller)
                    + " to " + ext.number + " at " + local->text + " in " + zone + " ("
                    + (!zone_note.empty() ? "fallback" : own_zone ? "extension" : "tenant")
                    + " time zone)");
  if (!zone_note.empty())
    d.steps.push_back(zone_note);

  // 2. Exceptions, in order; the first that applies decides.
  const storage::exception_rule* winner = nullptr;
  for (const auto& exc : fw.exceptions) {
    std::string head = "exception " + std::to_string(exc.id) + " (caller " + exc.caller + ", "
                       + when_name(exc.when) + ")";
    if (!caller_matches(exc.caller, facts.caller)) {
      d.steps.push_back(head + ": caller "
                        + (facts.caller.empty() ? std::string("(none)") : facts.caller)
                        + " does not match");
      continue;
    }
    bool applies = true;
    std::string why;
    if (exc.when != exception_when::all_hours) {
      auto v = office_hours::within(exc.hours, *local);
      applies = exc.when == exception_when::specific_hours ? v.open : !v.open;
      why = ", " + v.why;
    }
    if (applies) {
      d.steps.push_back(head + ": caller matches" + why + ", applies: " + describe(exc.rule));
      winner = &exc;
      break;
    }
    d.steps.push_back(head + ": caller matches" + why + ", does not apply");
  }

  // 3. Status: the user's presence, else derived from the devices.
  status st = status::available;
  std::string st_why;
  switch (fw.status) {
    case presence::away: st = status::away; break;
    case presence::dnd: st = status::dnd; break;
    case presence::lunch: st = status::lunch; break;
    case presence::trip: st = status::trip; break;
    default: st = status::available; break;
  }
  if (st != status::available) {
    st_why = std::string("set by the user") + (facts.registered ? "" : ", no device registered");
  } else if (!facts.registered) {
    st = status::offline;
    st_why = "available but no device registered";
  } else if (facts.on_call) {
    st = status::busy;
    st_why = "available and already on a call";
  } else {
    st_why = "registered and not on a call";
  }
  d.steps.push_back(std::string("status ") + status_name(st) + ": " + st_why);

  // 4. Office hours: the week (global or custom), then holidays.
  bool global = fw.mode == storage::hours_mode::global;
  const auto& week = global ? tenant.rules.hours : fw.hours;
  auto v = office_hours::within(week, *local);
  bool office = v.open;
  d.steps.push_back(std::string(global ? "global (tenant) office hours" : "custom office hours")
                    + ": " + v.why + ", " + (office ? "open" : "closed"));
  const storage::holiday* h = office_hours::holiday_at(tenant.rules.holidays, *local);
  const char* whose = "tenant";
  if (h == nullptr) {
    h = office_hours::holiday_at(fw.holidays, *local);
    whose = "personal";
  }
  if (h != nullptr) {
    std::string span = office_hours::format_date(h->first) + ".." + office_hours::format_date(h->last);
    if (h->every_year)
      span += " every year";
    if (!h->whole_day)
      span += " " + office_hours::format_range(h->time);
    d.steps.push_back(std::string(whose) + " holiday " + std::to_string(h->id) + " " + h->name
                      + " (" + span + "): outside office hours");
    office = false;
  }
  d.office = office;

  // 5. The slot of the matrix, and the follow-up slots for ringing.
  d.slot = slot_for(st, office);
  d.no_answer_slot =
    st == status::busy ? forward_slot::busy_no_answer : forward_slot::available_no_answer;
  d.no_answer = fw.rules[idx(d.no_answer_slot)];
  d.busy_slot = slot_for(status::busy, office);
  d.busy = fw.rules[idx(d.busy_slot)];

  std::string then;
  if (winner != nullptr) {
    d.exception = true;
    d.exception_id = winner->id;
    d.rule = winner->rule;
    then = "exception " + std::to_string(winner->id) + " decides: " + describe(d.rule);
  } else {
    d.rule = fw.rules[idx(d.slot)];
    then = std::string("slot ") + slot_name(d.slot) + ": " + describe(d.rule);
  }
  if (d.rule.action == forward_action::ring_anyway) {
    then += ", ring " + std::to_string(d.no_answer.timeout) + " s, then "
            + slot_name(d.no_answer_slot) + ": " + describe(d.no_answer)
            + "; busy: " + slot_name(d.busy_slot) + ": " + describe(d.busy);
  }
  d.steps.push_back(then);

  // 6. The CDR reason when the call leaves this extension at once.
  if (d.rule.action != forward_action::ring_anyway)
    d.reroute_reason = d.exception ? "FORWARDING_EXCEPTION" : reroute_reason(d.slot);

  for (auto& s : d.steps)
    s = clean(std::move(s));
  return d;
}

std::string loop_check(const std::vector<std::string>& chain, const std::string& next,
                       std::size_t max_forwards) {
  auto path = [&] {
    std::string out;
    for (const auto& c : chain)
      out += c + " -> ";
    return out + next;
  };
  for (const auto& c : chain)
    if (c == next)
      return "forwarding loop: " + path();
  if (chain.size() > max_forwards)
    return "too many forwards: " + path();
  return {};
}

}  // namespace pbx::forwarding
