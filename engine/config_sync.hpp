#pragma once
// Cluster mode: the tenants' configuration in etcd, under
// /actorpbx/v1/config/TABLE/KEY (KEY: the LMDB key, VALUE: the encoded
// record). A change goes there first, in a txn fenced by the tenant's claim
// (a new tenant: by its key being absent); every node applies the watch
// stream to its own LMDB, and a snapshot (a read of the prefix) on each
// (re)join. Pure (no CAF, no libre): the membership actor drives it.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/etcd_messages.hpp"
#include "storage/batch.hpp"

namespace pbx::config_sync {

inline const std::string prefix = "/actorpbx/v1/config/";

/// etcd's key of a change (an erase_prefix: the prefix of its keys).
std::string key_of(const storage::config_change& c);

/// A put or delete of the watch or a range read as a change; empty for a key
/// outside the prefix or of an unknown table.
std::optional<storage::config_change> change_of(const etcd::key_value& kv, bool deleted);

/// What etcd holds as the writes of a batch's changes.
std::vector<etcd::txn_op> ops_of(const std::vector<storage::config_change>& changes);

/// The txns of a batch: at most `max_ops` writes each (etcd's --max-txn-ops
/// is 128 by default), each under `fence`.
std::vector<std::string> txn_bodies(const std::vector<storage::config_change>& changes,
                                    const std::vector<etcd::txn_compare>& fence,
                                    std::size_t max_ops = 120);

/// True when every change of the batch is a put of a tenant record: a new
/// tenant, which no node owns yet.
bool creates_tenant(const std::vector<storage::config_change>& changes);

/// The batch that makes a store's configuration what a read of the prefix
/// holds: every record put, and each of `local` (table, key) not read erased.
storage::batch snapshot(const std::vector<etcd::key_value>& kvs,
                        const std::vector<std::pair<std::string, std::string>>& local,
                        std::size_t* erased = nullptr);

} // namespace pbx::config_sync
