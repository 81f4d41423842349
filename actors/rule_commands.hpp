#pragma once
// The admin shell's forwarding-domain commands (status, forward, hours,
// holiday, exception, fac, explain): where each goes, and what it does to the
// extension's or the tenant's records. Validation lives here so a bad command
// changes nothing.

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "actors/forwarding.hpp"
#include "actors/messages/call.hpp"
#include "actors/messages/shell.hpp"
#include "storage/records.hpp"

namespace pbx::rule_commands {

/// True for the first word of a forwarding-domain command.
bool is_rules_verb(const std::string& verb);

/// Splits a command line's words into a rules_cmd (domain not yet
/// normalized); returns a usage error instead when the shape is wrong.
std::string route(const std::vector<std::string>& words, rules_cmd& out);

/// What the extension actor knows about its line (for `status show`).
struct line_facts {
  std::size_t devices = 0;
  bool ringing = false;
  bool on_call = false;
};

/// An extension-level command; `changed` says `ext` must be persisted.
admin_reply on_extension(const rules_cmd& cmd, storage::extension_record& ext,
                          const line_facts& line, bool& changed);

/// A tenant-level command (global hours and holidays, feature codes).
admin_reply on_tenant(const rules_cmd& cmd, storage::tenant_record& t, bool& changed);

/// `explain` arguments: FROM and an optional at=ISO-8601 instant.
std::string explain_args(const rules_cmd& cmd, std::string& caller,
                         std::chrono::system_clock::time_point& at);

/// What `explain` knows of another extension when it follows a forward.
struct explain_target {
  storage::extension_record ext;
  bool registered = false;
};
using explain_lookup = std::function<std::optional<explain_target>(const std::string& number)>;
/// Where a forward to outside number `number` by extension `by` would leave (the
/// outbound rules): the text that ends the walk. Empty function: "no extension".
using explain_outside = std::function<std::string(const std::string& number,
                                                  const storage::extension_record& by)>;

/// The `explain` output: the decision of `ext`, then of every extension a
/// FORWARD_TO_NUMBER leads to (with a call's loop protection), one line per
/// step, and last `decision ...` for the extension where the call ends.
admin_reply explain(const storage::extension_record& ext, const storage::tenant_record& tenant,
                     forwarding::call_facts facts, const explain_lookup& lookup,
                     const explain_outside& outside = {});

/// An ISO-8601 instant with Z or an offset: 2026-03-29T09:00:00+02:00.
std::optional<std::chrono::system_clock::time_point> parse_instant(const std::string& text);

/// The call-path form of a rule.
route_step to_step(storage::forward_slot slot, const storage::forward_rule& r,
                   const char* reroute_reason);

} // namespace pbx::rule_commands
