#pragma once
// The node's security actor: counts failed authentications per source, bans
// sources (persisted, pushed to the SIP thread which drops their packets
// before parsing), keeps the allow list, paces failed shell logins, writes
// the security log, and answers the shell's `security ...` commands.

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/fwd.hpp>

#include "actors/messages/registration.hpp"
#include "actors/messages/security.hpp"
#include "actors/write_tracker.hpp"
#include "engine/cidr.hpp"
#include "engine/context.hpp"
#include "storage/records.hpp"

namespace pbx {

struct security_state {
  static inline const char* name = "security";
  node_context* ctx = nullptr;
  std::unordered_map<std::string, storage::ban_record> bans; // by ip
  std::vector<cidr> config_allow;                            // --security-allow
  std::vector<storage::allow_record> allows;                 // added in the shell
  struct source {
    std::deque<std::int64_t> failures; // ms of the failures in the window
    std::uint32_t login_failures = 0;  // in a row, for the shell's backoff
    std::int64_t last = 0;             // ms of the last event
  };
  std::unordered_map<std::string, source> sources; // by ip
  write_tracker writes;
};

caf::behavior security_actor(caf::stateful_actor<security_state>* self, node_context* ctx);

/// Tells the security actor a SIP request's credentials were wrong (the
/// digest check said forbidden): logged, and counted toward a ban.
void report_auth_failure(node_context* ctx, bool invite, const flow_info& source,
                         const std::string& user, const std::string& user_agent,
                         const char* reason);

/// The same for a request of `service` (SUBSCRIBE: sip_subscribe).
void report_auth_failure(node_context* ctx, auth_service service, const flow_info& source,
                         const std::string& user, const std::string& user_agent,
                         const char* reason);

/// The delay before a shell answers its `n`th failed login in a row (ms).
std::uint32_t login_backoff_ms(std::uint32_t n, std::uint32_t max_seconds);

} // namespace pbx
