#include "actors/trunk.hpp"

#include <arpa/inet.h>

#include <algorithm>

#include <caf/all.hpp>

#include "actors/admin_schema.hpp"
#include "actors/digest.hpp"
#include "actors/extension.hpp"
#include "actors/registrar.hpp"
#include "actors/security.hpp"
#include "actors/messages/call.hpp"
#include "actors/messages/directory.hpp"
#include "actors/messages/trunk.hpp"
#include "engine/directory.hpp"
#include "engine/log.hpp"
#include "engine/sip_port.hpp"

namespace pbx {

namespace {

using self_ptr = caf::stateful_actor<trunk_state>*;

// Local timers of the actor (never cross nodes).
using retry_atom = caf::atom_constant<caf::atom("trkretry")>;
using ping_atom = caf::atom_constant<caf::atom("trkping")>;

// An IP literal in its canonical text (what the SIP thread prints for a
// source address); empty when `text` is none.
std::string canonical_ip(const std::string& text) {
  unsigned char buf[16];
  char out[INET6_ADDRSTRLEN];
  auto t = text;
  if (t.size() > 2 && t.front() == '[' && t.back() == ']')
    t = t.substr(1, t.size() - 2);
  if (inet_pton(AF_INET, t.c_str(), buf) == 1)
    return inet_ntop(AF_INET, buf, out, sizeof(out)) ? out : "";
  if (inet_pton(AF_INET6, t.c_str(), buf) == 1)
    return inet_ntop(AF_INET6, buf, out, sizeof(out)) ? out : "";
  return {};
}

// HOST for a URI: an IPv6 literal in brackets.
std::string uri_host(const std::string& host) {
  if (host.find(':') != std::string::npos && host.front() != '[')
    return "[" + host + "]";
  return host;
}

// "host[:port]" (IPv6: "[v6]:port") into host and port.
void split_host_port(const std::string& text, std::string& host, std::uint16_t& port) {
  host = text;
  auto colon = text.rfind(':');
  bool v6 = !text.empty() && text.front() == '[';
  if (v6) {
    auto close = text.find(']');
    host = text.substr(1, close == std::string::npos ? std::string::npos : close - 1);
    if (close == std::string::npos || colon == std::string::npos || colon < close)
      return;
  } else if (colon == std::string::npos || text.find(':') != colon) {
    return; // no port, or a bare IPv6 literal
  } else {
    host = text.substr(0, colon);
  }
  auto digits = text.substr(colon + 1);
  if (!digits.empty() && digits.size() <= 5
      && digits.find_first_not_of("0123456789") == std::string::npos
      && std::stoul(digits) > 0 && std::stoul(digits) <= 65535)
    port = static_cast<std::uint16_t>(std::stoul(digits));
}

std::string auth_user_of(const storage::trunk_record& r) {
  return r.auth_username.empty() ? r.username : r.auth_username;
}

bool offline(const trunk_state& st) {
  if (st.options == trunk_state::opt::offline)
    return true;
  // A provider that refuses our registration sends us nothing and takes nothing.
  return st.rec.auth_mode == "REGISTER_AUTH" && st.register_failures > 0;
}

trunk_command command(self_ptr self, trunk_command::op what) {
  auto& st = self->state;
  auto& r = st.rec;
  trunk_command c;
  c.what = what;
  c.key = st.key;
  c.owner = caf::actor_cast<caf::actor>(self);
  c.registrar = "sip:" + uri_host(r.host) + ":" + std::to_string(r.port) + ";transport="
                + (r.transport.empty() ? std::string{"udp"} : r.transport);
  c.aor = "sip:" + (r.username.empty() ? std::string{} : r.username + "@") + uri_host(r.host);
  c.contact_user = r.username;
  if (!r.outbound_proxy.empty()) {
    std::string host;
    std::uint16_t port = 5060;
    split_host_port(r.outbound_proxy, host, port);
    c.outbound_proxy = "sip:" + uri_host(host) + ":" + std::to_string(port);
    if (r.transport == "tcp")
      c.outbound_proxy += ";transport=tcp";
  }
  c.auth_user = auth_user_of(r);
  c.password = r.password;
  c.expires = r.register_interval;
  return c;
}

void send_register(self_ptr self) {
  auto& st = self->state;
  st.reg_state = trunk_state::reg::registering;
  st.ctx->sip->trunk(command(self, trunk_command::op::register_start));
}

void send_options(self_ptr self) {
  auto& st = self->state;
  if (st.options_in_flight)
    return; // the last one is still waiting for its answer (or its 408)
  st.options_in_flight = true;
  st.ctx->sip->trunk(command(self, trunk_command::op::options));
}

void on_event(self_ptr self, const trunk_event& e) {
  auto& st = self->state;
  if (e.key != st.key)
    return; // an older actor's client
  auto now = st.ctx->now();
  switch (e.what) {
    case trunk_event::kind::registered:
      st.reg_state = trunk_state::reg::registered;
      st.registered_until = now + e.expires;
      st.last_register_code = e.code;
      st.last_register_reason = e.reason;
      if (st.register_failures > 0)
        log::info("trunk ", st.rec.domain, "/", st.rec.name, ": registered again");
      st.register_failures = 0;
      st.next_register = 0;
      break;
    case trunk_event::kind::register_failed: {
      // The SIP thread dropped its client; the next attempt is ours to make.
      st.reg_state = trunk_state::reg::failed;
      st.registered_until = 0;
      st.last_register_code = e.code;
      st.last_register_reason = e.reason;
      ++st.register_failures;
      auto wait = trunk_backoff(st.timing, st.register_failures);
      st.next_register = now + std::chrono::duration_cast<std::chrono::seconds>(wait).count();
      log::warn("trunk ", st.rec.domain, "/", st.rec.name, ": registration failed: ", e.code, " ",
                e.reason, "; next try in ", wait.count() / 1000.0, " s");
      self->delayed_send(self, wait, retry_atom::value, ++st.register_round);
      break;
    }
    case trunk_event::kind::options_answer: {
      st.options_in_flight = false;
      st.last_options_code = e.code;
      st.last_options_at = now;
      // Any final answer but these says someone is there (RFC 3261 11: a
      // server may refuse OPTIONS and still take calls).
      bool down = e.code == 408 || e.code == 503 || e.code < 200;
      auto was = st.options;
      st.options = down ? trunk_state::opt::offline : trunk_state::opt::online;
      if (was != st.options && (was != trunk_state::opt::pending || down))
        log::info("trunk ", st.rec.domain, "/", st.rec.name, ": ",
                  down ? "offline" : "online", " (OPTIONS ", e.code, ")");
      break;
    }
  }
}

void release_all(self_ptr self) {
  auto& st = self->state;
  if (st.tenant_channels)
    st.tenant_channels->calls.fetch_sub(static_cast<std::uint32_t>(st.channels.size()));
  st.channels.clear();
}

bool release(self_ptr self, const std::string& call_id) {
  auto& st = self->state;
  if (st.channels.erase(call_id) == 0)
    return false;
  if (st.tenant_channels)
    st.tenant_channels->calls.fetch_sub(1);
  return true;
}

// Takes a channel of the trunk and of its tenant; empty on success, else the reason.
std::string take(self_ptr self, const std::string& call_id, const caf::actor_addr& holder) {
  auto& st = self->state;
  if (st.channels.count(call_id) > 0)
    return {}; // asked twice: the same channel
  if (st.rec.max_calls > 0 && st.channels.size() >= st.rec.max_calls)
    return "Trunk Full";
  if (auto& tc = st.tenant_channels) {
    auto n = tc->calls.fetch_add(1) + 1;
    auto max = tc->max.load();
    if (max > 0 && n > max) {
      tc->calls.fetch_sub(1);
      return "Tenant Trunk Calls Full";
    }
  }
  st.channels.emplace(call_id, holder);
  return {};
}

const storage::binding_record* gateway_binding(const trunk_state& st, std::int64_t now);

trunk_grant seize(self_ptr self, const trunk_seize& s) {
  auto& st = self->state;
  auto& r = st.rec;
  trunk_grant g;
  g.code = 503;
  auto held_by = st.channels.find(s.call_id);
  if (held_by != st.channels.end() && !held_by->second) {
    // A channel taken over (an inbound INVITE's, by the call actor that carries it):
    // the new holder gets it back to us when it ends.
    if (s.call) {
      held_by->second = s.call.address();
      self->monitor(s.call);
    }
    g.code = 200;
    g.reason = "OK";
    return g;
  }
  if (!r.enabled) {
    g.reason = "Trunk Disabled";
    return g;
  }
  if (offline(st)) {
    g.reason = "Trunk Offline";
    return g;
  }
  const storage::binding_record* gw = nullptr;
  if (r.auth_mode == "ACCEPT_REGISTER" && !(gw = gateway_binding(st, st.ctx->now()))) {
    g.reason = "Gateway Not Registered";
    return g;
  }
  bool held = held_by != st.channels.end();
  if (auto why = take(self, s.call_id, s.call ? s.call.address() : caf::actor_addr{});
      !why.empty()) {
    g.reason = std::move(why);
    return g;
  }
  if (s.call && !held)
    self->monitor(s.call); // its channel comes back when it ends, released or not
  g.code = 200;
  g.reason = "OK";
  g.target_host = uri_host(r.host) + (r.port != 5060 ? ":" + std::to_string(r.port) : "");
  std::string host = r.host;
  std::uint16_t port = r.port;
  if (!r.outbound_proxy.empty()) {
    port = 5060;
    split_host_port(r.outbound_proxy, host, port);
  }
  g.route.ip = host;
  g.route.port = port;
  g.route.transport = r.transport.empty() ? "udp" : r.transport;
  g.from_host = uri_host(r.host);
  g.auth_user = auth_user_of(r);
  g.password = r.password;
  g.caller_id = r.caller_id;
  g.diversion = r.diversion;
  g.keep_caller_id = r.keep_caller_id;
  if (gw) { // the gateway is reached where it registered from
    g.route = flow_info{gw->received_ip, gw->received_port, gw->transport, gw->via_node};
    g.target_host = gw->received_ip + ":" + std::to_string(gw->received_port);
    g.from_host = r.domain;
    g.auth_user.clear(); // it authenticated to us; we do not answer its challenges
    g.password.clear();
  }
  return g;
}

void reject(self_ptr self, std::uint64_t leg, std::uint16_t code, std::string reason) {
  leg_command c;
  c.what = leg_command::op::reject;
  c.leg = leg;
  c.code = code;
  c.reason = std::move(reason);
  self->state.ctx->sip_of(c.leg).leg(std::move(c));
}

// -- ACCEPT_REGISTER: a gateway registers with the trunk's credentials

// The gateway's newest live binding, or null.
const storage::binding_record* gateway_binding(const trunk_state& st, std::int64_t now) {
  const storage::binding_record* best = nullptr;
  for (auto& b : st.gateway)
    if (b.expires_at > now && (!best || b.registered_at >= best->registered_at))
      best = &b;
  return best;
}

// INVITEs from the address the gateway registered from come to this trunk.
void claim_gateway_source(self_ptr self) {
  auto& st = self->state;
  auto* b = gateway_binding(st, st.ctx->now());
  auto key = b ? trunk_source_key(b->received_ip) : std::string{};
  if (key == st.gateway_key)
    return;
  auto me = caf::actor_cast<caf::actor>(self);
  if (!st.gateway_key.empty()) {
    st.ctx->dir->unregister(st.gateway_key, me);
    st.dir_keys.erase(std::remove(st.dir_keys.begin(), st.dir_keys.end(), st.gateway_key),
                      st.dir_keys.end());
    st.gateway_key.clear();
  }
  if (!key.empty() && st.ctx->dir->register_first_wins(key, me) == me) {
    st.gateway_key = key;
    st.dir_keys.push_back(key);
  }
}

void reject_register(self_ptr self, register_request& req) {
  sip_reply reply;
  reply.txn = req.txn;
  reply.code = 403;
  reply.reason = "Forbidden";
  self->state.ctx->sip_of(reply.txn).reply(std::move(reply));
}

void gateway_register(self_ptr self, register_request& req) {
  auto& st = self->state;
  auto* ctx = st.ctx;
  auto now = ctx->now();
  sip_reply reply;
  reply.txn = req.txn;
  auto v = digest::check(req.auth, auth_user_of(st.rec), st.rec.domain,
                         digest::ha1(auth_user_of(st.rec), st.rec.domain, st.rec.password),
                         "REGISTER", ctx->nonce_secret, now, ctx->registrar.nonce_ttl);
  if (digest::fill_failure(v, reply, st.rec.domain, ctx->nonce_secret, now)) {
    if (v == digest::verdict::forbidden)
      report_auth_failure(ctx, false, req.source, req.user + "@" + st.rec.domain,
                          req.user_agent, "wrong trunk password");
    ctx->sip_of(reply.txn).reply(std::move(reply));
    return;
  }
  if (!st.rec.enabled) {
    reply.code = 403;
    reply.reason = "Trunk disabled";
    ctx->sip_of(reply.txn).reply(std::move(reply));
    return;
  }
  auto out = registrar::apply(st.gateway, req, ctx->registrar, now);
  reply.code = out.code;
  reply.reason = out.reason;
  reply.min_expires = out.min_expires;
  if (out.code == 200) {
    st.gateway = std::move(out.bindings);
    reply.contacts = registrar::listing(st.gateway, now);
    claim_gateway_source(self);
  }
  ctx->sip_of(reply.txn).reply(std::move(reply));
}

// An INVITE from the provider's address (the SIP thread checked the source), or
// (ACCEPT_REGISTER) from the gateway, by its address or with the trunk's digest.
void inbound(self_ptr self, call_offer& offer) {
  auto& st = self->state;
  auto& r = st.rec;
  if (!r.enabled) {
    reject(self, offer.leg, 503, "Trunk Disabled");
    return;
  }
  if (r.auth_mode == "ACCEPT_REGISTER") {
    auto* b = gateway_binding(st, st.ctx->now());
    if (!b || b->received_ip != offer.source.ip) {
      auto v = digest::check(offer.auth, auth_user_of(r), r.domain,
                             digest::ha1(auth_user_of(r), r.domain, r.password), "INVITE",
                             st.ctx->nonce_secret, st.ctx->now(), st.ctx->registrar.nonce_ttl);
      if (v == digest::verdict::forbidden)
        report_auth_failure(st.ctx, true, offer.source, offer.caller + "@" + r.domain,
                            offer.user_agent, "wrong trunk password");
      if (v != digest::verdict::ok) {
        send_auth_failure(st.ctx, offer.leg, v, r.domain);
        return;
      }
    }
  }
  // The channel is named after the A leg until a call actor takes it over.
  auto id = "in/" + std::to_string(offer.leg);
  if (auto why = take(self, id, {}); !why.empty()) {
    log::info("trunk ", r.domain, "/", r.name, ": INVITE from ", offer.source.ip, " refused: ",
              why);
    reject(self, offer.leg, 503, why);
    return;
  }
  trunk_call tc;
  tc.trunk = r.name;
  tc.did = r.did_in_request_uri || offer.to_user.empty() ? offer.callee : offer.to_user;
  offer.trunk = r.name;
  offer.did = tc.did;
  offer.domain = r.domain; // the provider's From host is not a tenant
  tc.offer = std::move(offer);
  self->send(st.tenant, std::move(tc));
}

std::string reg_text(const trunk_state& st, std::int64_t now) {
  switch (st.reg_state) {
    case trunk_state::reg::off:
      return "not registering";
    case trunk_state::reg::registering:
      return "registering";
    case trunk_state::reg::registered:
      return st.registered_until > now ? "registered" : "registering";
    case trunk_state::reg::failed:
      return "failed";
    case trunk_state::reg::unregistered:
      return "unregistered";
  }
  return "?";
}

const char* options_text(trunk_state::opt o) {
  switch (o) {
    case trunk_state::opt::off:
      return "off";
    case trunk_state::opt::pending:
      return "pending";
    case trunk_state::opt::online:
      return "online";
    case trunk_state::opt::offline:
      return "offline";
  }
  return "?";
}

field_list status(self_ptr self) {
  auto& st = self->state;
  auto now = st.ctx->now();
  auto iso = [](std::int64_t secs) { return secs ? admin_schema::iso_time_ms(secs * 1000) : ""; };
  return field_list{
    {"name", st.rec.name},
    {"auth_mode", st.rec.auth_mode},
    {"enabled", st.rec.enabled ? "true" : "false"},
    {"state", reg_text(st, now)},
    {"registered_until",
     st.reg_state == trunk_state::reg::registered ? iso(st.registered_until) : ""},
    {"last_register_code", st.last_register_code ? std::to_string(st.last_register_code) : ""},
    {"last_register_reason", st.last_register_reason},
    {"next_register_at",
     st.reg_state == trunk_state::reg::failed ? iso(st.next_register) : ""},
    {"options", options_text(st.options)},
    {"last_options_code", st.last_options_code ? std::to_string(st.last_options_code) : ""},
    {"last_options_at", iso(st.last_options_at)},
    {"online", offline(st) || !st.rec.enabled ? "false" : "true"},
    {"gateway", [&] {
       auto* b = gateway_binding(st, now);
       return b ? b->received_ip + ":" + std::to_string(b->received_port) + " until "
                    + iso(b->expires_at)
                : std::string{};
     }()},
    {"calls", std::to_string(st.channels.size())},
    {"max_calls", std::to_string(st.rec.max_calls)},
  };
}

std::string client_key(const std::string& domain, const std::string& name, caf::actor_id id) {
  return domain + "/" + name + "/" + std::to_string(id);
}

void claim_keys(self_ptr self) {
  auto& st = self->state;
  auto me = caf::actor_cast<caf::actor>(self);
  auto& dir = *st.ctx->dir;
  auto claim = [&](const std::string& key, const std::string& what) {
    auto owner = dir.register_first_wins(key, me);
    if (owner == me)
      st.dir_keys.push_back(key);
    else
      log::warn("trunk ", st.rec.domain, "/", st.rec.name, ": ", what,
                " belongs to another trunk (the first one keeps it)");
  };
  claim(trunk_key(st.rec.domain, st.rec.name), "its name");
  for (auto& ip : trunk_source_ips(st.rec))
    claim(trunk_source_key(ip), "source address " + ip);
}

} // namespace

std::chrono::milliseconds trunk_backoff(const trunk_timing& t, std::uint32_t failures) {
  auto wait = t.retry_base;
  for (std::uint32_t i = 1; i < failures && wait < t.retry_max; ++i)
    wait *= 2;
  return std::min(wait, t.retry_max);
}

std::vector<std::string> trunk_source_ips(const storage::trunk_record& rec) {
  std::vector<std::string> out;
  if (rec.auth_mode == "ACCEPT_REGISTER")
    return out; // the gateway registers: its address is its binding's
  auto add = [&](const std::string& text) {
    auto ip = canonical_ip(text);
    if (!ip.empty() && std::find(out.begin(), out.end(), ip) == out.end())
      out.push_back(ip);
  };
  add(rec.host);
  for (auto& ip : rec.source_ips)
    add(ip);
  return out;
}

caf::behavior trunk_actor(caf::stateful_actor<trunk_state>* self, node_context* ctx,
                          caf::actor tenant, storage::trunk_record rec,
                          std::shared_ptr<trunk_channels> tenant_channels, trunk_timing timing) {
  auto& st = self->state;
  st.ctx = ctx;
  st.tenant = std::move(tenant);
  st.rec = std::move(rec);
  st.tenant_channels = std::move(tenant_channels);
  st.timing = timing;
  // Unique per actor: a successor's registration is never stopped by its
  // predecessor's register_stop, nor its events taken for ours.
  st.key = client_key(st.rec.domain, st.rec.name, self->id());
  claim_keys(self);
  bool registers = st.rec.enabled && st.rec.auth_mode == "REGISTER_AUTH";
  // Whatever ends the actor: its keys and its registration go with it.
  self->attach_functor([ctx, keys = st.dir_keys, key = st.key, registers,
                        me = caf::actor_cast<caf::actor>(self)]() mutable {
    for (auto& k : keys)
      ctx->dir->unregister(k, me);
    if (registers) {
      trunk_command c;
      c.what = trunk_command::op::register_stop;
      c.key = key;
      ctx->sip->trunk(std::move(c));
    }
    me = nullptr;
  });
  // Its tenant's exit (or a send_exit from it): the channels go back first.
  self->set_exit_handler([=](caf::exit_msg& m) {
    release_all(self);
    self->quit(m.reason);
  });
  self->set_down_handler([=](caf::down_msg& m) {
    auto& st = self->state;
    std::vector<std::string> gone;
    for (auto& [id, holder] : st.channels)
      if (holder == m.source)
        gone.push_back(id);
    for (auto& id : gone)
      release(self, id);
  });
  if (registers)
    send_register(self);
  if (st.rec.enabled && st.rec.keep_alive) {
    st.options = trunk_state::opt::pending;
    send_options(self);
    self->delayed_send(self, std::chrono::seconds(std::max<std::uint32_t>(1, st.rec.keep_alive_interval)),
                       ping_atom::value);
  }
  return {
    [=](const trunk_event& e) { on_event(self, e); },
    [=](retry_atom, std::uint64_t round) {
      auto& st = self->state;
      if (round == st.register_round && st.reg_state == trunk_state::reg::failed)
        send_register(self);
    },
    [=](ping_atom) {
      send_options(self);
      self->delayed_send(self,
                         std::chrono::seconds(std::max<std::uint32_t>(1, self->state.rec.keep_alive_interval)),
                         ping_atom::value);
    },
    [=](const trunk_seize& s) { return seize(self, s); },
    [=](const trunk_release& r) { release(self, r.call_id); },
    [=](call_offer& offer) { inbound(self, offer); },
    [=](register_request& req) {
      if (self->state.rec.auth_mode == "ACCEPT_REGISTER")
        gateway_register(self, req);
      else
        reject_register(self, req);
    },
    [=](trunk_status_atom) { return status(self); },
    [=](stop_atom) {
      release_all(self);
      self->quit();
    },
  };
}

caf::actor spawn_trunk(caf::event_based_actor* tenant, node_context* ctx,
                       storage::trunk_record rec,
                       std::shared_ptr<trunk_channels> tenant_channels) {
  return tenant->spawn<caf::linked>(trunk_actor, ctx, caf::actor_cast<caf::actor>(tenant),
                                    std::move(rec), std::move(tenant_channels), trunk_timing{});
}

void stop_trunk(caf::event_based_actor* tenant, node_context* ctx, const caf::actor& trunk,
                const std::string& domain, const std::string& name) {
  if (!trunk)
    return;
  // Posted before the successor exists: the SIP thread sees it first.
  trunk_command c;
  c.what = trunk_command::op::register_stop;
  c.key = client_key(domain, name, trunk.id());
  ctx->sip->trunk(std::move(c));
  // "k/" names and "ks/" source addresses: whichever this actor holds.
  for (auto& [key, owner] : ctx->dir->entries("k"))
    if (owner == trunk)
      ctx->dir->unregister(key, trunk);
  tenant->send(trunk, stop_atom::value);
}

} // namespace pbx
