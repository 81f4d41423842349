#include "engine/sip_port_actor.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "engine/log.hpp"

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

void remote_port::set(caf::actor port) {
  std::lock_guard<std::mutex> g{mtx_};
  port_ = std::move(port);
}

template <class Command>
void remote_port::send(Command&& c) {
  caf::actor to;
  {
    std::lock_guard<std::mutex> g{mtx_};
    to = port_;
    if (!to) {
      if (!said_)
        log::warn("a SIP port of a member that is gone: commands for it dropped");
      said_ = true;
      return;
    }
    said_ = false;
  }
  caf::anon_send(to, std::forward<Command>(c));
}

void remote_port::reply(sip_reply r) {
  send(std::move(r));
}

void remote_port::leg(leg_command c) {
  send(std::move(c));
}

void remote_port::media(media_command c) {
  send(std::move(c));
}

void remote_port::mwi(mwi_command c) {
  send(std::move(c));
}

void remote_port::trunk(trunk_command c) {
  send(std::move(c));
}

void remote_nodes::set(node_number n, caf::actor router, caf::actor sip_port, caf::actor node) {
  std::lock_guard<std::mutex> g{mtx_};
  routers_[n] = std::move(router);
  nodes_[n] = std::move(node);
  auto& p = ports_[n];
  if (!p)
    p = std::make_unique<remote_port>();
  p->set(std::move(sip_port));
}

void remote_nodes::drop(node_number n) {
  std::lock_guard<std::mutex> g{mtx_};
  routers_.erase(n);
  nodes_.erase(n);
  if (auto it = ports_.find(n); it != ports_.end())
    it->second->set({});
}

void remote_nodes::clear() {
  std::lock_guard<std::mutex> g{mtx_};
  routers_.clear();
  nodes_.clear();
  for (auto& [n, p] : ports_)
    p->set({});
}

caf::actor remote_nodes::router(node_number n) const {
  std::lock_guard<std::mutex> g{mtx_};
  auto it = routers_.find(n);
  return it == routers_.end() ? caf::actor{} : it->second;
}

caf::actor remote_nodes::node(node_number n) const {
  std::lock_guard<std::mutex> g{mtx_};
  auto it = nodes_.find(n);
  return it == nodes_.end() ? caf::actor{} : it->second;
}

sip_port* remote_nodes::sip(node_number n) {
  std::lock_guard<std::mutex> g{mtx_};
  auto it = ports_.find(n);
  return it == ports_.end() ? nullptr : it->second.get();
}

} // namespace pbx
