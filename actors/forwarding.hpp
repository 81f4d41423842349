#pragma once
// The forwarding decision of one extension for one call (Users page rule
// matrix): exceptions first, then status x office hours. Pure: the clock and
// the device facts come in, a decision with the reasoning steps comes out.
// The call path and the shell's `explain` use this one function.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/records.hpp"

namespace pbx::forwarding {

const char* slot_name(storage::forward_slot s);  // "available_office_hours"
std::optional<storage::forward_slot> parse_slot(std::string_view name);
const char* action_name(storage::forward_action a);  // "FORWARD_TO_NUMBER"
std::optional<storage::forward_action> parse_action(std::string_view name);
/// The spec's table 4.2: which actions a slot allows.
bool slot_allows(storage::forward_slot s, storage::forward_action a);
const char* presence_name(storage::presence p);  // available|away|dnd|lunch|trip
std::optional<storage::presence> parse_presence(std::string_view name);
const char* when_name(storage::exception_when w);  // "ALL_HOURS"
std::optional<storage::exception_when> parse_when(std::string_view name);

/// Caller ID pattern (see storage::exception_rule): `x`/`?` one character,
/// `*` any run; the whole caller must match.
bool caller_matches(std::string_view pattern, std::string_view caller);

/// What the callee's extension knows about the call at the moment it arrives.
struct call_facts {
  std::string caller;       // caller ID (From user)
  bool registered = true;   // at least one device bound
  bool on_call = false;     // the extension is already in a call (status Busy)
  std::chrono::system_clock::time_point at;
};

struct decision {
  bool exception = false;         // an exception rule decided
  std::uint32_t exception_id = 0;
  storage::forward_slot slot = storage::forward_slot::available_office_hours;
  storage::forward_rule rule;     // what to do now
  // RING_ANYWAY: the slot and rule that apply when nobody answers in time
  // (rule.timeout seconds of ringing): available_no_answer or busy_no_answer.
  storage::forward_slot no_answer_slot = storage::forward_slot::available_no_answer;
  storage::forward_rule no_answer;
  // RING_ANYWAY: the rule when a device answers busy (486/600/603): the
  // busy_{office,non_office}_hours slot of the same moment.
  storage::forward_slot busy_slot = storage::forward_slot::busy_office_hours;
  storage::forward_rule busy;
  std::string reroute_reason;     // FORWARDING_... when the call does not ring here
  std::vector<std::string> steps; // one human line per step of the reasoning
  bool office = true;             // the moment counted as office hours
};

/// Decides for a call to `ext` (tenant `tenant`, whose hours, holidays and
/// zone apply as the extension's mode says). An unknown zone falls back to
/// UTC and says so in the steps.
decision decide(const storage::extension_record& ext, const storage::tenant_record& tenant,
                const call_facts& facts);

/// The CDR reroute reason for forwarding out of `slot`.
const char* reroute_reason(storage::forward_slot slot);

/// Forwards one call may take (101 -> 102 -> 103 is two).
constexpr std::size_t max_forwards = 5;

/// Loop protection for a forward from the last extension of `chain` to
/// `next`: empty when allowed, else the end reason ("forwarding loop: ...",
/// "too many forwards: ..."). `chain` holds every extension the call reached.
std::string loop_check(const std::vector<std::string>& chain, const std::string& next,
                       std::size_t max_forwards);

} // namespace pbx::forwarding
