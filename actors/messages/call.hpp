#pragma once
// Messages of the call domain: an INVITE on its way to the caller's
// extension, the callee's reachable devices, and what happens on each leg.

#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>

#include "actors/messages/registration.hpp"

namespace pbx {

/// A new INVITE (A leg `leg`), parsed by the SIP thread.
struct call_offer {
  std::uint64_t leg = 0;
  std::string domain;      // the caller's tenant (From host)
  std::string caller;      // From user
  std::string caller_name; // From display name
  std::string callee;      // Request-URI user
  digest_credentials auth; // Proxy-Authorization
  std::string sdp;
  std::uint32_t max_forwards = 70;
  std::string feature;  // set by the caller's extension: a feature code's confirmation
  flow_info source;     // where the INVITE came from (security log, bans)
  std::string user_agent;
  std::string to_user;  // To user (an inbound trunk call's DID, usually)
  // Set by a trunk actor on an inbound call it accepted: the call needs no digest,
  // its caller is an outside number, and its CDR says inbound.
  std::string trunk;
  std::string did;
  std::string privacy;  // the caller's Privacy header ("id": do not show the caller)
  // Set by the tenant on an inbound trunk call: where its inbound rule sends it.
  // "" rings `callee` (an extension, its rules apply); "voicemail" leaves a message
  // in `callee`'s box; "number" sends it out to `callee` through the outbound rules;
  // "reject:CODE" refuses it (hang up / no rule) with the reason in `feature`.
  std::string destination;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, call_offer& x) {
  return f(caf::meta::type_name("call_offer"), x.leg, x.domain, x.caller,
           x.caller_name, x.callee, x.auth, x.sdp, x.max_forwards, x.feature, x.source,
           x.user_agent, x.to_user, x.trunk, x.did, x.privacy, x.destination);
}

/// One forwarding action decided by an extension's rules (storage::forward_action).
struct route_step {
  std::uint8_t action = 2;     // forward_action; 2 = RING_ANYWAY
  std::string number, mailbox; // FORWARD_TO_NUMBER / FORWARD_TO_VOICEMAIL
  std::string slot;            // the rule slot (or "exception")
  std::string reroute_reason;  // FORWARDING_...
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, route_step& x) {
  return f(caf::meta::type_name("route_step"), x.action, x.number, x.mailbox, x.slot,
           x.reroute_reason);
}

/// One registered device of the callee, reachable through its flow.
struct call_target {
  std::string contact;
  flow_info flow;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, call_target& x) {
  return f(caf::meta::type_name("call_target"), x.contact, x.flow);
}

/// Who rings for an extension: asked by a call actor, answered by the callee's
/// extension. The tenant, which holds the bindings and the line, fills in
/// `devices` and `on_call` on the way.
struct callee_query {
  std::string number;
  std::string caller;                 // caller ID, for exception rules
  std::vector<call_target> devices;   // the extension's live bindings
  bool on_call = false;               // a call of the extension's is answered (Busy)
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, callee_query& x) {
  return f(caf::meta::type_name("callee_query"), x.number, x.caller, x.devices, x.on_call);
}

/// The callee's answer: what its rules decided (`now`), its devices when
/// that is to ring, and what applies if ringing ends in no answer or busy.
struct callee_targets {
  std::uint16_t code = 200; // 404 no such extension
  std::vector<call_target> targets;
  std::uint32_t no_answer_timeout = 60;
  route_step now, no_answer, busy;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, callee_targets& x) {
  return f(caf::meta::type_name("callee_targets"), x.code, x.targets,
           x.no_answer_timeout, x.now, x.no_answer, x.busy);
}

/// Call -> extension: the extension's line is ringing, in a call, or free
/// again (the derived statuses; Busy = in a call). Sent by the call actor.
enum class line_use : std::uint8_t { ringing, talking, idle };

struct line_state {
  std::string number;
  std::string call_id;
  line_use use = line_use::idle;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, line_state& x) {
  return f(caf::meta::type_name("line_state"), x.number, x.call_id, x.use);
}

/// Something happened on a leg (reported by the SIP thread to the leg's owner:
/// the call, or the ringing actor while a B leg rings).
/// In-dialog requests of an answered leg (reinvite, info) wait for the owner's
/// reinvite_reply / info_reply with the same `txn`; our own requests on a leg
/// (leg_command reinvite / info) report their final status as *_result, echoing
/// the command's `txn`.
enum class leg_event_kind : std::uint8_t {
  progress, answered, closed,
  reinvite,        // the peer sent a re-INVITE with an SDP offer (`sdp`)
  reinvite_result, // our re-INVITE got `code` (`reason`), 2xx with the answer in `sdp`
  info,            // the peer sent an INFO (`content_type`, `body`)
  info_result,     // our INFO got `code` (`reason`)
};

struct leg_event {
  std::uint64_t leg = 0;
  leg_event_kind kind = leg_event_kind::closed;
  std::uint16_t code = 0; // progress: 180/183; closed: final status or 0
  std::string sdp;
  std::uint64_t txn = 0;  // in-dialog requests: names the transaction
  std::string reason;     // *_result: the response's reason phrase
  std::string content_type, body; // info
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, leg_event& x) {
  return f(caf::meta::type_name("leg_event"), x.leg, x.kind, x.code, x.sdp, x.txn, x.reason,
           x.content_type, x.body);
}

/// What became of one device that rang.
struct device_result {
  std::string contact;
  std::uint16_t code = 0; // 200 answered, 487 cancelled, or its final error
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, device_result& x) {
  return f(caf::meta::type_name("device_result"), x.contact, x.code);
}

/// Ringing -> call: a device rings (180) or sends early media (183). Sent when
/// a device's code changes (the call relays each new code once); `device`
/// indexes the plan's targets (the call shows each B leg's state from it).
struct ring_progress {
  std::uint16_t code = 180;
  std::string sdp;
  std::uint32_t device = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ring_progress& x) {
  return f(caf::meta::type_name("ring_progress"), x.code, x.sdp, x.device);
}

/// Ringing -> call: device `leg` answered. The ringing actor makes the call
/// the leg's owner right after this message (adopt), so its events follow it.
struct ring_answered {
  std::uint64_t leg = 0;
  std::string sdp;
  std::vector<device_result> devices;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ring_answered& x) {
  return f(caf::meta::type_name("ring_answered"), x.leg, x.sdp, x.devices);
}

/// Ringing -> call: nobody answered (code 486/480), or ringing was stopped (code 0).
struct ring_failed {
  std::uint16_t code = 480;
  std::string reason;
  std::vector<device_result> devices;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ring_failed& x) {
  return f(caf::meta::type_name("ring_failed"), x.code, x.reason, x.devices);
}

/// Ask a call for its state (`calls` in the shell) or to end it (`hangup`).
using call_info_atom = caf::atom_constant<caf::atom("callinfo")>;
using hangup_atom = caf::atom_constant<caf::atom("hangup")>;

} // namespace pbx
