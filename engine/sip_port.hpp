#pragma once
// The one way actors talk to the SIP thread: commands that net/ pushes
// through libre's mqueue. Actors never see a libre object.

#include <cstdint>
#include <string>
#include <vector>

#include "actors/messages/registration.hpp"
#include "actors/messages/media.hpp"
#include "actors/messages/mwi.hpp"
#include "actors/messages/trunk.hpp"
#include "engine/guard_command.hpp"
#include "engine/leg_command.hpp"

namespace pbx {

struct etcd_request; // engine/etcd_command.hpp

/// What a shell session sends its connection: `text` to write, then close
/// when `close`. `consumed` counts the input lines the session is done with:
/// net/ reads on only while few lines wait (flow control).
struct shell_output {
  std::uint64_t conn = 0;
  std::string text;
  bool close = false;
  std::uint32_t consumed = 0;
};

class sip_port {
public:
  virtual ~sip_port() = default;
  /// Answers the server transaction `r.txn`.
  virtual void reply(sip_reply r) = 0;
  /// Acts on a call leg.
  virtual void leg(leg_command c) = 0;
  /// Output for an admin shell connection.
  virtual void shell_write(shell_output out) = 0;
  /// Updates the SIP thread's ban and allow lists.
  virtual void guard(guard_command c) = 0;
  /// Acts on a media endpoint (actors/messages/media.hpp).
  virtual void media(media_command c) = 0;
  /// Acts on a message-summary subscription (actors/messages/mwi.hpp).
  virtual void mwi(mwi_command c) = 0;
  /// Registers to a trunk's provider or pings it (actors/messages/trunk.hpp).
  virtual void trunk(trunk_command c) = 0;
  /// Calls etcd (cluster mode). A port without an etcd client drops it: the
  /// requester's own timeout treats that as etcd unreachable.
  virtual void etcd(const etcd_request&) {}
};

} // namespace pbx
