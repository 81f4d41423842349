#pragma once
// The API actor's way back to the HTTP server's thread (as sip_port is to
// the SIP thread): thread-safe, never blocks the caller.

#include "actors/messages/api.hpp"
#include "engine/guard_command.hpp"

namespace pbx {

class api_port {
public:
  virtual ~api_port() = default;
  /// Sends the response of request `r.id` (dropped when its client is gone).
  virtual void respond(http_response r) = 0;
  /// The security actor's bans and allow list: a banned source's connections
  /// are closed at accept, unanswered (as SIP and the shell drop it).
  virtual void guard(const guard_command& c) = 0;
};

} // namespace pbx
