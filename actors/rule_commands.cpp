#include "actors/rule_commands.hpp"

#include <algorithm>
#include <cctype>
#include <sstream>
#include <string_view>

#include <date/date.h>

#include "actors/feature_code.hpp"
#include "actors/office_hours.hpp"
#include "actors/shell_syntax.hpp"

namespace pbx::rule_commands {

namespace {

using storage::forward_action;
using storage::forward_slot;

bool has_eq(const std::string& w) {
  return w.find('=') != std::string::npos;
}

bool digits(const std::string& s, std::size_t min, std::size_t max) {
  return s.size() >= min && s.size() <= max
         && std::all_of(s.begin(), s.end(),
                        [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

// An extension, system or external number: digits, a leading + allowed.
bool valid_target_number(const std::string& n) {
  return digits(n.size() > 1 && n[0] == '+' ? n.substr(1) : n, 1, 32);
}

// The shell's key for a weekday: mon ... sun, as `hours set` takes it.
std::string day_key(unsigned d) {
  std::string k = office_hours::weekday_name(d);
  for (auto& c : k)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return k;
}

std::size_t slot_index(forward_slot s) {
  return static_cast<std::size_t>(s);
}

bool is_no_answer(forward_slot s) {
  return s == forward_slot::available_no_answer || s == forward_slot::busy_no_answer;
}

// action= number= mailbox= into `rule`, checked against what `allows` permits.
template <class Allows>
std::string parse_rule(const field_list& fields, storage::forward_rule& rule, Allows allows) {
  bool have_action = false;
  storage::forward_rule next = rule;
  next.number.clear();
  next.mailbox.clear();
  for (auto& [k, v] : fields) {
    if (k == "action") {
      auto a = forwarding::parse_action(v);
      if (!a)
        return "unknown action '" + v
               + "' (FORWARD_TO_NUMBER, FORWARD_TO_VOICEMAIL, RING_ANYWAY, HANGUP)";
      next.action = *a;
      have_action = true;
    } else if (k == "number") {
      if (!valid_target_number(v))
        return "number must be 1-32 digits (a leading + allowed)";
      next.number = v;
    } else if (k == "mailbox") {
      if (!v.empty() && !digits(v, 3, 64))
        return "mailbox must be an extension number (3-64 digits)";
      next.mailbox = v;
    }
  }
  if (!have_action)
    return "missing action=";
  if (!allows(next.action))
    return std::string("action ") + forwarding::action_name(next.action) + " is not allowed here";
  if (next.action == forward_action::forward_to_number && next.number.empty())
    return "FORWARD_TO_NUMBER needs number=";
  if (next.action != forward_action::forward_to_number && !next.number.empty())
    return "number= goes with FORWARD_TO_NUMBER only";
  if (next.action != forward_action::forward_to_voicemail && !next.mailbox.empty())
    return "mailbox= goes with FORWARD_TO_VOICEMAIL only";
  rule = next;
  return {};
}

field_list rule_fields(const storage::forward_rule& r) {
  field_list f{{"action", forwarding::action_name(r.action)}};
  if (r.action == forward_action::forward_to_number)
    f.emplace_back("number", r.number);
  if (r.action == forward_action::forward_to_voicemail)
    f.emplace_back("mailbox", r.mailbox.empty() ? "own" : r.mailbox);
  return f;
}

// mon=.. tue=.. into `week`; other keys are left for the caller.
std::string parse_days(const field_list& fields, storage::week_hours& week, bool& any) {
  for (auto& [k, v] : fields) {
    auto day = office_hours::parse_weekday(k);
    if (!day)
      continue;
    std::string err;
    auto d = office_hours::parse_day(v, err);
    if (!d)
      return k + ": " + err;
    week.days[*day] = *d;
    any = true;
  }
  return {};
}

std::string unknown_key(const field_list& fields, std::initializer_list<const char*> known,
                        bool days) {
  for (auto& kv : fields) {
    // A named reference: C++17 lambdas cannot capture a structured binding (clang refuses).
    const auto& k = kv.first;
    if (days && office_hours::parse_weekday(k))
      continue;
    if (std::none_of(known.begin(), known.end(), [&](const char* n) { return k == n; }))
      return "unknown field '" + k + "'";
  }
  return {};
}

void week_lines(const storage::week_hours& w, admin_reply& r) {
  for (unsigned d = 0; d < 7; ++d)
    r.records.push_back(field_list(
      {{"day", day_key(d)}, {"hours", office_hours::format_day(w.days[d])}}));
}

// `del ... ID` for holidays and exceptions.
template <class Item>
admin_reply erase_by_id(const rules_cmd& cmd, std::vector<Item>& list, const char* what,
                         const char* usage, bool& changed) {
  if (cmd.args.size() != 1 || !digits(cmd.args[0], 1, 9))
    return admin_invalid(usage);
  auto id = static_cast<std::uint32_t>(std::stoul(cmd.args[0]));
  auto i = std::find_if(list.begin(), list.end(), [&](auto& x) { return x.id == id; });
  if (i == list.end())
    return admin_not_found(std::string("no ") + what + " " + cmd.args[0]);
  list.erase(i);
  changed = true;
  return {};
}

admin_reply hours_command(const rules_cmd& cmd, storage::week_hours& week,
                           storage::hours_mode* mode, bool& changed) {
  if (cmd.sub == "show") {
    if (!cmd.args.empty() || !cmd.fields.empty())
      return admin_invalid("usage: hours show DOMAIN [NUMBER]");
    admin_reply r;
    if (mode)
      r.records.push_back(field_list(
        {{"mode", *mode == storage::hours_mode::custom ? "CUSTOM" : "GLOBAL"}}));
    week_lines(week, r);
    return r;
  }
  if (cmd.sub != "set")
    return admin_invalid("usage: hours show|set DOMAIN [NUMBER] [mode=GLOBAL|CUSTOM] [mon=..] ...");
  field_list f = cmd.fields;
  if (f.empty())
    return admin_invalid("nothing to set");
  if (auto e = unknown_key(f, {"mode"}, true); !e.empty())
    return admin_invalid(e);
  auto next_week = week;
  auto next_mode = mode ? *mode : storage::hours_mode::global;
  for (auto& [k, v] : f)
    if (k == "mode") {
      if (!mode)
        return admin_invalid("mode= is per extension; the tenant's hours are the global ones");
      if (v == "GLOBAL")
        next_mode = storage::hours_mode::global;
      else if (v == "CUSTOM")
        next_mode = storage::hours_mode::custom;
      else
        return admin_invalid("mode must be GLOBAL or CUSTOM");
    }
  bool any = false;
  if (auto e = parse_days(f, next_week, any); !e.empty())
    return admin_invalid(e);
  week = next_week;
  if (mode)
    *mode = next_mode;
  changed = true;
  return {};
}

admin_reply holiday_command(const rules_cmd& cmd, std::vector<storage::holiday>& list,
                             std::uint32_t& next_id, bool& changed) {
  if (cmd.sub == "list") {
    if (!cmd.args.empty() || !cmd.fields.empty())
      return admin_invalid("usage: holiday list DOMAIN [NUMBER]");
    admin_reply r;
    for (auto& h : list) {
      auto date = office_hours::format_date(h.first);
      if (h.last.year != h.first.year || h.last.month != h.first.month
          || h.last.day != h.first.day)
        date += ".." + office_hours::format_date(h.last);
      r.records.push_back(field_list(
        {{"id", std::to_string(h.id)},
         {"name", h.name},
         {"date", date},
         {"time", h.whole_day ? "all-day" : office_hours::format_range(h.time)},
         {"every_year", h.every_year ? "true" : "false"}}));
    }
    return r;
  }
  if (cmd.sub == "del")
    return erase_by_id(cmd, list, "holiday", "usage: holiday del DOMAIN [NUMBER] ID", changed);
  if (cmd.sub != "add")
    return admin_invalid("usage: holiday add|list|del DOMAIN [NUMBER] ...");
  field_list f = cmd.fields;
  if (auto e = unknown_key(f, {"name", "date", "time", "every_year"}, false); !e.empty())
    return admin_invalid(e);
  storage::holiday h;
  bool have_date = false;
  for (auto& [k, v] : f) {
    std::string err;
    if (k == "name") {
      if (v.empty() || v.size() > 64)
        return admin_invalid("name must be 1-64 characters");
      h.name = v;
    } else if (k == "date") {
      auto dots = v.find("..");
      auto first = office_hours::parse_date(v.substr(0, dots), err);
      if (!first)
        return admin_invalid("date: " + err);
      h.first = h.last = *first;
      if (dots != std::string::npos) {
        auto last = office_hours::parse_date(v.substr(dots + 2), err);
        if (!last)
          return admin_invalid("date: " + err);
        h.last = *last;
      }
      have_date = true;
    } else if (k == "time") {
      auto t = office_hours::parse_range(v, err);
      if (!t)
        return admin_invalid("time: " + err);
      h.whole_day = false;
      h.time = *t;
    } else if (k == "every_year") {
      if (v != "true" && v != "false")
        return admin_invalid("every_year must be true or false");
      h.every_year = v == "true";
    }
  }
  if (h.name.empty() || !have_date)
    return admin_invalid("usage: holiday add DOMAIN [NUMBER] name=NAME date=YYYY-MM-DD[..YYYY-MM-DD] "
                       "[time=HH:MM-HH:MM] [every_year=true]");
  auto key = [](const storage::civil_date& d) {
    return std::make_tuple(d.year, d.month, d.day);
  };
  if (!h.every_year && key(h.last) < key(h.first))
    return admin_invalid("date: the last day is before the first");
  if (h.every_year && h.first.year != h.last.year && h.last.year != h.first.year + 1)
    return admin_invalid("date: an every-year run spans at most one new year");
  h.id = next_id++;
  list.push_back(h);
  changed = true;
  return admin_records({{{"id", std::to_string(h.id)}}});
}

admin_reply exception_command(const rules_cmd& cmd, storage::forwarding_record& fw,
                               bool& changed) {
  if (cmd.sub == "list") {
    if (!cmd.args.empty() || !cmd.fields.empty())
      return admin_invalid("usage: exception list DOMAIN NUMBER");
    admin_reply r;
    for (auto& e : fw.exceptions) {
      field_list f{{"id", std::to_string(e.id)},
                   {"caller", e.caller},
                   {"when", forwarding::when_name(e.when)}};
      if (e.when != storage::exception_when::all_hours)
        for (unsigned d = 0; d < 7; ++d)
          f.emplace_back(day_key(d), office_hours::format_day(e.hours.days[d]));
      for (auto& kv : rule_fields(e.rule))
        f.push_back(kv);
      r.records.push_back(field_list(f));
    }
    return r;
  }
  if (cmd.sub == "del")
    return erase_by_id(cmd, fw.exceptions, "exception", "usage: exception del DOMAIN NUMBER ID",
                       changed);
  if (cmd.sub != "add")
    return admin_invalid("usage: exception add|list|del DOMAIN NUMBER ...");
  field_list f = cmd.fields;
  if (auto e = unknown_key(f, {"caller", "when", "action", "number", "mailbox"}, true);
      !e.empty())
    return admin_invalid(e);
  storage::exception_rule x;
  bool have_when = false;
  for (auto& [k, v] : f) {
    if (k == "caller") {
      if (v.empty() || v.size() > 64)
        return admin_invalid("caller must be a pattern of 1-64 characters");
      for (char c : v)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '*' && c != '?' && c != '+'
            && c != '#' && c != '-' && c != '_' && c != '.')
          return admin_invalid("caller pattern may hold letters, digits, + # - _ . and * ? only");
      x.caller = v;
    } else if (k == "when") {
      auto w = forwarding::parse_when(v);
      if (!w)
        return admin_invalid("when must be ALL_HOURS, SPECIFIC_HOURS or OUTSIDE_SPECIFIC_HOURS");
      x.when = *w;
      have_when = true;
    }
  }
  if (x.caller.empty() || !have_when)
    return admin_invalid("usage: exception add DOMAIN NUMBER caller=PATTERN when=WHEN [mon=..] "
                       "... action=ACTION [number=N] [mailbox=N]");
  // Specific hours start closed every day: only the days given are open.
  for (auto& d : x.hours.days)
    d.enabled = false;
  bool any_day = false;
  if (auto e = parse_days(f, x.hours, any_day); !e.empty())
    return admin_invalid(e);
  if (x.when == storage::exception_when::all_hours && any_day)
    return admin_invalid("weekday hours go with SPECIFIC_HOURS or OUTSIDE_SPECIFIC_HOURS");
  if (x.when != storage::exception_when::all_hours && !any_day)
    return admin_invalid("give the specific hours: mon=09:00-12:00 ... (days not given are off)");
  if (auto e = parse_rule(f, x.rule, [](forward_action) { return true; }); !e.empty())
    return admin_invalid(e);
  x.id = fw.next_id++;
  fw.exceptions.push_back(x);
  changed = true;
  return admin_records({{{"id", std::to_string(x.id)}}});
}

admin_reply forward_command(const rules_cmd& cmd, storage::extension_record& ext,
                             bool& changed) {
  auto& fw = ext.forwarding;
  if (cmd.sub == "show") {
    if (!cmd.args.empty() || !cmd.fields.empty())
      return admin_invalid("usage: forward show DOMAIN NUMBER");
    admin_reply r;
    for (std::size_t i = 0; i < storage::forward_slot_count; ++i) {
      auto slot = static_cast<forward_slot>(i);
      field_list f{{"slot", forwarding::slot_name(slot)}};
      for (auto& kv : rule_fields(fw.rules[i]))
        f.push_back(kv);
      if (is_no_answer(slot))
        f.emplace_back("timeout", std::to_string(fw.rules[i].timeout));
      r.records.push_back(field_list(f));
    }
    return r;
  }
  if (cmd.sub != "set" || cmd.args.empty())
    return admin_invalid("usage: forward show|set DOMAIN NUMBER SLOT action=ACTION [number=N] "
                       "[mailbox=N] [timeout=SECONDS]");
  auto slot = forwarding::parse_slot(cmd.args[0]);
  if (!slot)
    return admin_invalid("unknown slot '" + cmd.args[0] + "'");
  field_list f = cmd.fields;
  if (auto e = unknown_key(f, {"action", "number", "mailbox", "timeout"}, false); !e.empty())
    return admin_invalid(e);
  auto rule = fw.rules[slot_index(*slot)];
  if (auto e = parse_rule(f, rule,
                          [&](forward_action a) { return forwarding::slot_allows(*slot, a); });
      !e.empty())
    return admin_invalid(e + " (slot " + cmd.args[0] + ")");
  for (auto& [k, v] : f)
    if (k == "timeout") {
      if (!is_no_answer(*slot))
        return admin_invalid("timeout= goes with the no_answer slots only");
      if (!digits(v, 1, 3) || std::stoi(v) < 5 || std::stoi(v) > 600)
        return admin_invalid("timeout must be 5-600 seconds");
      rule.timeout = static_cast<std::uint32_t>(std::stoi(v));
    }
  fw.rules[slot_index(*slot)] = rule;
  if (*slot == forward_slot::available_no_answer)
    ext.no_answer_timeout = rule.timeout; // the Users-page field stays in step
  changed = true;
  return {};
}

admin_reply status_command(const rules_cmd& cmd, storage::extension_record& ext,
                            const line_facts& line, bool& changed) {
  auto& fw = ext.forwarding;
  if (cmd.sub == "show") {
    if (!cmd.args.empty() || !cmd.fields.empty())
      return admin_invalid("usage: status show DOMAIN NUMBER");
    // The derived state: what a BLF key or the Users page would show.
    const char* state = line.on_call        ? "on_call"
                        : line.ringing      ? "ringing"
                        : line.devices == 0 ? "offline"
                                            : "online";
    return admin_records({field_list{
      {"number", ext.number},
      {"status", forwarding::presence_name(fw.status)},
      {"note", fw.note},
      {"state", state},
      {"devices", std::to_string(line.devices)},
    }});
  }
  if (cmd.sub != "set" || cmd.args.empty())
    return admin_invalid("usage: status set DOMAIN NUMBER available|away|dnd|lunch|trip [note=..]");
  auto p = forwarding::parse_presence(cmd.args[0]);
  if (!p)
    return admin_invalid("status must be available, away, dnd, lunch or trip");
  field_list f = cmd.fields;
  if (auto e = unknown_key(f, {"note"}, false); !e.empty())
    return admin_invalid(e);
  auto note = fw.note;
  for (auto& [k, v] : f) {
    if (v.size() > 128)
      return admin_invalid("note must be at most 128 characters");
    note = v;
  }
  fw.status = *p;
  fw.note = note;
  changed = true;
  return {};
}

admin_reply fac_command(const rules_cmd& cmd, storage::tenant_rules_record& t, bool& changed) {
  if (cmd.sub == "list") {
    if (!cmd.args.empty() || !cmd.fields.empty())
      return admin_invalid("usage: fac list DOMAIN");
    admin_reply r;
    for (auto& f : feature_code::features())
      r.records.push_back(field_list(
        {{"feature", f.name},
         {"code", feature_code::code_of(t, f.name)},
         {"default", f.default_code},
         {"argument", f.arg == feature_code::argument::none       ? "none"
                      : f.arg == feature_code::argument::optional ? "optional"
                                                                  : "required"},
         {"what", f.what}}));
    return r;
  }
  if (cmd.sub != "set" || cmd.args.size() != 2)
    return admin_invalid("usage: fac list DOMAIN | fac set DOMAIN FEATURE CODE");
  auto* f = feature_code::find_feature(cmd.args[0]);
  if (!f)
    return admin_invalid("unknown feature '" + cmd.args[0] + "' (see fac list)");
  auto& code = cmd.args[1];
  if (auto e = feature_code::check_code(code); !e.empty())
    return admin_invalid(e);
  for (auto& other : feature_code::features())
    if (std::string(other.name) != f->name && feature_code::code_of(t, other.name) == code)
      return admin_conflict("code " + code + " is taken by " + other.name);
  if (code == f->default_code)
    t.feature_codes.erase(f->name);
  else
    t.feature_codes[f->name] = code;
  changed = true;
  return {};
}

} // namespace

bool is_rules_verb(const std::string& v) {
  return v == "status" || v == "forward" || v == "hours" || v == "holiday" || v == "exception"
         || v == "fac" || v == "explain";
}

std::string route(const std::vector<std::string>& w, rules_cmd& out) {
  out = rules_cmd{};
  out.verb = w.at(0);
  if (out.verb == "explain") {
    if (w.size() < 4 || w.size() > 5)
      return "usage: explain DOMAIN FROM TO [at=ISO-8601]";
    out.domain = w[1];
    out.number = w[3];
    out.args = {w[2]};
    return shell::parse_fields(w, 4, out.fields);
  }
  if (w.size() < 3)
    return "usage: " + out.verb + " SUBCOMMAND DOMAIN ... (see help)";
  out.sub = w[1];
  out.domain = w[2];
  std::size_t rest = 3;
  if (out.verb == "status" || out.verb == "forward" || out.verb == "exception") {
    if (w.size() < 4)
      return "usage: " + out.verb + " " + out.sub + " DOMAIN NUMBER ...";
    out.number = w[3];
    rest = 4;
  } else if (out.verb == "hours" || (out.verb == "holiday" && out.sub != "del")) {
    if (w.size() > 3 && !has_eq(w[3])) {
      out.number = w[3];
      rest = 4;
    }
  } else if (out.verb == "holiday") {  // del DOMAIN [NUMBER] ID
    if (w.size() == 5) {
      out.number = w[3];
      rest = 4;
    }
  }
  // The positional words (SLOT, status, ID, FEATURE CODE), then key=value pairs.
  std::size_t positional = 0;
  if (out.sub == "set" && (out.verb == "status" || out.verb == "forward"))
    positional = 1;
  else if (out.sub == "set" && out.verb == "fac")
    positional = 2;
  else if (out.sub == "del")
    positional = 1;
  auto end = std::min(w.size(), rest + positional);
  out.args.assign(w.begin() + static_cast<std::ptrdiff_t>(rest),
                  w.begin() + static_cast<std::ptrdiff_t>(end));
  return shell::parse_fields(w, end, out.fields);
}

admin_reply on_extension(const rules_cmd& cmd, storage::extension_record& ext,
                          const line_facts& line, bool& changed) {
  changed = false;
  auto& fw = ext.forwarding;
  if (cmd.verb == "status")
    return status_command(cmd, ext, line, changed);
  if (cmd.verb == "forward")
    return forward_command(cmd, ext, changed);
  if (cmd.verb == "hours")
    return hours_command(cmd, fw.hours, &fw.mode, changed);
  if (cmd.verb == "holiday")
    return holiday_command(cmd, fw.holidays, fw.next_id, changed);
  if (cmd.verb == "exception")
    return exception_command(cmd, fw, changed);
  return admin_invalid("'" + cmd.verb + "' is not an extension command");
}

admin_reply on_tenant(const rules_cmd& cmd, storage::tenant_record& t, bool& changed) {
  changed = false;
  if (cmd.verb == "hours")
    return hours_command(cmd, t.rules.hours, nullptr, changed);
  if (cmd.verb == "holiday")
    return holiday_command(cmd, t.rules.holidays, t.rules.next_id, changed);
  if (cmd.verb == "fac")
    return fac_command(cmd, t.rules, changed);
  return admin_invalid("usage: " + cmd.verb + " ... DOMAIN NUMBER ...");
}

std::string explain_args(const rules_cmd& cmd, std::string& caller,
                         std::chrono::system_clock::time_point& at) {
  if (cmd.args.empty() || cmd.args[0].empty() || cmd.args[0].size() > 64)
    return "usage: explain DOMAIN FROM TO [at=ISO-8601]";
  caller = cmd.args[0];
  at = std::chrono::system_clock::now();
  if (cmd.args.size() > 1 || cmd.fields.size() > 1
      || (cmd.fields.size() == 1 && cmd.fields[0].first != "at"))
    return "usage: explain DOMAIN FROM TO [at=ISO-8601]";
  if (cmd.fields.size() == 1) {
    auto t = parse_instant(cmd.fields[0].second);
    if (!t)
      return "at= must be an ISO-8601 time with Z or an offset, e.g. 2026-03-29T09:00:00+02:00";
    at = *t;
  }
  return {};
}

admin_reply explain(const storage::extension_record& first,
                     const storage::tenant_record& tenant, forwarding::call_facts facts,
                     const explain_lookup& lookup, const explain_outside& outside) {
  std::vector<std::string> steps;
  std::vector<std::string> chain{first.number};
  storage::extension_record cur = first;
  forwarding::decision d;
  std::string stopped;
  for (;;) {
    d = forwarding::decide(cur, tenant, facts);
    steps.insert(steps.end(), d.steps.begin(), d.steps.end());
    if (d.rule.action != forward_action::forward_to_number)
      break;
    auto next = d.rule.number;
    stopped = forwarding::loop_check(chain, next, forwarding::max_forwards);
    if (stopped.empty()) {
      auto target = lookup(next);
      if (!target) {
        stopped = outside ? outside(next, cur)
                          : "forward to " + next + ": not an extension of this tenant";
      } else {
        steps.push_back("forward to " + next);
        chain.push_back(next);
        cur = target->ext;
        facts.registered = target->registered;
        facts.on_call = false; // not known without asking that extension
        continue;
      }
    }
    steps.push_back("stop: " + stopped);
    break;
  }
  admin_reply r;
  for (std::size_t i = 0; i < steps.size(); ++i)
    r.records.push_back(field_list{{"step", std::to_string(i + 1)}, {"text", steps[i]}});
  field_list f{{"", "decision"}}; // a labelled record: the shell prints "decision ..."
  if (d.exception) {
    f.emplace_back("slot", "exception");
    f.emplace_back("id", std::to_string(d.exception_id));
  } else {
    f.emplace_back("slot", forwarding::slot_name(d.slot));
  }
  for (auto& kv : rule_fields(d.rule))
    f.push_back(kv);
  if (d.rule.action == forward_action::ring_anyway) {
    f.emplace_back("timeout", std::to_string(d.no_answer.timeout));
    f.emplace_back("no_answer_slot", forwarding::slot_name(d.no_answer_slot));
    f.emplace_back("no_answer_action", forwarding::action_name(d.no_answer.action));
  }
  if (!d.reroute_reason.empty())
    f.emplace_back("reroute", d.reroute_reason);
  f.emplace_back("extension", cur.number);
  if (!stopped.empty())
    f.emplace_back("stopped", stopped);
  r.records.push_back(std::move(f));
  return r;
}

namespace {

// Does `text` hold `shape` at `at`: 'd' a digit, '+' a sign, else itself.
bool shaped(const std::string& text, std::size_t at, std::string_view shape) {
  if (text.size() < at + shape.size())
    return false;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    char c = text[at + i];
    bool ok = shape[i] == 'd'   ? std::isdigit(static_cast<unsigned char>(c)) != 0
              : shape[i] == '+' ? c == '+' || c == '-'
                                : c == shape[i];
    if (!ok)
      return false;
  }
  return true;
}

} // namespace

std::optional<std::chrono::system_clock::time_point> parse_instant(const std::string& text) {
  using namespace std::chrono;
  // The format is picked by the text's shape, so date::parse never fails
  // halfway: date 3.0.1 then rounds an uninitialized value (%T cut short)
  // or negates minutes::min() (%Ez with a sign but no digits).
  if (!shaped(text, 0, "dddd-dd-ddTdd:dd"))
    return std::nullopt;
  bool secs = shaped(text, 16, ":dd");
  std::size_t zone = secs ? 19 : 16;
  const char* fmt = nullptr;
  if (text.size() == zone + 1 && text[zone] == 'Z')
    fmt = secs ? "%FT%TZ" : "%FT%RZ";
  else if ((text.size() == zone + 3 && shaped(text, zone, "+dd"))
           || (text.size() == zone + 6 && shaped(text, zone, "+dd:dd")))
    fmt = secs ? "%FT%T%Ez" : "%FT%R%Ez";
  if (!fmt)
    return std::nullopt;
  std::istringstream in(text);
  date::sys_time<seconds> t;
  in >> date::parse(fmt, t);
  if (in.fail() || in.peek() != std::char_traits<char>::eof())
    return std::nullopt;
  // system_clock counts nanoseconds (years 1678-2262): beyond, the cast overflows.
  if (t < time_point_cast<seconds>(system_clock::time_point::min())
      || t > time_point_cast<seconds>(system_clock::time_point::max()))
    return std::nullopt;
  return time_point_cast<system_clock::duration>(t);
}

route_step to_step(forward_slot slot, const storage::forward_rule& r, const char* reason) {
  route_step s;
  s.action = static_cast<std::uint8_t>(r.action);
  s.number = r.number;
  s.mailbox = r.mailbox;
  s.slot = forwarding::slot_name(slot);
  if (r.action != forward_action::ring_anyway && reason)
    s.reroute_reason = reason;
  return s;
}

} // namespace pbx::rule_commands
