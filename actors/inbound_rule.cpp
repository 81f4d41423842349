#include "actors/inbound_rule.hpp"

#include <algorithm>
#include <tuple>

namespace pbx::inbound_rule {

namespace {

bool all_digits(std::string_view s) {
  return !s.empty()
         && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// An extension or mailbox number, as the extensions take them (up to 64 digits).
bool extension_number(std::string_view v) { return all_digits(v) && v.size() <= 64; }

// Range destinations: "FIRST-LAST" of extensions, one range.
std::optional<number_list::range> parse_range(std::string_view v, std::string& error) {
  auto l = number_list::parse(v, error);
  if (!l)
    return std::nullopt;
  if (l->ranges.size() != 1 || v.find('-') == std::string_view::npos) {
    error = "'" + std::string(v) + "': a range destination is one range FIRST-LAST";
    return std::nullopt;
  }
  return l->ranges.front();
}

// The value fits its kind; "" or the reason.
std::string check_value(const storage::inbound_destination& d) {
  if (d.kind == "hangup")
    return d.value.empty() ? "" : "hangup takes no value";
  if (d.kind == "extension" || d.kind == "voicemail")
    return extension_number(d.value) ? ""
                                     : d.kind + " '" + d.value + "' is not an extension number";
  if (d.kind == "number") {
    std::string_view v = d.value;
    if (!v.empty() && v.front() == '+')
      v.remove_prefix(1);
    return all_digits(v) && v.size() <= 32 ? "" : "number '" + d.value + "' is not a phone number";
  }
  if (d.kind == "range") {
    std::string error;
    return parse_range(d.value, error) ? "" : error;
  }
  return "'" + d.kind + "' is not extension, voicemail, hangup, number or range";
}

// The DID list: one number or one range.
std::optional<number_list::range> parse_did(std::string_view text, std::string& error) {
  auto l = number_list::parse(text, error);
  if (!l)
    return std::nullopt;
  if (l->ranges.size() != 1) {
    error = l->ranges.empty() ? "a DID or a DID range is required"
                              : "one DID or one range, not a list";
    return std::nullopt;
  }
  return l->ranges.front();
}

// "" when `d` works for DIDs `did`; a range must be as large as the DID range.
std::string check_destination(const storage::inbound_destination& d,
                              const number_list::range& did) {
  if (auto e = check_value(d); !e.empty())
    return e;
  if (d.kind == "range") {
    std::string error;
    auto r = parse_range(d.value, error);
    auto want = number_list::size(did), got = number_list::size(*r);
    if (want != got)
      return "range " + d.value + " holds " + std::to_string(got) + " extensions, the DIDs "
             + std::to_string(want);
  }
  return {};
}

const char* const slot_names[] = {"office", "outside", "holiday"};

} // namespace

std::string validate(const storage::inbound_rule_record& r, const storage::trunk_record& trunk) {
  if (r.trunk.empty())
    return "trunk: a rule names exactly one trunk";
  if (r.trunk != trunk.name)
    return "trunk: the rule names '" + r.trunk + "', not '" + trunk.name + "'";
  std::string error;
  auto did = parse_did(r.did_numbers, error);
  if (!did)
    return "did_numbers: " + error;
  auto pool = number_list::parse_pool(trunk.did_pool, error);
  if (!pool)
    return "did_numbers: the DID pool of trunk " + trunk.name + " is invalid: " + error;
  if (pool->empty())
    return "did_numbers: trunk " + trunk.name + " has no DID pool";
  if (!number_list::inside(number_list::list{{*did}}, *pool))
    return "did_numbers: " + r.did_numbers + " is not inside the DID pool of trunk " + trunk.name
           + " (" + number_list::format(*pool) + ")";
  if (!number_list::parse_mask(r.cid_number_mask, error))
    return "cid_number_mask: " + error;
  const storage::inbound_destination* slots[] = {&r.office, &r.outside, &r.holiday};
  for (int i = 0; i < 3; ++i)
    if (auto e = check_destination(*slots[i], *did); !e.empty())
      return std::string(slot_names[i]) + ": " + e;
  return {};
}

std::optional<storage::inbound_destination> parse_destination(std::string_view text,
                                                               std::string& error) {
  text = trim(text);
  storage::inbound_destination d;
  if (text == "0") {
    d.kind = "extension";
    d.value = "0";
    return d;
  }
  auto colon = text.find(':');
  d.kind = std::string(trim(text.substr(0, colon)));
  if (colon != std::string_view::npos)
    d.value = std::string(trim(text.substr(colon + 1)));
  if (auto e = check_value(d); !e.empty()) {
    error = "'" + std::string(text) + "': " + e;
    return std::nullopt;
  }
  return d;
}

std::string format_destination(const storage::inbound_destination& d) {
  if (d.kind == "hangup")
    return "hangup";
  if (d.kind == "extension" && d.value == "0")
    return "0";
  return d.kind + ":" + d.value;
}

struct rule_set::compiled {
  std::string name, trunk;
  number_list::range did;
  number_list::mask mask;
  // office, outside, holiday; a range destination parsed once.
  storage::inbound_destination dest[3];
  std::optional<number_list::range> dest_range[3];
};

rule_set::rule_set(std::vector<storage::inbound_rule_record> rules) {
  for (auto& r : rules) {
    // Without the trunk record the pool cannot be checked here; everything else
    // is. A rule that does not parse never matches (as outbound rules).
    std::string error;
    auto did = parse_did(r.did_numbers, error);
    auto mask = number_list::parse_mask(r.cid_number_mask, error);
    if (!did || !mask)
      continue;
    auto c = std::make_shared<compiled>();
    c->name = r.name;
    c->trunk = r.trunk;
    c->did = std::move(*did);
    c->mask = std::move(*mask);
    c->dest[0] = std::move(r.office);
    c->dest[1] = std::move(r.outside);
    c->dest[2] = std::move(r.holiday);
    bool ok = true;
    for (int i = 0; i < 3 && ok; ++i) {
      ok = check_destination(c->dest[i], c->did).empty();
      if (ok && c->dest[i].kind == "range")
        c->dest_range[i] = parse_range(c->dest[i].value, error);
    }
    if (ok)
      rules_.push_back(std::move(c));
  }
  // Rules with a caller-ID mask first, then by name: the first hit wins.
  std::sort(rules_.begin(), rules_.end(), [](auto& a, auto& b) {
    return std::make_tuple(a->mask.empty(), std::cref(a->name))
           < std::make_tuple(b->mask.empty(), std::cref(b->name));
  });
}

decision rule_set::decide(const call& c) const {
  decision d;
  // Providers send DIDs as "+1555..." or "1555..."; pools hold no '+'.
  std::string_view did = c.did;
  if (!did.empty() && did.front() == '+')
    did.remove_prefix(1);
  if (!all_digits(did))
    did = {};  // matches no rule (the 404 names what came in)
  auto from = c.cid.empty() ? std::string() : " from " + c.cid;
  for (auto& r : rules_) {
    if (r->trunk != c.trunk || did.size() != r->did.first.size() || did < r->did.first
        || did > r->did.last)
      continue;
    if (!r->mask.empty() && !number_list::matches(r->mask, c.cid))
      continue;
    // Holiday beats the office-hours choice.
    int slot = c.holiday ? 2 : c.office_hours ? 0 : 1;
    static const char* const when[] = {"office hours", "outside office hours", "holiday"};
    auto& dest = r->dest[slot];
    d.code = 200;
    d.rule = r->name;
    d.when = when[slot];
    d.kind = dest.kind;
    d.target = dest.value;
    if ((d.kind == "extension" || d.kind == "voicemail") && d.target == "0") {
      d.target = std::string(did);
    } else if (d.kind == "range") {
      // Same sizes were checked when compiling, so the offset maps.
      auto off = number_list::offset(r->did, did);
      auto ext = off ? number_list::at(*r->dest_range[slot], *off) : std::nullopt;
      d.kind = "extension";
      d.target = ext ? *ext : std::string();
    }
    d.reason = "rule " + r->name + ": DID " + std::string(did) + from + ", " + d.when + " -> "
               + d.kind + (d.target.empty() ? "" : " " + d.target);
    return d;
  }
  d.code = 404;
  d.reason = "no inbound rule of trunk " + c.trunk + " matches DID " + c.did + from;
  return d;
}

} // namespace pbx::inbound_rule
