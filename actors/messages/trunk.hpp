#pragma once
// Messages of the trunk domain: what a trunk actor asks the SIP thread to do
// (register to the provider, OPTIONS keep-alive) and hears back, and how a
// call takes one of a trunk's channels.

#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>

#include "actors/messages/call.hpp"
#include "actors/messages/registration.hpp"

namespace pbx {

/// Trunk actor -> SIP thread (sip_port::trunk). `key` ("DOMAIN/NAME") names the
/// trunk's client state on the SIP thread; its events go to `owner`.
struct trunk_command {
  enum class op : std::uint8_t {
    register_start, // REGISTER to `registrar` (re-sent before expiry by the SIP thread)
    register_stop,  // un-REGISTER (Expires: 0) and forget the registration
    options,        // one OPTIONS to `registrar`; its answer comes back as options_answer
  };
  op what = op::options;
  std::string key;
  caf::actor owner;
  std::string registrar;      // request URI: sip:HOST:PORT;transport=tcp
  std::string aor;            // To/From: sip:USERNAME@HOST
  std::string contact_user;   // our Contact's user part (inbound calls come to it)
  std::string outbound_proxy; // sip:IP:PORT or empty
  std::string auth_user, password;
  std::uint32_t expires = 600;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, trunk_command& x) {
  return f(caf::meta::type_name("trunk_command"), x.what, x.key, x.owner, x.registrar, x.aor,
           x.contact_user, x.outbound_proxy, x.auth_user, x.password, x.expires);
}

/// SIP thread -> trunk actor.
struct trunk_event {
  enum class kind : std::uint8_t {
    registered,      // 2xx: `expires` is what the registrar granted
    register_failed, // final error or timeout (`code` 408 when no answer)
    options_answer,  // the answer to an OPTIONS (`code`; 408 when none)
  };
  kind what = kind::options_answer;
  std::string key;
  std::uint16_t code = 0;
  std::string reason;
  std::uint32_t expires = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, trunk_event& x) {
  return f(caf::meta::type_name("trunk_event"), x.what, x.key, x.code, x.reason, x.expires);
}

/// Call -> trunk actor: take one channel for call `call_id` (released by
/// trunk_release or when the call actor is gone: the trunk monitors it).
struct trunk_seize {
  std::string call_id;
  caf::actor call;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, trunk_seize& x) {
  return f(caf::meta::type_name("trunk_seize"), x.call_id, x.call);
}

/// The trunk's answer: `code` 200 with what a B leg to the provider needs,
/// or 503 (offline, disabled, max calls of the trunk or of the tenant).
struct trunk_grant {
  std::uint16_t code = 200;
  std::string reason;
  std::string target_host;   // the Request-URI is sip:DIGITS@target_host
  flow_info route;           // where the INVITE goes (outbound proxy or host)
  std::string from_host;     // our From's host part
  std::string auth_user, password; // answer the provider's 401/407
  std::string caller_id;     // the trunk's default caller ID
  bool diversion = false, keep_caller_id = true;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, trunk_grant& x) {
  return f(caf::meta::type_name("trunk_grant"), x.code, x.reason, x.target_host, x.route,
           x.from_host, x.auth_user, x.password, x.caller_id, x.diversion, x.keep_caller_id);
}

struct trunk_release {
  std::string call_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, trunk_release& x) {
  return f(caf::meta::type_name("trunk_release"), x.call_id);
}

/// Trunk -> tenant: an INVITE the trunk accepted from its provider (source
/// checked); the tenant's inbound rules decide where it goes.
struct trunk_call {
  std::string trunk;
  std::string did;  // the To user, or the Request-URI user when the trunk says so
  call_offer offer;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, trunk_call& x) {
  return f(caf::meta::type_name("trunk_call"), x.trunk, x.did, x.offer);
}

/// Call -> tenant: the dialled `number` is not an extension; which outbound
/// rule and routes take it out (`forwarded_by`: an extension forwarding the call).
struct outbound_query {
  std::string caller;        // the calling extension, or the outside caller of a forward
  std::string number;        // as dialled (*67 already taken off: `anonymous`)
  bool anonymous = false;
  std::string forwarded_by;  // the extension whose rule forwards here ("" when dialled)
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, outbound_query& x) {
  return f(caf::meta::type_name("outbound_query"), x.caller, x.number, x.anonymous,
           x.forwarded_by);
}

/// One route of an outbound decision, with the trunk actor that carries it.
struct outbound_step {
  std::string trunk;
  caf::actor actor;       // invalid: the trunk is not running (the step fails with 503)
  std::string digits;
  std::string caller_id;  // empty: the trunk's default
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, outbound_step& x) {
  return f(caf::meta::type_name("outbound_step"), x.trunk, x.actor, x.digits, x.caller_id);
}

/// The tenant's answer: `code` 200 with the steps to try in order, or 404/403.
struct outbound_plan {
  std::uint16_t code = 404;
  std::string reason;
  std::string rule;
  std::vector<outbound_step> steps;
  bool anonymous = false;     // the caller's setting or *67
  std::string caller_number;  // the caller's real number (P-Asserted-Identity)
  std::string caller_name;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, outbound_plan& x) {
  return f(caf::meta::type_name("outbound_plan"), x.code, x.reason, x.rule, x.steps,
           x.anonymous, x.caller_number, x.caller_name);
}

/// `trunk status` / `trunk show`: one record of the trunk's live state.
using trunk_status_atom = caf::atom_constant<caf::atom("trkstatus")>;

} // namespace pbx
