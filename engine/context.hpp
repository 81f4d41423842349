#pragma once
// What every domain actor of a node needs, handed to it at spawn.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <caf/actor.hpp>

#include "engine/node_id.hpp"

namespace pbx {
namespace storage { class store; }
class directory;
class sip_port;
class placement;
class api_port;

struct registrar_settings {
  std::uint32_t min_expires = 60;
  std::uint32_t max_expires = 3600;
  std::uint32_t default_expires = 3600;
  std::uint32_t nonce_ttl = 300;
  std::uint32_t max_bindings = 20; // per extension: one user's phones, not a flood
};

// Anti-hacking defaults after PortSIP's (spec section 17.1).
struct security_settings {
  std::uint32_t auth_failures = 50; // failed authentications from one source within...
  std::uint32_t auth_window = 600;  // ...this many seconds ban it for...
  std::uint32_t ban_time = 3600;    // ...this long (rate-limit bans too)
  std::uint32_t packet_rate = 500;  // packets/s from one source (0: no limit)
  std::uint32_t unauth_rate = 100;  // requests/s without credentials from one source (0: none)
  // User-Agents dropped silently (case-insensitive substrings): scanners.
  std::vector<std::string> ua_block = {"friendly-scanner", "sipcli", "sipvicious",
                                       "VaxSIPUserAgent", "pplsip", "sundayddr"};
  std::vector<std::string> allow;   // CIDRs never banned (config; the shell adds more)
  std::string log_file;             // security events also go here
  std::uint32_t login_backoff_max = 60; // seconds: a shell login failure waits 1, 2, 4... up to this
};

struct node_context {
  storage::store* store = nullptr;
  directory* dir = nullptr;
  sip_port* sip = nullptr;
  registrar_settings registrar;
  std::string nonce_secret;                  // random per node start
  std::uint64_t boot = 1;                    // this start's number (stored): ids unique across restarts
  std::chrono::seconds idle_passivation{60}; // extension actors with no binding
  caf::actor router;                         // entry point for tenants
  security_settings security;
  caf::actor security_actor;                 // failed logins, bans (actors/security.hpp)
  caf::actor hasher;                         // the slow KDF, on its own thread
  caf::actor admin;                          // typed admin requests (actors/admin.hpp)
  caf::actor api;                            // REST requests (actors/api.hpp)
  caf::actor membership;                     // cluster mode only (engine/membership.hpp)
  api_port* api_out = nullptr;               // responses back to the HTTP thread
  std::uint32_t api_token_ttl = 3600;        // seconds a REST login token lives (--api-token-ttl)
  std::string system_prompts;  // the prompt set (PROMPTS/en; actors/prompt.hpp), empty: none
  std::function<std::int64_t()> now;         // unix seconds; tests fix it
  node_number node = 1;    // this node's number, in every id it makes (engine/node_id.hpp)
  std::string node_name;   // --node-name in a cluster; empty alone
  std::atomic<std::uint64_t> next_leg{1}; // this node's B legs (new_b_leg)
  std::atomic<std::uint64_t> next_call{1}; // this start's calls (call_id_of)
  // The SIP ports of other nodes, by number (a cluster sets it; none alone).
  std::function<sip_port*(node_number)> remote_sip;
  // Which node a tenant lives on (engine/placement.hpp); null: this one.
  const placement* placed = nullptr;
  // Other nodes' routers, by number: they activate the tenants placed there.
  std::function<caf::actor(node_number)> remote_router;

  /// The SIP port of the node that made `id` (a transaction or leg id): the
  /// phone's flow and the transaction are there. A node without one drops
  /// the command with a warning.
  sip_port& sip_of(std::uint64_t id) const;

  /// A new B leg to a phone whose flow is on node `via` (0: this node).
  std::uint64_t new_b_leg(node_number via);
  std::string data_dir;    // absolute: DATA/voicemail, a tenant's prompts (tenant_prompt_dir)
  std::atomic<std::uint64_t> next_voicemail{1}; // message ids BOOT-N
};

} // namespace pbx
