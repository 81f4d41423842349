#pragma once
// The tenant as registrar: REGISTER is answered by the tenant actor from its
// binding index (actors/binding_index) and the extension's stored HA1, with no
// extension or phone actor. Calls and the shell read the bindings from here.

#include <optional>
#include <utility>
#include <string>
#include <vector>

#include <caf/fwd.hpp>

#include "actors/messages/admin.hpp"
#include "actors/messages/call.hpp"
#include "actors/messages/registration.hpp"
#include "actors/tenant.hpp"
#include "engine/sip_port.hpp"
#include "storage/batch.hpp"

namespace pbx::registrations {

using tenant_ptr = caf::stateful_actor<tenant_state>*;

/// Loads the tenant's unexpired bindings from storage (activation, restart).
void start(tenant_ptr self);

/// Binding changes of several REGISTERs, committed together; each 200 is
/// sent once the commit returned.
struct write_group {
  storage::batch writes;
  std::vector<std::pair<sip_port*, sip_reply>> replies; // ports resolved on the actor's thread
  binding_write_failed failed; // txns and numbers; error once it failed
};

/// A REGISTER for an extension of this tenant. Returns false when the user
/// is not an extension (the caller tries a gateway trunk, then answers as for
/// an unknown user). With `group`, its binding changes and 200 join the
/// group (commit_group); without, they are committed on their own.
bool handle(tenant_ptr self, register_request& req, write_group* group = nullptr);

/// Commits what `g` gathered; nothing when it is empty.
void commit_group(tenant_ptr self, write_group&& g);

/// A commit of bindings failed: reload the extension's bindings, answer 500.
void write_failed(tenant_ptr self, binding_write_failed& f);

/// What a digest check of the extension needs (cached with its bindings, or
/// read from its record); nothing when the extension does not exist.
std::optional<binding_index::auth> auth_of(tenant_ptr self, const std::string& number);

/// Once a second while there are bindings: drops the ones that expired.
void tick(tenant_ptr self);

/// The extension's live bindings as ringable devices.
std::vector<call_target> devices(tenant_ptr self, const std::string& number);

/// The extension's record changed (shell or API): its cached HA1 goes; a
/// disabled or deleted extension's bindings go too (storage dropped them in
/// the same commit).
void changed(tenant_ptr self, const std::string& number);

/// `registrations [NUMBER]`: the live bindings, by extension number.
admin_reply list(tenant_ptr self, const registrations_query& q);

} // namespace pbx::registrations
