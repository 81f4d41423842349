#pragma once
// What an actor asks the SIP thread to do with a call leg (a SIP dialog
// named by an opaque id; the actor never sees the libre session).

#include <cstdint>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/meta/type_name.hpp>

#include "actors/messages/registration.hpp"

namespace pbx {

struct leg_command {
  enum class op : std::uint8_t {
    challenge, // 407 with a digest challenge (realm, nonce, stale)
    reject,    // a final error response on an A leg (code, reason)
    accept,    // take the A leg: 100 Trying; events go to `owner`
    progress,  // 180/183 on the A leg (sdp optional)
    answer,    // 200 with `sdp` on the A leg
    dial,      // a new B leg to `target` through `route`, offering `sdp`
    hangup,    // end a leg: CANCEL before answer, BYE after, or reject an A leg
    reinvite,        // re-INVITE an answered leg offering `sdp`; reinvite_result echoes `txn`
    reinvite_reply,  // final response (code, reason, sdp if 2xx) to the peer's re-INVITE `txn`
    info,            // INFO on an answered leg (content_type, body); info_result echoes `txn`
    info_reply,      // final response (code, reason) to the peer's INFO `txn`
    adopt,           // the leg's events go to `owner` from now on (ringing -> call)
    owner_gone,      // the SIP thread's own: `gone`, which owned the leg, ended
  };
  op what = op::reject;
  std::uint64_t leg = 0;
  std::uint16_t code = 0;
  std::string reason;
  std::string sdp;
  std::string realm, nonce;
  bool stale = false;
  caf::actor owner;      // accept, dial, adopt: who hears the leg's events
  caf::actor_addr gone;  // owner_gone
  std::string target, from_uri, from_name;
  flow_info route;
  std::uint32_t max_forwards = 70; // dial: the caller's count less one
  std::uint64_t txn = 0;           // in-dialog requests (see leg_event)
  std::string content_type, body;  // info
  // dial through a trunk: credentials for the provider's 401/407, and extra
  // header lines ("Privacy: id\r\nP-Asserted-Identity: <...>\r\n")
  std::string auth_user, auth_password;
  std::string headers;
};

// A call or its ringing actor sends these to the SIP thread owning the leg (sip_of).
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, leg_command& x) {
  return f(caf::meta::type_name("leg_command"), x.what, x.leg, x.code, x.reason, x.sdp, x.realm,
           x.nonce, x.stale, x.owner, x.gone, x.target, x.from_uri, x.from_name, x.route,
           x.max_forwards, x.txn, x.content_type, x.body, x.auth_user, x.auth_password,
           x.headers);
}

} // namespace pbx
