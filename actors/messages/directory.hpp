#pragma once
// Messages of activation and passivation between tenant and extension actors,
// and the storage acknowledgements that come back to an actor.

#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>

#include "storage/records.hpp"

namespace pbx {

/// Asks a child actor to end normally (an exit message would ripple up its links).
using stop_atom = caf::atom_constant<caf::atom("stop")>;

/// An extension actor's periodic look at whether it has been idle.
using idle_check_atom = caf::atom_constant<caf::atom("idlecheck")>;

/// An idle extension actor asks its tenant to be forgotten.
struct passivate_request {
  std::string number;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, passivate_request& x) {
  return f(caf::meta::type_name("passivate_request"), x.number);
}

/// The tenant forgot the extension: nothing routed reaches it any more.
struct passivate_ok {};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, passivate_ok&) {
  return f(caf::meta::type_name("passivate_ok"));
}

/// A tenant's once-a-second look at its binding index's timer wheel.
using binding_tick_atom = caf::atom_constant<caf::atom("bindtick")>;

/// Makes sure a tenant (and, with a number, an extension actor) runs; at boot,
/// every tenant with live bindings, so that they expire on time.
struct activate_extension {
  std::string domain;
  std::string number;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, activate_extension& x) {
  return f(caf::meta::type_name("activate_extension"), x.domain, x.number);
}

/// A storage commit finished; `error` is empty on success.
struct write_done {
  std::uint64_t id = 0;
  std::string error;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, write_done& x) {
  return f(caf::meta::type_name("write_done"), x.id, x.error);
}

} // namespace pbx

namespace pbx::storage {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, binding_record& x) {
  return f(caf::meta::type_name("binding_record"), x.domain, x.number,
           x.contact, x.call_id, x.cseq, x.expires_at, x.registered_at,
           x.received_ip, x.received_port, x.transport, x.user_agent, x.params);
}

} // namespace pbx::storage
