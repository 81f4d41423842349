#pragma once
// A ringing actor rings every device of one callee in parallel for one
// call: it dials one B leg per device and owns them until one answers (that
// leg is handed to the call), all fail, the no-answer timer fires, or the call
// stops it. Legs it still owns when it ends are ended by the SIP thread.
//
//   ringing --(first 200)--> handed over (drains stray events for 1 s) --> done
//      |--(486/600/603, all failed, no answer, stop)--> done

#include <chrono>
#include <map>
#include <string>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "actors/messages/call.hpp"
#include "engine/context.hpp"

namespace pbx {

/// What a call asks its ringing actor to ring.
struct ringing_plan {
  std::vector<call_target> targets;
  std::uint32_t no_answer_timeout = 60;
  std::uint32_t max_forwards = 70; // for the B legs
  std::string from_uri, from_name, sdp;
  // B legs to a trunk: the provider's credentials and extra header lines
  std::string auth_user, auth_password, headers;
};

struct ringing_state {
  static inline const char* name = "ringing";
  node_context* ctx = nullptr;
  caf::actor call;
  struct ringing_leg {
    std::uint32_t device = 0; // index in the plan's targets
    std::uint16_t code = 0;   // last provisional code passed on
  };
  std::map<std::uint64_t, device_result> legs; // every B leg and what became of it
  std::map<std::uint64_t, ringing_leg> trying; // B legs still ringing
  bool decided = false;
  std::chrono::steady_clock::time_point no_answer_at; // the no-answer rule's deadline
};

caf::behavior ringing_actor(caf::stateful_actor<ringing_state>* self, node_context* ctx,
                            caf::actor call, ringing_plan plan);

} // namespace pbx
