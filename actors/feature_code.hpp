#pragma once
// Feature access codes (spec section 7) dialled from an extension's own
// phone to change its forwarding rules and DND. Codes are per tenant and
// editable; a missing entry means the default code.

#include <optional>
#include <string>
#include <vector>

#include "storage/rule_records.hpp"

namespace pbx::feature_code {

enum class argument { none, optional, required };

struct feature {
  const char* name;          // e.g. "dnd_on", "cf_always_on"
  const char* default_code;  // e.g. "*78"
  argument arg;              // a number dialled after the code
  const char* what;          // one line for `fac list`
};

/// Every feature this node implements, in `fac list` order.
const std::vector<feature>& features();
const feature* find_feature(const std::string& name);

/// The tenant's code for `name` (its own or the default).
std::string code_of(const storage::tenant_rules_record& t, const std::string& name);

/// Format of a code: 1-3 of `*`/`#`, then 0-4 digits, 2-7 characters in all.
/// Empty when fine, else the reason.
std::string check_code(const std::string& code);

struct match {
  const feature* what = nullptr;
  std::string arg;  // the digits after the code, if any
};

/// The feature a dialled string invokes (the longest code that fits, whose
/// argument rule the rest of the string satisfies), or nullopt.
std::optional<match> find(const storage::tenant_rules_record& t, const std::string& dialled);

/// Applies `m` to the extension's settings. Turning a forward on saves the
/// rules it replaces; turning it off restores them (defaults when nothing
/// was saved). Returns a confirmation line, or sets `error`.
std::string apply(storage::forwarding_record& f, const match& m, std::string& error);

} // namespace pbx::feature_code
