#pragma once
// The security actor's decisions as every listener applies them (the SIP
// thread, the API's HTTP server).

#include <cstdint>
#include <string>
#include <vector>

namespace pbx {

/// Sources a listener drops before parsing, and the allow list it never bans.
struct guard_command {
  enum class op : std::uint8_t { ban, unban, allow };
  op what = op::ban;
  std::string ip;                  // ban, unban
  std::int64_t until_ms = 0;       // ban: unix milliseconds
  std::vector<std::string> allow;  // allow: the whole list, as CIDRs
};

} // namespace pbx
