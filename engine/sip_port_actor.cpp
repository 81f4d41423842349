#include "engine/sip_port_actor.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

namespace pbx {

caf::actor spawn_sip_port_actor(caf::actor_system& sys, sip_port* local) {
  return sys.spawn([local](caf::event_based_actor*) -> caf::behavior {
    return {
      [local](sip_reply& r) { local->reply(std::move(r)); },
      [local](leg_command& c) { local->leg(std::move(c)); },
      [local](media_command& c) { local->media(std::move(c)); },
      [local](mwi_command& c) { local->mwi(std::move(c)); },
      [local](trunk_command& c) { local->trunk(std::move(c)); },
    };
  });
}

void remote_port::reply(sip_reply r) {
  caf::anon_send(port_, std::move(r));
}

void remote_port::leg(leg_command c) {
  caf::anon_send(port_, std::move(c));
}

void remote_port::media(media_command c) {
  caf::anon_send(port_, std::move(c));
}

void remote_port::mwi(mwi_command c) {
  caf::anon_send(port_, std::move(c));
}

void remote_port::trunk(trunk_command c) {
  caf::anon_send(port_, std::move(c));
}

} // namespace pbx
