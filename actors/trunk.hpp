#pragma once
// A trunk actor owns one SIP trunk of a tenant: its registration to the
// provider (REGISTER_AUTH), the OPTIONS keep-alive that marks it online or
// offline, its channel count, and the first look at INVITEs from its provider.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/fwd.hpp>

#include "engine/context.hpp"
#include "storage/records.hpp"
#include "storage/trunk_records.hpp"

namespace pbx {

/// The tenant's channels over all its trunks (tenant_record::max_trunk_calls).
/// The tenant owns it and hands it to each trunk: a seize takes one here and
/// one of the trunk's own, so no actor is asked on the call path.
struct trunk_channels {
  std::atomic<std::uint32_t> calls{0};
  std::atomic<std::uint32_t> max{0}; // 0: no limit
};

/// Retry timing of a failed registration: base, doubled per failure up to max.
struct trunk_timing {
  std::chrono::milliseconds retry_base{30'000};
  std::chrono::milliseconds retry_max{600'000};
};

/// The wait before registration attempt `failures` + 1 (failures >= 1):
/// 30 s, 60 s, 120 s ... up to 10 min with the default timing.
std::chrono::milliseconds trunk_backoff(const trunk_timing& t, std::uint32_t failures);

/// The provider addresses whose INVITEs belong to the trunk (normalized IP
/// literals): its host when it is one, and source_ips. Empty for ACCEPT_REGISTER.
std::vector<std::string> trunk_source_ips(const storage::trunk_record& rec);

struct trunk_state {
  static inline const char* name = "trunk";
  node_context* ctx = nullptr;
  caf::actor tenant;
  storage::trunk_record rec;
  std::shared_ptr<trunk_channels> tenant_channels;
  trunk_timing timing;
  std::string key; // the SIP thread's name of this actor's client state
  // registration (REGISTER_AUTH)
  enum class reg { off, registering, registered, failed, unregistered };
  reg reg_state = reg::off;
  std::int64_t registered_until = 0; // unix seconds
  std::uint16_t last_register_code = 0;
  std::string last_register_reason;
  std::uint32_t register_failures = 0;
  std::int64_t next_register = 0;     // unix seconds, while failed
  std::uint64_t register_round = 0;   // a retry timer of an older round is stale
  // keep-alive
  enum class opt { off, pending, online, offline };
  opt options = opt::off;
  bool options_in_flight = false;
  std::uint16_t last_options_code = 0;
  std::int64_t last_options_at = 0;
  // channels: call id -> the call actor holding it (monitored)
  std::map<std::string, caf::actor_addr> channels;
  std::vector<std::string> dir_keys; // registered in the directory
  // ACCEPT_REGISTER: the gateway's bindings (in memory: it re-registers after a
  // restart) and the source address it registered from, claimed in the directory
  std::vector<storage::binding_record> gateway;
  std::string gateway_key;
};

/// The behavior of a trunk actor; `tenant_channels` may be null (no tenant limit).
caf::behavior trunk_actor(caf::stateful_actor<trunk_state>* self, node_context* ctx,
                          caf::actor tenant, storage::trunk_record rec,
                          std::shared_ptr<trunk_channels> tenant_channels, trunk_timing timing);

/// The actor of trunk `rec`, linked to `tenant`. The tenant spawns one per trunk
/// when it activates and when a trunk is added; on a change it stops the old
/// actor with stop_trunk and spawns a new one; on del it stops it. A disabled
/// trunk runs too (it owns its source addresses and refuses their INVITEs with
/// 503) but neither registers nor pings.
caf::actor spawn_trunk(caf::event_based_actor* tenant, node_context* ctx,
                       storage::trunk_record rec,
                       std::shared_ptr<trunk_channels> tenant_channels = {});

/// Stops a trunk actor spawned by spawn_trunk for trunk `name` of `domain`:
/// its directory keys are dropped and its registration stopped at once (a
/// successor spawned next takes them over, and its REGISTER follows the old
/// un-REGISTER), then it ends normally.
void stop_trunk(caf::event_based_actor* tenant, node_context* ctx, const caf::actor& trunk,
                const std::string& domain, const std::string& name);

} // namespace pbx
