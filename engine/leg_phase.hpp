#pragma once
// The phase of one SIP dialog of a call (a leg): the caller's A leg or one B
// leg. The SIP thread keeps it per leg and refuses a command its phase does
// not take; a call mirrors its legs' phases for `calls`.
//
// The dialog's phase, from what the peer did (B leg) or what we sent (A leg):
//
//                  18x                   2xx
//   offered ---------------> ringing ------------> answered
//      |  \---------------------- 2xx ---------------->^ |
//      |                            |                    |
//      | reject, hangup,            | reject, hangup,    | hangup (BYE),
//      | closed                     | closed             | closed
//      v                            v                    v
//      +------------------------> ended <----------------+
//                 (nothing leaves it; the SIP thread forgets the leg)

#include <cstdint>

#include "actors/messages/call.hpp"
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

} // namespace pbx
