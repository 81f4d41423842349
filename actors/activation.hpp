#pragma once
// Activation on demand, shared by the router (tenants) and tenants
// (extensions): look the key up; if nobody owns it, spawn a child from its
// stored record and register it, first registration wins.

#include <string>

#include <caf/actor.hpp>
#include <caf/exit_reason.hpp>

#include "engine/directory.hpp"

namespace pbx {

/// Returns the owner of `key`; `spawn()` returns an invalid handle when there
/// is no record to activate from.
template <class Self, class Spawn>
caf::actor activate_child(Self* self, directory& dir, const std::string& key, Spawn spawn) {
  if (auto a = dir.lookup(key))
    return a;
  caf::actor spawned = spawn();
  if (!spawned)
    return {};
  auto owner = dir.register_first_wins(key, spawned);
  if (owner != spawned)
    self->send_exit(spawned, caf::exit_reason::user_shutdown);
  return owner;
}

} // namespace pbx
