#pragma once
// A voicemail actor serves one caller on the media plane, for one call: it
// either takes a message for a mailbox (deposit) or lets a user listen to
// theirs (listen: the voicemail number or *57). It answers the caller's A leg
// through the SIP thread holding it, drives the media endpoint with
// play/record commands, reads and changes the mailbox through its extension
// actor (via the tenant), and tells the call `voicemail_done` when it is over;
// the call hangs up and writes the CDR.
//
// deposit: query box -> answer -> (full: "mailbox full", done)
//          -> greeting + beep -> record (BYE, #, silence, max) -> keep or
//          discard (< min seconds) -> done
// listen:  answer -> [mailbox number] -> [PIN, 3 tries] -> counts -> each
//          message (new first): date/time, audio, menu 1 replay 2 save
//          3 delete 4 next 5 call back 0 settings -> end of messages -> main
//          menu (1 new, 2 saved, 0 settings: 1 greeting, 2 PIN, * back;
//          * goodbye). A prompt leading into a menu is part of its prompt:
//          digits during it count (docs/voicemail.md has the tree).

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>

#include "actors/messages/media.hpp"
#include "actors/messages/voicemail.hpp"
#include "engine/context.hpp"

namespace pbx {

/// Voicemail -> call: the caller is answered (the CDR's answer time).
using voicemail_answered_atom = caf::atom_constant<caf::atom("vmanswered")>;

/// What a call asks of its voicemail actor.
struct voicemail_job {
  enum class mode : std::uint8_t { deposit, listen };
  mode what = mode::deposit;
  std::uint64_t leg = 0; // the caller's A leg
  caf::actor call;       // hears voicemail_done
  caf::actor tenant;     // routes mailbox_* to the extension
  std::string domain;
  std::string mailbox;   // deposit: the box; listen: the box, empty: ask for it
  std::string caller, caller_name, called;
  std::string sdp;       // the caller's offer
};

struct voicemail_state {
  static inline const char* name = "voicemail";
  node_context* ctx = nullptr;
  voicemail_job job;
  mailbox_info box;
  bool answered = false, hung_up = false, finished = false;
  std::uint32_t op = 0;            // the play/record in flight (0: none)
  bool recording = false;
  bool depositing = false;         // a message is being committed: wait for its id
  std::string digits;              // collected input
  std::uint32_t input_gen = 0;     // invalidates older input timeouts
  bool collecting = false;
  std::size_t max_digits = 0;
  std::function<void()> after_play;
  std::function<void(const std::string&, bool)> on_input; // digits, timed out
  std::function<void(const media_event&)> after_record;
  std::uint32_t pin_tries = 0;
  std::size_t current = 0;         // listen: the message being heard
  std::string message_id, outcome; // for the call's CDR
  std::string call_back;           // the number the listener asked to call
};

caf::behavior voicemail_actor(caf::stateful_actor<voicemail_state>* self, node_context* ctx,
                              voicemail_job job);

/// Whether `dialled` reaches the voicemail service, and which box: the
/// tenant's service number and *57 open the caller's own box, *57NNN box NNN
/// (PortSIP's DISA form). At the PIN prompt `*` asks for another box.
std::optional<std::string> voicemail_service_box(const std::string& dialled,
                                                 const std::string& service_number,
                                                 const std::string& caller);

} // namespace pbx
