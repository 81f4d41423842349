#pragma once
// The tenant's side of trunk calls: where an outside call goes (inbound
// rules) and which routes a dialled external number takes (outbound rules),
// with the tenant's office hours, holidays and E.164 settings applied. Used by
// the tenant actor for calls and by `explain`.

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>

#include "actors/inbound_rule.hpp"
#include "actors/messages/admin.hpp"
#include "actors/outbound_rule.hpp"
#include "storage/records.hpp"

namespace pbx::trunk_routing {

/// The tenant's office hours and holidays at one moment.
struct moment {
  bool office_hours = true;
  bool holiday = false;
  std::string text;  // "Mon 09:30 Europe/Berlin, inside office hours"
};

moment at(const storage::tenant_record& t, std::chrono::system_clock::time_point when);

/// The outbound decision for `number` dialled (or forwarded to) by extension
/// `caller` (nullopt: an outside caller forwarded back out by a rule).
outbound_rule::decision outbound(const outbound_rule::rule_set& rules,
                                 const storage::tenant_record& t,
                                 const storage::extension_record* caller,
                                 const std::string& number, const moment& m,
                                 const std::function<std::size_t(std::size_t)>& pick);

/// The inbound decision for DID `did` on `trunk` from caller ID `cid`.
inbound_rule::decision inbound(const inbound_rule::rule_set& rules,
                               const storage::tenant_record& t, const std::string& trunk,
                               const std::string& did, const std::string& cid, const moment& m);

/// `explain` for an external number: steps, then a `decision` record (rule, and one
/// `route` record per step with trunk, digits and caller ID).
admin_reply explain_outbound(const outbound_rule::decision& d, const std::string& caller,
                             const std::string& number, const moment& m);

/// `explain ... trunk=NAME`: which inbound rule, which destination and why.
admin_reply explain_inbound(const inbound_rule::decision& d, const std::string& trunk,
                            const std::string& did, const std::string& cid, const moment& m);

} // namespace pbx::trunk_routing
