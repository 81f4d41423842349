#pragma once
// The one way actors talk to the SIP thread: commands that net/ pushes
// through libre's mqueue. Actors never see a libre object.

#include <cstdint>
#include <string>

#include "actors/messages/registration.hpp"
#include "engine/leg_command.hpp"

namespace pbx {

class sip_port {
public:
  virtual ~sip_port() = default;
  /// Answers the server transaction `r.txn`.
  virtual void reply(sip_reply r) = 0;
  /// Acts on a call leg.
  virtual void leg(leg_command c) = 0;
  /// Writes `text` to admin shell connection `conn`, closing it after when `close`.
  virtual void shell_write(std::uint64_t conn, std::string text, bool close) = 0;
};

} // namespace pbx
