#pragma once
// Outbound rules (spec 15.3): which rule a dialled external number matches and
// which trunk routes it takes, with the digits and caller ID each route sends.
// Pure: the caller supplies office hours, holidays and the random source.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "actors/number_list.hpp"
#include "storage/trunk_records.hpp"

namespace pbx::outbound_rule {

constexpr std::size_t max_routes = 6;

/// "" when the rule is well formed; otherwise "FIELD: reason" naming the field
/// (priority, number_prefix, number_length, number_mask, routing_strategy, routes).
/// Checks: 1-6 routes, strip_digits 0-9, prepend digits/'+'/'*'/'#', lists parse.
std::string validate(const storage::outbound_rule_record& r);

struct call {
  std::string caller;   // the calling extension
  std::string number;   // what it dialled (after *67 etc. were taken off)
  bool office_hours = true;  // the tenant is inside its office hours now
  bool holiday = false;      // today is one of the tenant's holidays
  std::vector<storage::outbound_caller_id> caller_ids; // the extension's, per trunk
};

/// One route as it would be tried.
struct step {
  std::string trunk;
  std::string digits;     // number with strip_digits removed and prepend added
  std::string caller_id;  // the extension's for this trunk, else the route's; empty: the trunk's
};

struct decision {
  std::uint16_t code = 404;  // 200 routed; 404 no rule matched; 403 the matching rule is disabled
  std::string reason;        // for the CDR and explain: "no outbound rule matches 0044..." /
                             // "rule intl is disabled outside office hours"
  std::string rule;          // the matching rule's name
  std::string strategy;      // PRIORITIZED | RANDOMLY
  std::vector<step> steps;   // in the order to try (RANDOMLY: shuffled with `pick`)
};

/// A tenant's rules, parsed once and ordered by priority (ties: by name).
class rule_set {
public:
  explicit rule_set(std::vector<storage::outbound_rule_record> rules = {});
  /// The first rule by priority whose prefix, length and caller mask all match
  /// (an empty condition matches anything). A disabled matching rule (outside
  /// hours / holiday) answers 403 and stops the search. `pick(n)` returns a
  /// number in [0, n) for RANDOMLY.
  decision decide(const call& c, const std::function<std::size_t(std::size_t)>& pick) const;
  std::size_t size() const;

private:
  struct compiled;
  std::vector<std::shared_ptr<const compiled>> rules_;
};

} // namespace pbx::outbound_rule
