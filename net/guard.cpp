#include "net/guard.hpp"

#include <algorithm>
#include <cctype>

namespace pbx::net {

namespace {

std::string lower(std::string_view s) {
  std::string out{s};
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

} // namespace

ingress_guard::ingress_guard(guard_settings s) : s_(std::move(s)) {
  for (auto& ua : s_.ua_block)
    if (!ua.empty())
      ua_lower_.push_back(lower(ua));
}

void ingress_guard::ban(const ip_addr& a, std::int64_t until_ms) {
  bans_[a] = until_ms;
}

void ingress_guard::unban(const ip_addr& a) {
  bans_.erase(a);
}

void ingress_guard::set_allow(std::vector<cidr> allow) {
  allow_ = std::move(allow);
}

bool ingress_guard::allowed(const ip_addr& a) const {
  return std::any_of(allow_.begin(), allow_.end(), [&](const cidr& c) { return c.contains(a); });
}

bool ingress_guard::banned(const ip_addr& a, std::int64_t now_ms) const {
  if (bans_.empty())
    return false;
  auto i = bans_.find(a);
  return i != bans_.end() && i->second > now_ms;
}

ingress_guard::source& ingress_guard::counters(const ip_addr& a, std::int64_t now_ms) {
  // A flood from spoofed addresses must not grow the table without bound:
  // past max_sources, counters idle for a second are forgotten.
  if (sources_.size() >= s_.max_sources && now_ms - last_prune_ >= 1000) {
    last_prune_ = now_ms;
    for (auto i = sources_.begin(); i != sources_.end();)
      i = now_ms / 1000 - i->second.window > 1 && i->second.ua_dropped == 0 ? sources_.erase(i)
                                                                             : std::next(i);
  }
  auto& s = sources_[a];
  auto second = now_ms / 1000;
  if (s.window != second) {
    s.window = second;
    s.packets = 0;
    s.unauth = 0;
  }
  return s;
}

ingress_guard::verdict ingress_guard::over(const ip_addr& a, std::int64_t now_ms) {
  if (allowed(a))
    return verdict::pass;
  bans_[a] = now_ms + static_cast<std::int64_t>(s_.ban_time) * 1000;
  sources_.erase(a);
  return verdict::ban;
}

ingress_guard::verdict ingress_guard::packet(const ip_addr& a, std::int64_t now_ms) {
  if (banned(a, now_ms)) {
    ++dropped_;
    return verdict::drop;
  }
  if (s_.packet_rate == 0)
    return verdict::pass;
  if (++counters(a, now_ms).packets > s_.packet_rate)
    return over(a, now_ms);
  return verdict::pass;
}

ingress_guard::verdict ingress_guard::unauthenticated(const ip_addr& a, std::int64_t now_ms) {
  if (s_.unauth_rate == 0)
    return verdict::pass;
  if (++counters(a, now_ms).unauth > s_.unauth_rate)
    return over(a, now_ms);
  return verdict::pass;
}

bool ingress_guard::ua_blocked(std::string_view ua) const {
  if (ua.empty() || ua_lower_.empty())
    return false;
  auto l = lower(ua);
  return std::any_of(ua_lower_.begin(), ua_lower_.end(),
                     [&](const std::string& b) { return l.find(b) != std::string::npos; });
}

bool ingress_guard::ua_report_due(const ip_addr& a, std::int64_t now_ms, std::uint32_t& dropped) {
  auto& s = counters(a, now_ms);
  ++s.ua_dropped;
  if (s.ua_report != 0 && now_ms - s.ua_report < 60000)
    return false;
  s.ua_report = now_ms;
  dropped = s.ua_dropped;
  s.ua_dropped = 0;
  return true;
}

bool ingress_guard::tcp_admit(const ip_addr& a) const {
  if (tcp_total_ >= s_.tcp_max_connections)
    return false;
  auto i = tcp_.find(a);
  return i == tcp_.end() || i->second < s_.tcp_max_per_source;
}

void ingress_guard::tcp_opened(const ip_addr& a) {
  ++tcp_[a];
  ++tcp_total_;
}

void ingress_guard::tcp_closed(const ip_addr& a) {
  auto i = tcp_.find(a);
  if (i == tcp_.end())
    return;
  if (--i->second == 0)
    tcp_.erase(i);
  --tcp_total_;
}

} // namespace pbx::net
