#pragma once
// A node's SIP port as an actor, for the other nodes of a cluster: what their
// actors send a transaction or leg of this node (node_context::sip_of) comes
// here as a message and goes on to the local SIP thread. remote_port is the
// other side: a sip_port that sends each command to such an actor.

#include <map>
#include <memory>
#include <mutex>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "engine/node_id.hpp"

#include "engine/sip_port.hpp"

namespace pbx {

/// Hands what it receives to `local` (which outlives it).
caf::actor spawn_sip_port_actor(caf::actor_system& sys, sip_port* local);

/// A member's SIP port, reached by message. Shell output and guard commands
/// belong to the node that has the connection or the socket: never sent.
/// Its actor is set again when the member comes back; while it has none,
/// commands are dropped.
class remote_port final : public sip_port {
public:
  explicit remote_port(caf::actor port = {}) : port_(std::move(port)) {}
  void set(caf::actor port);
  void reply(sip_reply r) override;
  void leg(leg_command c) override;
  void shell_write(shell_output) override {}
  void guard(guard_command) override {}
  void media(media_command c) override;
  void mwi(mwi_command c) override;
  void trunk(trunk_command c) override;

private:
  template <class Command>
  void send(Command&& c);

  std::mutex mtx_; // actors of any thread send; membership sets it
  caf::actor port_;
  bool said_ = false; // the drop was logged
};

/// The other members' routers and SIP ports, by node number, as membership
/// learns them from each member's published node actor. Read from any thread.
class remote_nodes {
public:
  void set(node_number n, caf::actor router, caf::actor sip_port, caf::actor node = {});
  void drop(node_number n);
  /// Lets go of every handle (before the actor system goes).
  void clear();
  caf::actor router(node_number n) const;
  caf::actor node(node_number n) const; // its published node actor
  /// Null for a node never seen; a gone one's port drops what it gets.
  sip_port* sip(node_number n);

private:
  mutable std::mutex mtx_;
  std::map<node_number, caf::actor> routers_, nodes_;
  // Never erased: node_context::sip_of hands out references.
  std::map<node_number, std::unique_ptr<remote_port>> ports_;
};

} // namespace pbx
