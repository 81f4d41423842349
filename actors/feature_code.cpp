#include "actors/feature_code.hpp"

#include <cctype>
#include <cstring>

namespace pbx::feature_code {

using storage::forward_action;
using storage::forward_rule;
using storage::forward_slot;

namespace {

bool all_digits(const std::string& s, std::size_t from = 0) {
  for (std::size_t i = from; i < s.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(s[i])))
      return false;
  return true;
}

// Does `rest` (what follows the code) fit the feature's argument rule?
bool argument_fits(argument a, const std::string& rest) {
  switch (a) {
    case argument::none:
      return rest.empty();
    case argument::optional:
      return rest.empty() || (rest.size() <= 20 && all_digits(rest));
    case argument::required: {
      std::size_t from = !rest.empty() && rest[0] == '+' ? 1 : 0;
      std::size_t digits = rest.size() - from;
      return digits >= 1 && digits <= 20 && all_digits(rest, from);
    }
  }
  return false;
}

constexpr std::size_t idx(forward_slot s) { return static_cast<std::size_t>(s); }

// The slots a group of feature codes edits.
std::vector<forward_slot> group_slots(const std::string& group) {
  using S = forward_slot;
  if (group == "always")
    return {S::available_office_hours, S::available_non_office_hours, S::busy_office_hours,
            S::busy_non_office_hours,  S::dnd_office_hours,           S::dnd_non_office_hours,
            S::away_office_hours,      S::away_non_office_hours,      S::lunch_office_hours,
            S::lunch_non_office_hours, S::trip_office_hours,          S::trip_non_office_hours,
            S::offline_office_hours,   S::offline_non_office_hours};
  if (group == "busy")
    return {S::busy_office_hours, S::busy_non_office_hours};
  if (group == "no_answer")
    return {S::available_no_answer, S::busy_no_answer};
  if (group == "not_reachable")
    return {S::offline_office_hours};
  if (group == "not_reachable_ooh")
    return {S::offline_non_office_hours};
  return {};
}

const char* group_text(const std::string& group) {
  if (group == "no_answer")
    return "on no answer";
  if (group == "not_reachable")
    return "when not reachable";
  if (group == "not_reachable_ooh")
    return "when not reachable outside office hours";
  if (group == "busy")
    return "busy";
  return "always";
}

enum class op { number_on, voicemail_on, off, dnd_on, dnd_off };

struct plan {
  std::string group;
  op what;
};

// "cf_busy_vm_on" -> {"busy", voicemail_on}
std::optional<plan> plan_of(const std::string& name) {
  if (name == "dnd_on")
    return plan{"", op::dnd_on};
  if (name == "dnd_off")
    return plan{"", op::dnd_off};
  if (name.compare(0, 3, "cf_") != 0)
    return std::nullopt;
  std::string rest = name.substr(3);
  auto ends = [&](const char* suffix) {
    std::size_t n = std::strlen(suffix);
    return rest.size() > n && rest.compare(rest.size() - n, n, suffix) == 0;
  };
  plan p;
  std::size_t cut = 0;
  if (ends("_vm_on")) {
    p.what = op::voicemail_on;
    cut = 6;
  } else if (ends("_vm_off")) {
    p.what = op::off;
    cut = 7;
  } else if (ends("_on")) {
    p.what = op::number_on;
    cut = 3;
  } else if (ends("_off")) {
    p.what = op::off;
    cut = 4;
  } else {
    return std::nullopt;
  }
  p.group = rest.substr(0, rest.size() - cut);
  if (group_slots(p.group).empty())
    return std::nullopt;
  return p;
}

}  // namespace

const std::vector<feature>& features() {
  static const std::vector<feature> all = {
    {"cf_always_on", "*72", argument::required, "call forwarding always to a number"},
    {"cf_always_off", "*73", argument::none, "call forwarding always off"},
    {"cf_always_vm_on", "*21", argument::optional,
     "call forwarding always to voicemail (mailbox; blank = own)"},
    {"cf_always_vm_off", "*34", argument::none, "call forwarding always to voicemail off"},
    {"cf_busy_on", "*90", argument::required, "call forwarding when busy to a number"},
    {"cf_busy_off", "*91", argument::none, "call forwarding when busy off"},
    {"cf_busy_vm_on", "*40", argument::optional,
     "call forwarding when busy to voicemail (mailbox; blank = own)"},
    {"cf_busy_vm_off", "*42", argument::none, "call forwarding when busy to voicemail off"},
    {"cf_no_answer_on", "*92", argument::required, "call forwarding on no answer to a number"},
    {"cf_no_answer_off", "*93", argument::none, "call forwarding on no answer off"},
    {"cf_no_answer_vm_on", "*41", argument::optional,
     "call forwarding on no answer to voicemail (mailbox; blank = own)"},
    {"cf_no_answer_vm_off", "*35", argument::none, "call forwarding on no answer to voicemail off"},
    {"cf_not_reachable_on", "*94", argument::required,
     "call forwarding when not registered, office hours, to a number"},
    {"cf_not_reachable_off", "*95", argument::none,
     "call forwarding when not registered, office hours, off"},
    {"cf_not_reachable_ooh_on", "*81", argument::required,
     "call forwarding when not registered, outside office hours, to a number"},
    {"cf_not_reachable_ooh_off", "*82", argument::none,
     "call forwarding when not registered, outside office hours, off"},
    {"dnd_on", "*78", argument::none, "do not disturb on"},
    {"dnd_off", "*79", argument::none, "do not disturb off"},
  };
  return all;
}

const feature* find_feature(const std::string& name) {
  for (const auto& f : features())
    if (name == f.name)
      return &f;
  return nullptr;
}

std::string code_of(const storage::tenant_rules_record& t, const std::string& name) {
  auto it = t.feature_codes.find(name);
  if (it != t.feature_codes.end())
    return it->second;
  if (auto f = find_feature(name))
    return f->default_code;
  return {};
}

std::string check_code(const std::string& code) {
  if (code.size() < 2 || code.size() > 7)
    return "a code has 2-7 characters";
  std::size_t prefix = 0;
  while (prefix < code.size() && (code[prefix] == '*' || code[prefix] == '#'))
    ++prefix;
  if (prefix == 0)
    return "a code starts with * or #";
  if (prefix > 3)
    return "a code starts with 1-3 characters of * and #";
  std::size_t digits = code.size() - prefix;
  if (!all_digits(code, prefix))
    return "after the * and # prefix a code has only digits";
  if (digits > 4)
    return "a code ends with at most 4 digits";
  return {};
}

std::optional<match> find(const storage::tenant_rules_record& t, const std::string& dialled) {
  std::optional<match> best;
  std::size_t best_len = 0;
  for (const auto& f : features()) {
    auto code = code_of(t, f.name);
    if (code.empty() || dialled.compare(0, code.size(), code) != 0)
      continue;
    auto rest = dialled.substr(code.size());
    if (!argument_fits(f.arg, rest))
      continue;
    if (!best || code.size() > best_len) {
      best = match{&f, rest};
      best_len = code.size();
    }
  }
  return best;
}

std::string apply(storage::forwarding_record& f, const match& m, std::string& error) {
  if (m.what == nullptr) {
    error = "no feature";
    return {};
  }
  auto p = plan_of(m.what->name);
  if (!p) {
    error = std::string("feature ") + m.what->name + " cannot change forwarding";
    return {};
  }
  if (!argument_fits(m.what->arg, m.arg)) {
    error = m.what->arg == argument::none ? std::string("this code takes no number")
                                          : std::string("bad number '") + m.arg + "'";
    return {};
  }
  switch (p->what) {
    case op::dnd_on:
      f.status = storage::presence::dnd;
      return "do not disturb on";
    case op::dnd_off:
      f.status = storage::presence::available;
      return "do not disturb off";
    default:
      break;
  }

  auto slots = group_slots(p->group);
  std::string head = std::string("call forwarding ") + group_text(p->group);
  if (p->what == op::off) {
    auto it = f.saved.find(p->group);
    if (it != f.saved.end()) {
      for (const auto& [slot, rule] : it->second)
        if (slot < storage::forward_slot_count)
          f.rules[slot] = rule;
      f.saved.erase(it);
      return head + " off, previous rules restored";
    }
    auto defaults = storage::default_forward_rules();
    for (auto s : slots) {
      auto timeout = f.rules[idx(s)].timeout;
      f.rules[idx(s)] = defaults[idx(s)];
      if (s == forward_slot::available_no_answer || s == forward_slot::busy_no_answer)
        f.rules[idx(s)].timeout = timeout;
    }
    return head + " off, default rules set";
  }

  // Turning on: keep what it replaces (once: a second *72 keeps the first save).
  if (f.saved.find(p->group) == f.saved.end()) {
    auto& keep = f.saved[p->group];
    for (auto s : slots)
      keep.emplace_back(static_cast<std::uint8_t>(idx(s)), f.rules[idx(s)]);
  }
  for (auto s : slots) {
    auto& r = f.rules[idx(s)];  // the timeout stays
    r.number.clear();
    r.mailbox.clear();
    if (p->what == op::number_on) {
      r.action = forward_action::forward_to_number;
      r.number = m.arg;
    } else {
      r.action = forward_action::forward_to_voicemail;
      r.mailbox = m.arg;
    }
  }
  if (p->what == op::number_on)
    return head + " to " + m.arg + " on";
  return head + " to " + (m.arg.empty() ? std::string("own voicemail") : "voicemail " + m.arg)
         + " on";
}

}  // namespace pbx::feature_code
