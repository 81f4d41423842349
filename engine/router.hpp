#pragma once
// The node's entry point for domain traffic: resolves a SIP domain to its
// tenant actor (activating it from storage) and creates tenants.

#include <map>
#include <memory>
#include <set>
#include <string>

#include <caf/actor_addr.hpp>
#include <caf/fwd.hpp>

#include "actors/write_tracker.hpp"
#include "engine/context.hpp"
#include "storage/trunk_records.hpp"

namespace pbx {

struct router_state {
  static inline const char* name = "router";
  node_context* ctx = nullptr;
  std::set<std::string> creating; // domains whose creation is being committed
  std::set<std::string> active;   // domains with a live tenant actor
  write_tracker writes;
  // trunk add/set on their way to a tenant: DID pools are checked across
  // tenants here, one at a time, against storage and these (key domain/name).
  std::map<std::string, storage::trunk_record> trunks_pending;
  // Cluster mode: where tenants are placed, as membership last said (else ctx->placed).
  std::shared_ptr<const placement> placed;
  std::set<caf::actor_addr> moved; // tenants stopped here because another node owns them
  std::set<node_number> unreachable; // owners said to be out of reach (logged once each)
};

caf::behavior router_actor(caf::stateful_actor<router_state>* self,
                           node_context* ctx);

/// Lower-cases a domain; returns empty when it is not a host name.
std::string normalize_domain(std::string_view domain);

} // namespace pbx
