#include "actors/trunk.hpp"

#include <caf/all.hpp>

namespace pbx {

// No trunk actor yet (issue 14 in progress): the tenant keeps an invalid handle.
caf::actor spawn_trunk(caf::event_based_actor*, node_context*, storage::trunk_record) {
  return {};
}

} // namespace pbx
