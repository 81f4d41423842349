#pragma once
// The API actor's way back to the HTTP server's thread (as sip_port is to
// the SIP thread): thread-safe, never blocks the caller.

#include "actors/messages/api.hpp"

namespace pbx {

class api_port {
public:
  virtual ~api_port() = default;
  /// Sends the response of request `r.id` (dropped when its client is gone).
  virtual void respond(http_response r) = 0;
};

} // namespace pbx
