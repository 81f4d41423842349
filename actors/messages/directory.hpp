#pragma once
// Messages of activation and passivation between tenant, extension and phone
// actors, and the storage acknowledgements that come back to an actor.

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

/// Makes sure an extension actor runs (boot: extensions with live bindings).
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

/// A phone actor's binding was refreshed by a new REGISTER.
struct binding_update {
  storage::binding_record rec;
};

/// A phone actor's binding ran out.
struct binding_expired {
  std::string contact;
  std::int64_t expires_at = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, binding_expired& x) {
  return f(caf::meta::type_name("binding_expired"), x.contact, x.expires_at);
}

/// A phone actor's own timer.
struct expiry_tick {
  std::uint64_t generation = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, expiry_tick& x) {
  return f(caf::meta::type_name("expiry_tick"), x.generation);
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

namespace pbx {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, binding_update& x) {
  return f(caf::meta::type_name("binding_update"), x.rec);
}

} // namespace pbx
