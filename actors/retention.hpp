#pragma once
// The voicemail retention sweep: once at start, then every `every`, each
// message older than its tenant's voicemail_retain_days is removed through
// its extension (which owns the mailbox, so MWI hears of it like of a delete).

#include <chrono>
#include <cstdint>
#include <vector>

#include <caf/fwd.hpp>

#include "actors/messages/shell.hpp"
#include "engine/context.hpp"

namespace pbx {

namespace storage { class store; }

/// The `expire` commands due at `now` (unix seconds): one per message older
/// than its tenant's retention (a tenant with 0 days keeps everything).
std::vector<voicemail_cmd> expired_messages(const storage::store& store, std::int64_t now);

/// Sends each due command to ctx->router; one node-level actor.
caf::behavior retention_actor(caf::event_based_actor* self, node_context* ctx,
                              std::chrono::seconds every);

} // namespace pbx
