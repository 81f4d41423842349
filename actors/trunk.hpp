#pragma once
// A trunk actor owns one SIP trunk of a tenant: its registration to the
// provider (REGISTER_AUTH), the OPTIONS keep-alive that marks it online or
// offline, its channel count, and the first look at INVITEs from its provider.

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "engine/context.hpp"
#include "storage/trunk_records.hpp"

namespace pbx {

/// The actor of trunk `rec`, linked to `tenant`. The tenant spawns one per trunk
/// when it activates and when a trunk is added; on a change it stops the old
/// actor (send_exit, reason normal... see trunk.cpp) and spawns a new one; on del
/// it stops it. Returns an invalid handle when the trunk cannot run (disabled).
caf::actor spawn_trunk(caf::event_based_actor* tenant, node_context* ctx,
                       storage::trunk_record rec);

} // namespace pbx
