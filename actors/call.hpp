#pragma once
// A call actor owns one call: the caller's A leg, the ringing actor while the
// callee's devices ring, then the device that answered. Each leg is a SIP
// dialog the SIP thread holds for the call (engine/leg_phase), ended there if
// the call goes away. The call keeps the two sides consistent and writes the
// CDR when the call ends.
//
//            +--(rule: forward to N; no answer / busy rule)--+
//            v                                                 |
//   offered --(the callee's rules say ring)--> ringing --(ring_answered)--> answered
//      |  \--(voicemail rule, 777, *57)--> voicemail --(voicemail_done)--> ended
//      |                 (key 5: call back) ----/ offered again, A already answered
//      |                                     |                                 |
//      | 404/480/483, voicemail,  ring_failed, caller's CANCEL,       BYE either side,
//      | hangup rule, loop        admin hangup                         admin hangup
//      v                                     v                                 v
//                                   ended (CDR written, actor quits)
//
// A feature code call is answered at once and hung up: offered -> answered -> ended.

#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "actors/messages/call.hpp"
#include "actors/messages/trunk.hpp"
#include "engine/context.hpp"
#include "engine/leg_phase.hpp"
#include "storage/records.hpp"

namespace pbx {

/// What a call needs until a device answers it (the offer, the rung
/// extension's fallbacks, the outbound plan, the forwarding chain): ~1.3 kB a
/// held call would keep.
struct call_setup {
  call_offer offer;
  route_step on_no_answer, on_busy; // the rung extension's fallbacks
  outbound_plan out;                // the tenant's outbound plan (through a trunk)
  std::vector<std::string> chain;   // every extension the call reached (forwarding)
  std::size_t out_step = 0;         // the step of `out` being tried
  std::string out_route;            // the step's "TRUNK DIGITS" (its CDR line)
  std::string caller_gone;          // the caller left during voicemail (end reason)
  std::string ending;               // why we stopped the ringing (cancel, admin hangup)
  std::uint16_t ending_code = 0;
};

struct call_state {
  static inline const char* name = "call";
  enum class phase : std::uint8_t { offered, ringing, answered, voicemail, ended };
  node_context* ctx = nullptr;
  caf::actor tenant;
  std::uint64_t a_leg = 0; // the caller's leg
  // Until a device answers; then the one shared empty setup, read-only: nothing
  // writes it once the call is answered (it never rings or routes again).
  std::shared_ptr<call_setup> setup = std::make_shared<call_setup>();
  static std::shared_ptr<call_setup> no_setup();
  caf::actor ringing;        // while the callee's devices ring
  std::uint64_t winner = 0;  // the B leg that answered
  // Each leg's phase as the call sees it (what it sends and hears; `calls`
  // shows them): the A leg, and one per cdr.devices entry.
  std::vector<leg_phase> b_phases;
  std::uint32_t winner_device = 0; // the answered device in cdr.devices
  std::uint32_t device_base = 0;   // cdr.devices of the current ringing start here
  storage::cdr_record cdr;
  std::string rung;               // the extension whose line we marked ringing/talking
  caf::actor voicemail;             // while the media plane serves the caller
  caf::actor out_trunk;             // the trunk holding our channel (out through a trunk)
  // The small fields together (a held call is the node's memory).
  std::uint16_t relayed = 0;        // the last provisional code the caller got
  phase now = phase::offered;
  leg_phase a_phase = leg_phase::offered;
  bool cdr_written = false;
  bool relaying_offer = false;      // a re-INVITE is being relayed to the other leg
  bool a_answered = false;          // the media plane answered the A leg (call back: re-INVITE it)
  bool anonymous = false;           // *67 or the caller's anonymous_outbound
  bool outbound = false;            // ringing a trunk step now
};

caf::behavior call_actor(caf::stateful_actor<call_state>* self, node_context* ctx,
                         caf::actor tenant, call_offer offer);

} // namespace pbx
