#pragma once

#include <caf/actor_system_config.hpp>

namespace pbx {

/// Announces every message type, so messages can cross nodes later.
void add_message_types(caf::actor_system_config& cfg);

} // namespace pbx
