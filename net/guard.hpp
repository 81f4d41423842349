#pragma once
// The SIP thread's first look at every packet and connection: banned sources
// are dropped before libre parses anything, sources over a rate limit are
// banned on the spot, scanners' User-Agents are dropped silently. The ban
// and allow lists are copies of the security actor's (actors/security.hpp);
// the rate counters are the guard's own. No libre and no CAF here: the unit
// tests drive it directly with a clock of their own.

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/cidr.hpp"

namespace pbx::net {

struct guard_settings {
  std::uint32_t packet_rate = 500;  // packets/s from one source; 0: no limit
  std::uint32_t unauth_rate = 100;  // requests/s without credentials; 0: no limit
  std::uint32_t ban_time = 3600;    // seconds, for a ban the guard makes itself
  std::vector<std::string> ua_block;
  std::uint32_t tcp_max_per_source = 100;
  std::uint32_t tcp_max_connections = 4096;
  std::size_t max_sources = 100000; // rate counters kept at most (spoofed floods)
};

class ingress_guard {
public:
  enum class verdict : std::uint8_t {
    pass,
    drop,  // banned: drop silently
    ban,   // over a limit just now: banned from here on, report it once
  };

  explicit ingress_guard(guard_settings s = {});

  const guard_settings& settings() const { return s_; }

  // The security actor's decisions.
  void ban(const ip_addr& a, std::int64_t until_ms);
  void unban(const ip_addr& a);
  void set_allow(std::vector<cidr> allow);

  bool allowed(const ip_addr& a) const;
  bool banned(const ip_addr& a, std::int64_t now_ms) const;

  /// Every datagram and TCP read: a banned source's are dropped; one above
  /// the packet rate is banned.
  verdict packet(const ip_addr& a, std::int64_t now_ms);

  /// A request without credentials (a challenge's first leg, OPTIONS,
  /// scanners' probes), counted against the lower rate.
  verdict unauthenticated(const ip_addr& a, std::int64_t now_ms);

  /// True when `ua` holds one of the blocked User-Agent strings (any case).
  bool ua_blocked(std::string_view ua) const;

  /// A blocked User-Agent's request from `a`: true when it is time to
  /// report (once a minute per source); `dropped` is the count since.
  bool ua_report_due(const ip_addr& a, std::int64_t now_ms, std::uint32_t& dropped);

  // TCP connections per source, for the caps.
  bool tcp_admit(const ip_addr& a) const;
  void tcp_opened(const ip_addr& a);
  void tcp_closed(const ip_addr& a);
  std::uint32_t tcp_count() const { return tcp_total_; }

  std::uint64_t dropped() const { return dropped_; } // packets dropped as banned
  std::size_t tracked_sources() const { return sources_.size(); }

private:
  struct source {
    std::int64_t window = 0;  // the second its counts are for
    std::uint32_t packets = 0;
    std::uint32_t unauth = 0;
    std::int64_t ua_report = 0; // when the last ua_blocked went out
    std::uint32_t ua_dropped = 0;
  };
  source& counters(const ip_addr& a, std::int64_t now_ms);
  verdict over(const ip_addr& a, std::int64_t now_ms);

  guard_settings s_;
  std::unordered_map<ip_addr, std::int64_t, ip_addr_hash> bans_; // until (ms)
  std::vector<cidr> allow_;
  std::unordered_map<ip_addr, source, ip_addr_hash> sources_;
  std::int64_t last_prune_ = 0;
  std::unordered_map<ip_addr, std::uint32_t, ip_addr_hash> tcp_;
  std::uint32_t tcp_total_ = 0;
  std::uint64_t dropped_ = 0;
  std::vector<std::string> ua_lower_;
};

} // namespace pbx::net
