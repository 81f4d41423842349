#pragma once
// Inbound rules (spec 15.2): which rule an INVITE from a trunk matches, by DID
// and caller ID, and where it goes now (office hours, outside, holiday).
// Pure: the caller supplies office hours and holidays.

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <string>
#include <vector>

#include "actors/number_list.hpp"
#include "storage/trunk_records.hpp"

namespace pbx::inbound_rule {

/// "" when the rule is well formed for `trunk`; otherwise "FIELD: reason"
/// (trunk, did_numbers, cid_number_mask, office, outside, holiday). Checks:
/// the rule's trunk is `trunk`, did_numbers is one number or one range inside
/// the trunk's DID pool, the mask parses, each destination kind is one of
/// extension|voicemail|hangup|number|range with a value that fits (a range
/// destination needs a DID range of the same size).
std::string validate(const storage::inbound_rule_record& r, const storage::trunk_record& trunk);

/// Destination text as the shell writes it: "extension:101", "voicemail:101",
/// "hangup", "number:0015551230001", "range:200-299", "0" (= extension:0).
std::optional<storage::inbound_destination> parse_destination(std::string_view text,
                                                               std::string& error);
std::string format_destination(const storage::inbound_destination& d);

struct call {
  std::string trunk;
  std::string did;
  std::string cid;           // the caller's number
  bool office_hours = true;
  bool holiday = false;
};

struct decision {
  std::uint16_t code = 404;  // 200 a rule matched; 404 none
  std::string rule;
  std::string when;          // "office hours" | "outside office hours" | "holiday"
  std::string kind;          // extension | voicemail | hangup | number
  std::string target;        // extension or mailbox number, or the external number; "0" and
                             // range destinations are resolved (the DID / the mapped extension)
  std::string reason;        // for explain and the CDR
};

class rule_set {
public:
  explicit rule_set(std::vector<storage::inbound_rule_record> rules = {});
  /// Rules of `c.trunk` whose DID list holds `c.did` and whose mask (if any)
  /// matches `c.cid`; a rule with a mask wins over one without; ties by name.
  /// Holiday beats office hours.
  decision decide(const call& c) const;

private:
  struct compiled;
  std::vector<std::shared_ptr<const compiled>> rules_;
};

} // namespace pbx::inbound_rule
