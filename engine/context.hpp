#pragma once
// What every domain actor of a node needs, handed to it at spawn.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include <caf/actor.hpp>

namespace pbx {
namespace storage { class store; }
class directory;
class sip_port;

struct registrar_settings {
  std::uint32_t min_expires = 60;
  std::uint32_t max_expires = 3600;
  std::uint32_t default_expires = 3600;
  std::uint32_t nonce_ttl = 300;
  std::uint32_t max_bindings = 20; // per extension: one user's phones, not a flood
};

struct node_context {
  storage::store* store = nullptr;
  directory* dir = nullptr;
  sip_port* sip = nullptr;
  registrar_settings registrar;
  std::string nonce_secret;                  // random per node start
  std::chrono::seconds idle_passivation{60}; // extension actors with no binding
  caf::actor router;                         // entry point for tenants
  std::function<std::int64_t()> now;         // unix seconds; tests fix it
  std::atomic<std::uint64_t> next_leg{1ull << 62}; // B-leg ids (the SIP thread counts from 1)
};

} // namespace pbx
