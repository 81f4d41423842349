#pragma once
// A phone actor is one registered binding of an extension: the device a call
// will ring (through its flow). It expires itself when its lifetime ends.

#include <caf/fwd.hpp>

#include "engine/context.hpp"
#include "storage/records.hpp"

namespace pbx {

struct phone_state {
  static inline const char* name = "phone";
  node_context* ctx = nullptr;
  storage::binding_record rec;
  std::uint64_t generation = 0;
  std::int64_t armed_for = 0; // the expiry the pending timer was set for
};

caf::behavior phone_actor(caf::stateful_actor<phone_state>* self,
                          node_context* ctx, caf::actor owner,
                          storage::binding_record rec);

} // namespace pbx
