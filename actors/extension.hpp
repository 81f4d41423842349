#pragma once
// An extension actor owns one extension: its Users-page record, its line
// (calls in progress), mailbox and subscriptions. Its bindings are its
// tenant's (actors/registrations): a registered extension needs no actor.
// It is activated on demand by its tenant and passivates itself when idle.

#include <map>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "actors/digest.hpp"
#include "actors/messages/call.hpp"
#include "actors/mwi.hpp"
#include "actors/write_tracker.hpp"
#include "engine/context.hpp"
#include "engine/metrics.hpp"
#include "storage/records.hpp"

namespace pbx {

struct extension_state {
  static inline const char* name = "extension";
  node_context* ctx = nullptr;
  caf::actor tenant;
  storage::extension_record rec;
  write_tracker writes;
  bool active_since_check = true;
  std::size_t deposits_pending = 0;  // messages being committed (the box limit counts them)
  mwi::state mwi; // message-summary subscriptions (actors/mwi.hpp)
};

/// The callee's side of a call: its rules decide, on the record as committed
/// (no actor needed: a decision is a read); its live devices (`q.devices`)
/// ring when that is the decision.
callee_targets decide_callee(const storage::extension_record& rec,
                             const storage::tenant_record& tenant, const callee_query& q);

/// The caller's side of an INVITE from extension `offer.caller` with the given
/// stored HA1: digest (407 with the same anti-probing rule as REGISTER; a
/// disabled extension gets 403). Answers the leg itself when it fails.
bool caller_checked(node_context* ctx, const call_offer& offer, const std::string& domain,
                    const std::string& ha1, bool enabled);

/// Answers a call leg whose digest check failed: 407 with a fresh nonce, or 403.
void send_auth_failure(node_context* ctx, std::uint64_t leg, digest::verdict v,
                       const std::string& realm);

caf::behavior extension_actor(caf::stateful_actor<extension_state>* self,
                              node_context* ctx, caf::actor tenant,
                              storage::extension_record rec);

} // namespace pbx
