#pragma once
// A call actor owns one call: the caller's A leg and one B leg per device of
// the callee that rings in parallel. The first answer wins; everything else
// is cancelled.
//
//   offered --(targets found, B legs dialled)--> ringing --(first 200)--> answered
//      |                                            |                        |
//      +--(404/480/483)--------+   (486/603, all failed, no answer, CANCEL)  (BYE either side)
//                              v                    v                        v
//                                            ended (actor quits)

#include <map>
#include <string>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "actors/messages/call.hpp"
#include "engine/context.hpp"
#include "storage/records.hpp"

namespace pbx {

struct call_state {
  static inline const char* name = "call";
  enum class phase { offered, ringing, answered, ended };
  node_context* ctx = nullptr;
  caf::actor tenant;
  call_offer offer;
  phase now = phase::offered;
  std::map<std::uint64_t, std::string> ringing; // B legs still trying -> their contact
  std::map<std::uint64_t, std::string> devices; // every B leg -> its contact
  storage::cdr_record cdr;
  bool cdr_written = false;
  std::uint64_t winner = 0;              // the B leg that answered
  std::uint16_t relayed = 0;             // last provisional code sent to the caller
  bool busy = false;                     // some device said 486/600/603
};

caf::behavior call_actor(caf::stateful_actor<call_state>* self, node_context* ctx,
                         caf::actor tenant, call_offer offer);

} // namespace pbx
