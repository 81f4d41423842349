// The media plane: endpoints that terminate RTP on answered A legs.
// Placeholder until the endpoint lands: every answer fails.

#include <caf/send.hpp>

#include "net/stack_impl.hpp"

namespace pbx::net {

void on_media_command(sip_stack::impl&, const media_command& c) {
  if (c.what != media_command::op::answer || !c.owner)
    return;
  media_event ev;
  ev.leg = c.leg;
  ev.kind = media_event_kind::failed;
  ev.code = 488;
  ev.reason = "no media plane";
  caf::anon_send(c.owner, std::move(ev));
}

} // namespace pbx::net
