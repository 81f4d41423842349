#include "actors/outbound_rule.hpp"

#include <algorithm>
#include <tuple>

namespace pbx::outbound_rule {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

template <class F>
bool for_each_entry(std::string_view text, F&& f) {
  while (true) {
    auto semi = text.find(';');
    auto e = trim(text.substr(0, semi));
    if (!e.empty() && !f(e))
      return false;
    if (semi == std::string_view::npos)
      return true;
    text.remove_prefix(semi + 1);
  }
}

// "00;123;+44": each an optional '+' then 1-32 digits; "+" alone is every
// number dialled in E.164 form.
std::string parse_prefixes(std::string_view text, std::vector<std::string>& out) {
  std::string error;
  for_each_entry(text, [&](std::string_view e) {
    auto body = e.front() == '+' ? e.substr(1) : e;
    if ((body.empty() && e != "+") || body.size() > 32
        || !std::all_of(body.begin(), body.end(), is_digit)) {
      error = "'" + std::string(e) + "': a prefix is 1-32 digits, after an optional '+'";
      return false;
    }
    out.emplace_back(e);
    return true;
  });
  return error;
}

// "8;10;12": each 1-32.
std::string parse_lengths(std::string_view text, std::vector<std::size_t>& out) {
  std::string error;
  for_each_entry(text, [&](std::string_view e) {
    std::size_t n = 0;
    bool ok = e.size() <= 2 && std::all_of(e.begin(), e.end(), is_digit);
    for (char c : e)
      n = n * 10 + static_cast<std::size_t>(c - '0');
    if (!ok || n < 1 || n > 32) {
      error = "'" + std::string(e) + "': a length is a number 1-32";
      return false;
    }
    out.push_back(n);
    return true;
  });
  return error;
}

bool valid_prepend(std::string_view p) {
  return p.size() <= 32 && std::all_of(p.begin(), p.end(), [](char c) {
           return is_digit(c) || c == '+' || c == '*' || c == '#';
         });
}

bool valid_caller_id(std::string_view id) {
  auto body = !id.empty() && id.front() == '+' ? id.substr(1) : id;
  return !body.empty() && body.size() <= 32 && std::all_of(body.begin(), body.end(), is_digit);
}

std::string route_name(std::size_t i, const storage::outbound_route& r) {
  return "route " + std::to_string(i + 1) + (r.trunk.empty() ? "" : " (" + r.trunk + ")");
}

// The dialled number's length: a leading '+' is not a digit of the number.
std::size_t number_length(std::string_view n) {
  return !n.empty() && n.front() == '+' ? n.size() - 1 : n.size();
}

} // namespace

std::string validate(const storage::outbound_rule_record& r) {
  std::string error;
  std::vector<std::string> prefixes;
  if (auto e = parse_prefixes(r.number_prefix, prefixes); !e.empty())
    return "number_prefix: " + e;
  std::vector<std::size_t> lengths;
  if (auto e = parse_lengths(r.number_length, lengths); !e.empty())
    return "number_length: " + e;
  if (!number_list::parse_mask(r.number_mask, error))
    return "number_mask: " + error;
  if (r.routing_strategy != "PRIORITIZED" && r.routing_strategy != "RANDOMLY")
    return "routing_strategy: '" + r.routing_strategy + "' is not PRIORITIZED or RANDOMLY";
  if (r.routes.empty() || r.routes.size() > max_routes)
    return "routes: a rule has 1-6 trunk routes, not " + std::to_string(r.routes.size());
  for (std::size_t i = 0; i < r.routes.size(); ++i) {
    auto& rt = r.routes[i];
    if (rt.trunk.empty())
      return "routes: " + route_name(i, rt) + " names no trunk";
    if (rt.strip_digits > 9)
      return "routes: " + route_name(i, rt) + ": strip_digits must be 0-9";
    if (!valid_prepend(rt.prepend))
      return "routes: " + route_name(i, rt) + ": prepend '" + rt.prepend
             + "' may hold digits, '+', '*' and '#' only (up to 32)";
    if (!rt.outbound_caller_id.empty() && !valid_caller_id(rt.outbound_caller_id))
      return "routes: " + route_name(i, rt) + ": outbound_caller_id '" + rt.outbound_caller_id
             + "' is not a number";
  }
  return {};
}

struct rule_set::compiled {
  std::string name;
  std::uint32_t priority = 0;
  std::vector<std::string> prefixes;
  std::vector<std::size_t> lengths;
  number_list::mask mask;
  bool randomly = false;
  bool disable_outside_hours = false, disable_on_holidays = false;
  std::vector<storage::outbound_route> routes;

  bool matches(const call& c) const {
    if (!prefixes.empty()
        && std::none_of(prefixes.begin(), prefixes.end(), [&](const std::string& p) {
             return c.number.compare(0, p.size(), p) == 0;
           }))
      return false;
    if (!lengths.empty()
        && std::find(lengths.begin(), lengths.end(), number_length(c.number)) == lengths.end())
      return false;
    return mask.empty() || number_list::matches(mask, c.caller);
  }
};

rule_set::rule_set(std::vector<storage::outbound_rule_record> rules) {
  for (auto& r : rules) {
    // A stored rule that no longer validates never matches: routing a call by
    // a half-understood rule is worse than the 404 the next rules may give.
    if (!validate(r).empty())
      continue;
    auto c = std::make_shared<compiled>();
    c->name = r.name;
    c->priority = r.priority;
    parse_prefixes(r.number_prefix, c->prefixes);
    parse_lengths(r.number_length, c->lengths);
    std::string error;
    c->mask = *number_list::parse_mask(r.number_mask, error);
    c->randomly = r.routing_strategy == "RANDOMLY";
    c->disable_outside_hours = r.disable_outside_hours;
    c->disable_on_holidays = r.disable_on_holidays;
    c->routes = std::move(r.routes);
    rules_.push_back(std::move(c));
  }
  std::sort(rules_.begin(), rules_.end(), [](auto& a, auto& b) {
    return std::tie(a->priority, a->name) < std::tie(b->priority, b->name);
  });
}

std::size_t rule_set::size() const { return rules_.size(); }

decision rule_set::decide(const call& c,
                          const std::function<std::size_t(std::size_t)>& pick) const {
  decision d;
  for (auto& r : rules_) {
    if (!r->matches(c))
      continue;
    d.rule = r->name;
    d.strategy = r->randomly ? "RANDOMLY" : "PRIORITIZED";
    // Holiday first: on a holiday that is also a working day the holiday is
    // the reason an admin looks for.
    if (r->disable_on_holidays && c.holiday) {
      d.code = 403;
      d.reason = "rule " + r->name + " is disabled on holidays";
      return d;
    }
    if (r->disable_outside_hours && !c.office_hours) {
      d.code = 403;
      d.reason = "rule " + r->name + " is disabled outside office hours";
      return d;
    }
    d.code = 200;
    d.reason = "rule " + r->name + " matches " + c.number;
    d.steps.reserve(r->routes.size());
    for (auto& rt : r->routes) {
      step s;
      s.trunk = rt.trunk;
      s.digits = rt.prepend + c.number.substr(std::min<std::size_t>(rt.strip_digits,
                                                                    c.number.size()));
      auto own = std::find_if(c.caller_ids.begin(), c.caller_ids.end(), [&](auto& id) {
        return id.trunk == rt.trunk && !id.caller_id.empty();
      });
      s.caller_id = own != c.caller_ids.end() ? own->caller_id : rt.outbound_caller_id;
      d.steps.push_back(std::move(s));
    }
    // Fisher-Yates; without a random source the routes keep their order.
    if (r->randomly && pick)
      for (auto i = d.steps.size(); i > 1; --i) {
        auto j = pick(i) % i;  // a source out of [0, i) cannot break the shuffle
        std::swap(d.steps[i - 1], d.steps[j]);
      }
    return d;
  }
  d.code = 404;
  d.reason = "no outbound rule matches " + c.number;
  return d;
}

} // namespace pbx::outbound_rule
