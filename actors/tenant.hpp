#pragma once
// A tenant actor owns one SIP domain: its registered bindings (it answers
// REGISTER itself), activation of the domain's extension actors on demand,
// creation of extensions (so duplicates are decided in one place), and the
// answers for extensions that do not exist.

#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/fwd.hpp>

#include "actors/binding_index.hpp"
#include "actors/inbound_rule.hpp"
#include "actors/messages/call.hpp"
#include "actors/outbound_rule.hpp"
#include "actors/write_tracker.hpp"
#include "engine/context.hpp"
#include "engine/metrics.hpp"
#include "storage/records.hpp"

namespace pbx {

struct trunk_channels;

struct tenant_state {
  static inline const char* name = "tenant";
  node_context* ctx = nullptr;
  storage::tenant_record rec;
  std::set<std::string> active;   // numbers with a live extension actor
  std::set<std::string> creating; // numbers whose creation is being committed
  write_tracker writes;
  std::map<std::string, caf::actor> trunks; // by name: the live trunk actors (actors/trunk.hpp)
  std::shared_ptr<trunk_channels> trunk_calls; // max_trunk_calls over all of them
  std::set<caf::actor_addr> trunk_addrs;         // every trunk actor spawned and not ended
  // The tenant's trunks and rules by name, loaded at activation. A change is
  // applied here when it is submitted (so the next command sees it) and again
  // once committed; a failed commit reloads them from storage.
  std::map<std::string, storage::trunk_record> trunk_recs;
  std::map<std::string, storage::inbound_rule_record> inbound_recs;
  std::map<std::string, storage::outbound_rule_record> outbound_recs;
  // The rules parsed, rebuilt from the committed records after each change.
  outbound_rule::rule_set outbound;
  inbound_rule::rule_set inbound;
  // The domain's registered bindings (actors/registrations): no actor per
  // extension or per binding; one tick a second while any exist.
  std::unique_ptr<binding_index> bindings;
  metrics::binding_share bound; // bindings->size() in actorpbx_registrations
  bool ticking = false;
  // The extensions' lines (Busy, ringing), so that a call needs no extension
  // actor alive for its length: per number, how many calls hold it talking or
  // ringing; per call actor, the lines it holds, freed however it ends.
  struct line_count {
    std::uint32_t talking = 0, ringing = 0;
  };
  std::unordered_map<std::string, line_count> lines;
  struct line {
    std::string number, call_id;
    line_use use;
  };
  struct call_lines {
    std::vector<line> held;
    bool linked = false; // spawned here; any other holder is monitored
  };
  std::unordered_map<caf::actor_addr, call_lines> calls;
};

caf::behavior tenant_actor(caf::stateful_actor<tenant_state>* self,
                           node_context* ctx, storage::tenant_record rec);

/// Applies a tenant's shell fields (name, timezone, allow_weak_passwords) to
/// `rec`; an error leaves it unchanged.
/// A tenant as the admin layer shows it (`tenant show`).
field_list tenant_fields(const storage::tenant_record& t, storage::store& st);

std::string apply_tenant_fields(storage::tenant_record& rec,
                                const std::vector<std::pair<std::string, std::string>>& fields);

} // namespace pbx
