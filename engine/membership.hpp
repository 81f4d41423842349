#pragma once
// Cluster membership through etcd (cluster mode only; docs/cluster.md): a
// lease (TTL 6 s, renewed every 2 s), /actorpbx/v1/nodes/NAME and
// /actorpbx/v1/node-ids/N created on it if absent, and the member list read
// from the nodes prefix, then kept by etcd's watch stream (read again each
// second while the watch is down). etcd calls go through the SIP port
// (net/etcd_client.cpp); answers come back as etcd_response messages.

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include <caf/fwd.hpp>

#include "engine/context.hpp"
#include "storage/store.hpp"

namespace pbx {

class remote_nodes;

struct cluster_settings {
  std::vector<std::string> etcd; // client endpoints, IP:PORT
  std::string node_name;
  std::string listen;            // this node's CAF middleman, IP:PORT
  remote_nodes* remotes = nullptr; // filled from each member's node actor
};

/// What main waits for before `ready`.
enum class join_state : int { waiting = 0, joined = 1, refused = 2 };

/// Spawned after the SIP thread runs; sets `joined` once registered, or to
/// refused (with one log line) when the name or number is another live node's.
caf::actor spawn_membership(caf::actor_system& sys, node_context* ctx, cluster_settings cfg,
                            std::atomic<int>* joined);

/// Revokes this node's lease (its keys vanish for the others at once) and
/// stops the actor; waits at most `timeout`.
void leave_cluster(caf::actor_system& sys, const caf::actor& membership,
                   std::chrono::milliseconds timeout);

/// What the store hands a configuration change to in cluster mode
/// (storage::store::set_replicator): the membership actor puts it in etcd,
/// fenced by this node's claim on the tenant, then in LMDB.
storage::store::replicator_fn config_replicator(caf::actor membership);

/// The small actor published on --cluster-listen (CAF's middleman): answers
/// a ping with this node's name, hands out this node's router and SIP port
/// actor (engine/sip_port_actor.hpp) to the other members, and stores the
/// registrations they replicate here (engine/cluster_messages.hpp).
caf::actor spawn_node_actor(caf::actor_system& sys, std::string name, caf::actor router,
                            caf::actor sip_port, storage::store* store);

} // namespace pbx
