#pragma once
// A node's SIP port as an actor, for the other nodes of a cluster: what their
// actors send a transaction or leg of this node (node_context::sip_of) comes
// here as a message and goes on to the local SIP thread. remote_port is the
// other side: a sip_port that sends each command to such an actor.

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "engine/sip_port.hpp"

namespace pbx {

/// Hands what it receives to `local` (which outlives it).
caf::actor spawn_sip_port_actor(caf::actor_system& sys, sip_port* local);

/// A member's SIP port, reached by message. Shell output and guard commands
/// belong to the node that has the connection or the socket: never sent.
class remote_port final : public sip_port {
public:
  explicit remote_port(caf::actor port) : port_(std::move(port)) {}
  void reply(sip_reply r) override;
  void leg(leg_command c) override;
  void shell_write(shell_output) override {}
  void guard(guard_command) override {}
  void media(media_command c) override;
  void mwi(mwi_command c) override;
  void trunk(trunk_command c) override;

private:
  caf::actor port_;
};

} // namespace pbx
