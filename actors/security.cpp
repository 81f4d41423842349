#include "actors/security.hpp"

#include <caf/all.hpp>

#include <algorithm>

#include "actors/messages/security.hpp"
#include "actors/messages/shell.hpp"
#include "actors/shell_syntax.hpp"
#include "engine/log.hpp"
#include "engine/api_port.hpp"
#include "engine/sip_port.hpp"
#include "storage/store.hpp"

namespace pbx {

namespace {

using self_ptr = caf::stateful_actor<security_state>*;
using tick_atom = caf::atom_constant<caf::atom("sectick")>;

std::int64_t now_ms(self_ptr self) {
  return self->state.ctx->now() * 1000;
}

const char* service_name(auth_service s) {
  switch (s) {
    case auth_service::sip_register: return "sip-register";
    case auth_service::sip_invite: return "sip-invite";
    case auth_service::shell: return "shell";
    case auth_service::api: return "api";
    case auth_service::sip_subscribe: return "sip-subscribe";
  }
  return "?";
}

std::string endpoint(const flow_info& f) {
  auto v6 = f.ip.find(':') != std::string::npos;
  return (v6 ? "[" + f.ip + "]" : f.ip) + ":" + std::to_string(f.port);
}

// The fixed head of every security line: event, source, transport, user, user agent.
std::string head(const char* event, const flow_info& f, const std::string& user,
                 const std::string& ua) {
  return std::string{"event="} + event + " src=" + endpoint(f) + " transport="
         + (f.transport.empty() ? "-" : f.transport) + " user=" + (user.empty() ? "-" : user)
         + " ua=" + log::quoted(ua);
}

std::string iso(std::int64_t unix_s) {
  std::time_t t = static_cast<std::time_t>(unix_s);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

bool allowed(self_ptr self, const std::string& ip) {
  auto a = ip_addr::parse(ip);
  if (!a)
    return false;
  auto& st = self->state;
  for (auto& c : st.config_allow)
    if (c.contains(*a))
      return true;
  for (auto& r : st.allows)
    if (auto c = cidr::parse(r.cidr); c && c->contains(*a))
      return true;
  return false;
}

// Every listener drops what the security actor bans: SIP and shell (the SIP
// thread), and the REST API's server.
void push_guard(node_context* ctx, guard_command g) {
  if (ctx->api_out)
    ctx->api_out->guard(g);
  ctx->sip->guard(std::move(g));
}

void push_allow(self_ptr self) {
  guard_command g;
  g.what = guard_command::op::allow;
  for (auto& c : self->state.config_allow)
    g.allow.push_back(c.to_string());
  for (auto& r : self->state.allows)
    g.allow.push_back(r.cidr);
  push_guard(self->state.ctx, std::move(g));
}

void persist(self_ptr self, storage::batch b, const char* what) {
  self->state.writes.submit(self, *self->state.ctx->store, std::move(b),
                            [what](const std::string& err) {
                              if (!err.empty())
                                log::error("security: cannot store ", what, ": ", err);
                            });
}

// Bans `f.ip` until now + `seconds` (a longer ban in force stays).
void ban(self_ptr self, const flow_info& f, std::uint32_t seconds, const std::string& reason,
         const std::string& user = {}, const std::string& ua = {}, const std::string& extra = {}) {
  auto& st = self->state;
  if (allowed(self, f.ip))
    return;
  auto now = st.ctx->now();
  storage::ban_record rec{f.ip, now + seconds, now, reason};
  if (auto i = st.bans.find(f.ip); i != st.bans.end() && i->second.until >= rec.until)
    return;
  st.bans[f.ip] = rec;
  // Logged before it takes effect: whoever sees its effect finds the line.
  log::security(head("banned", f, user, ua) + " reason=" + reason + " for="
                + std::to_string(seconds) + " until=" + iso(rec.until) + extra);
  guard_command g;
  g.what = guard_command::op::ban;
  g.ip = f.ip;
  g.until_ms = rec.until * 1000;
  push_guard(st.ctx, std::move(g));
  storage::batch b;
  b.put(rec);
  persist(self, std::move(b), "a ban");
}

bool unban(self_ptr self, const std::string& ip, const std::string& why) {
  auto& st = self->state;
  auto i = st.bans.find(ip);
  if (i == st.bans.end())
    return false;
  st.bans.erase(i);
  log::security(head("unbanned", flow_info{ip, 0, ""}, {}, {}) + " reason=" + why);
  guard_command g;
  g.what = guard_command::op::unban;
  g.ip = ip;
  push_guard(st.ctx, std::move(g));
  storage::batch b;
  b.erase_ban(ip);
  persist(self, std::move(b), "an unban");
  return true;
}

// Counts a failure of `f.ip` in the window; true when it reached the limit.
bool count_failure(self_ptr self, const std::string& ip) {
  auto& st = self->state;
  auto& s = st.sources[ip];
  auto now = now_ms(self);
  s.last = now;
  auto window = static_cast<std::int64_t>(st.ctx->security.auth_window) * 1000;
  while (!s.failures.empty() && now - s.failures.front() >= window)
    s.failures.pop_front();
  s.failures.push_back(now);
  auto limit = st.ctx->security.auth_failures;
  return limit > 0 && s.failures.size() >= limit;
}

std::uint32_t on_failure(self_ptr self, const auth_failure& f) {
  auto& st = self->state;
  log::security(head("auth_failed", f.source, f.user, f.user_agent) + " service="
                + service_name(f.service) + " reason=" + log::quoted(f.reason));
  std::uint32_t delay = 0;
  if (f.service == auth_service::shell || f.service == auth_service::api)
    delay = login_backoff_ms(++st.sources[f.source.ip].login_failures,
                             st.ctx->security.login_backoff_max);
  if (!allowed(self, f.source.ip) && count_failure(self, f.source.ip)) {
    st.sources[f.source.ip].failures.clear();
    ban(self, f.source, st.ctx->security.ban_time, "auth_failures", f.user, f.user_agent);
  }
  return delay;
}

// Expired bans end; sources with nothing left to remember are forgotten.
void tick(self_ptr self) {
  auto& st = self->state;
  auto now = st.ctx->now();
  std::vector<std::string> ended;
  for (auto& [ip, b] : st.bans)
    if (b.until <= now)
      ended.push_back(ip);
  for (auto& ip : ended)
    unban(self, ip, "expired");
  auto ms = now_ms(self);
  auto keep = std::max<std::int64_t>(st.ctx->security.auth_window,
                                     st.ctx->security.login_backoff_max * 4) * 1000;
  for (auto i = st.sources.begin(); i != st.sources.end();)
    i = ms - i->second.last > keep ? st.sources.erase(i) : std::next(i);
  self->delayed_send(self, std::chrono::seconds(1), tick_atom::value);
}

admin_reply list_bans(self_ptr self) {
  auto& st = self->state;
  std::vector<const storage::ban_record*> sorted;
  for (auto& [ip, b] : st.bans)
    sorted.push_back(&b);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->ip < b->ip; });
  admin_reply r;
  auto now = st.ctx->now();
  for (auto* b : sorted)
    r.records.push_back(field_list(field_list{
      {"ip", b->ip},
      {"reason", b->reason},
      {"since", iso(b->since)},
      {"until", iso(b->until)},
      {"remaining", std::to_string(std::max<std::int64_t>(0, b->until - now))},
    }));
  return r;
}

admin_reply allow_command(self_ptr self, const std::vector<std::string>& w) {
  auto& st = self->state;
  auto sub = w.size() > 1 ? w[1] : "";
  if (sub == "list" && w.size() == 2) {
    admin_reply r;
    for (auto& c : st.config_allow)
      r.records.push_back(field_list(field_list{{"cidr", c.to_string()},
                                                        {"source", "config"}}));
    for (auto& a : st.allows)
      r.records.push_back(field_list(field_list{{"cidr", a.cidr}, {"source", "shell"},
                                                        {"since", iso(a.since)}}));
    return r;
  }
  if ((sub != "add" && sub != "del") || w.size() != 3)
    return admin_invalid("usage: security allow add|del CIDR | security allow list");
  auto c = cidr::parse(w[2]);
  if (!c)
    return admin_invalid("'" + w[2] + "' is not an IP address or CIDR range");
  auto text = c->to_string();
  auto i = std::find_if(st.allows.begin(), st.allows.end(),
                        [&](auto& a) { return a.cidr == text; });
  storage::batch b;
  if (sub == "add") {
    if (i != st.allows.end())
      return admin_invalid(text + " is on the allow list already");
    storage::allow_record rec{text, st.ctx->now()};
    st.allows.push_back(rec);
    b.put(rec);
    // What the list now allows is never banned: lift bans inside it.
    std::vector<std::string> inside;
    for (auto& [ip, ban] : st.bans)
      if (auto a = ip_addr::parse(ip); a && c->contains(*a))
        inside.push_back(ip);
    for (auto& ip : inside)
      unban(self, ip, "allow_list");
  } else {
    if (i == st.allows.end())
      return admin_invalid(text + " is not on the allow list (entries from the config stay)");
    st.allows.erase(i);
    b.erase_allow(text);
  }
  persist(self, std::move(b), "the allow list");
  push_allow(self);
  log::security(head(sub == "add" ? "allow_added" : "allow_removed", flow_info{}, {}, {})
                + " cidr=" + text);
  return {};
}

admin_reply command(self_ptr self, const security_cmd& cmd) {
  auto& w = cmd.words;
  auto& st = self->state;
  auto verb = w.empty() ? "" : w[0];
  if (verb == "bans" && w.size() == 1)
    return list_bans(self);
  if (verb == "allow")
    return allow_command(self, w);
  if (verb == "unban" && w.size() == 2) {
    auto a = ip_addr::parse(w[1]);
    if (!a)
      return admin_invalid("'" + w[1] + "' is not an IP address");
    if (!unban(self, a->to_string(), "admin by=" + cmd.by))
      return admin_invalid(a->to_string() + " is not banned");
    return {};
  }
  if (verb == "ban" && w.size() >= 2) {
    auto a = ip_addr::parse(w[1]);
    if (!a)
      return admin_invalid("'" + w[1] + "' is not an IP address");
    field_list opts;
    if (auto e = shell::parse_fields(w, 2, opts); !e.empty())
      return admin_invalid(e);
    std::uint32_t seconds = st.ctx->security.ban_time;
    for (auto& [k, v] : opts) {
      if (k != "for")
        return admin_invalid("unknown option '" + k + "'");
      if (v.empty() || v.size() > 8 || v.find_first_not_of("0123456789") != std::string::npos
          || std::stoul(v) == 0)
        return admin_invalid("for must be 1-99999999 seconds");
      seconds = static_cast<std::uint32_t>(std::stoul(v));
    }
    auto ip = a->to_string();
    if (allowed(self, ip))
      return admin_invalid(ip + " is on the allow list");
    // An admin's ban replaces whatever was in force.
    st.bans.erase(ip);
    ban(self, flow_info{ip, 0, ""}, seconds, "admin", {}, {}, " by=" + cmd.by);
    return {};
  }
  return admin_invalid("usage: security bans | security ban IP [for=SECONDS] | "
                     "security unban IP | security allow add|del|list [CIDR]");
}

} // namespace

void report_auth_failure(node_context* ctx, bool invite, const flow_info& source,
                         const std::string& user, const std::string& user_agent,
                         const char* reason) {
  report_auth_failure(ctx, invite ? auth_service::sip_invite : auth_service::sip_register,
                      source, user, user_agent, reason);
}

void report_auth_failure(node_context* ctx, auth_service service, const flow_info& source,
                         const std::string& user, const std::string& user_agent,
                         const char* reason) {
  // Anonymous: the security actor's answer (a shell's delay) is not for us.
  caf::anon_send(ctx->security_actor, auth_failure{service, source, user, user_agent, reason});
}

std::uint32_t login_backoff_ms(std::uint32_t n, std::uint32_t max_seconds) {
  if (n == 0)
    return 0;
  auto ms = 1000ull << std::min<std::uint32_t>(n - 1, 20);
  return static_cast<std::uint32_t>(std::min<std::uint64_t>(ms, max_seconds * 1000ull));
}

caf::behavior security_actor(caf::stateful_actor<security_state>* self, node_context* ctx) {
  auto& st = self->state;
  st.ctx = ctx;
  for (auto& text : ctx->security.allow)
    if (auto c = cidr::parse(text))
      st.config_allow.push_back(*c);
  st.allows = ctx->store->allows();
  push_allow(self);
  // Bans outlive restarts; those that ran out meanwhile end now.
  auto now = ctx->now();
  storage::batch ended;
  for (auto& b : ctx->store->bans()) {
    if (b.until <= now || allowed(self, b.ip)) {
      ended.erase_ban(b.ip);
      continue;
    }
    guard_command g;
    g.what = guard_command::op::ban;
    g.ip = b.ip;
    g.until_ms = b.until * 1000;
    push_guard(ctx, std::move(g));
    st.bans.emplace(b.ip, b);
  }
  if (!ended.empty())
    persist(self, std::move(ended), "expired bans");
  if (!st.bans.empty())
    log::info("security: ", st.bans.size(), " bans in force from before the restart");
  self->send(self, tick_atom::value);
  return {
    [=](const auth_failure& f) -> std::uint32_t { return on_failure(self, f); },
    [=](const auth_success& s) {
      if (auto i = self->state.sources.find(s.source.ip); i != self->state.sources.end())
        i->second.login_failures = 0;
    },
    [=](const rate_exceeded& r) {
      ban(self, r.source, self->state.ctx->security.ban_time, r.limit, {}, r.user_agent);
    },
    [=](const ua_blocked& u) {
      log::security(head("ua_blocked", u.source, {}, u.user_agent) + " dropped="
                    + std::to_string(u.dropped));
    },
    [=](const security_cmd& cmd) -> admin_reply { return command(self, cmd); },
    [=](const write_done& w) { self->state.writes.done(w); },
    [=](tick_atom) { tick(self); },
  };
}

} // namespace pbx
