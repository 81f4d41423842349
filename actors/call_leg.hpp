#pragma once
// A call-leg actor stands for one SIP dialog: the caller's A leg (taken with
// accept) or one B leg (dial). It is the owner the SIP thread reports the
// dialog's events to; it passes them on unchanged to its parent (the call; the
// ringing actor while a B leg rings) and sends the parent's commands on to the
// SIP thread when the dialog's state allows them. It is linked to its parent:
// a parent that goes away while the dialog lives ends it from here (A leg not
// answered: 503; otherwise CANCEL or BYE), so no dialog outlives its call.
//
// The dialog's phase, from what the SIP thread reports (B leg) or what we
// send (A leg):
//
//                  18x                   2xx
//   offered ---------------> ringing ------------> answered
//      |  \---------------------- 2xx ---------------->^ |
//      |                            |                    |
//      | reject, hangup,            | reject, hangup,    | hangup (BYE),
//      | closed                     | closed             | closed
//      v                            v                    v
//      +------------------------> ended <----------------+
//                 (nothing leaves it; the leg actor quits)

#include <cstdint>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "actors/messages/call.hpp"
#include "engine/context.hpp"
#include "engine/leg_command.hpp"

namespace pbx {

enum class leg_phase : std::uint8_t { offered, ringing, answered, ended };

/// The phase after the SIP thread reported `what` (with status `code`).
leg_phase next_phase(leg_phase now, leg_event_kind what, std::uint16_t code);

/// The phase after we sent `what` (with status `code`); check allowed() first.
leg_phase next_phase(leg_phase now, leg_command::op what, std::uint16_t code);

/// Whether a dialog in phase `now` takes command `what` (nothing once ended).
bool allowed(leg_phase now, leg_command::op what);

const char* leg_phase_name(leg_phase p);

struct call_leg_state {
  static inline const char* name = "call_leg";
  node_context* ctx = nullptr;
  caf::actor parent;
  std::uint64_t leg = 0;
  bool caller_side = false; // the A leg
  leg_phase now = leg_phase::offered;
};

/// `first` takes the dialog: accept (A leg) or dial (B leg).
caf::behavior call_leg_actor(caf::stateful_actor<call_leg_state>* self, node_context* ctx,
                             caf::actor parent, leg_command first);

} // namespace pbx
