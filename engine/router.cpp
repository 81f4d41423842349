#include "engine/router.hpp"

#include <caf/all.hpp>

#include <cctype>

#include "actors/activation.hpp"
#include "actors/messages/call.hpp"
#include "actors/messages/directory.hpp"
#include "actors/messages/mwi.hpp"
#include "actors/messages/registration.hpp"
#include "actors/messages/shell.hpp"
#include "actors/tenant.hpp"
#include "actors/trunk_config.hpp"
#include "engine/directory.hpp"
#include "engine/log.hpp"
#include "engine/placement.hpp"
#include "engine/sip_port.hpp"
#include "storage/store.hpp"

namespace pbx {

namespace {

using self_ptr = caf::stateful_actor<router_state>*;

// At boot: every tenant with a trunk runs, so its trunks register and ping
// without waiting for traffic (tenants never passivate).
using boot_trunks_atom = caf::atom_constant<caf::atom("boottrunks")>;

const placement* placed(const router_state& st) {
  return st.placed ? st.placed.get() : st.ctx->placed;
}

// The node `domain` is placed on: this one alone; 0 while a cluster has not placed it.
node_number owner_of(const router_state& st, const std::string& domain) {
  auto* p = placed(st);
  return p ? p->owner(domain) : st.ctx->node;
}

caf::actor activate(self_ptr self, const std::string& domain) {
  auto& st = self->state;
  // Placement names the node, activation spawns there: a tenant placed on
  // another node is reached through that node's router, which activates it.
  if (auto* p = placed(st)) {
    auto owner = p->owner(domain);
    if (owner == 0)
      return {}; // a cluster not joined yet: no owner anywhere
    if (owner != st.ctx->node) {
      auto remote = st.ctx->remote_router ? st.ctx->remote_router(owner) : caf::actor{};
      // Said once per node until it is reached again: a lost owner's tenants
      // get 503 for every request until its lease ends.
      if (!remote && st.unreachable.insert(owner).second)
        log::warn("router: tenant ", domain, " is placed on node ", owner,
                  ", which this node cannot reach (503 until it can)");
      else if (remote)
        st.unreachable.erase(owner);
      return remote;
    }
  }
  auto a = activate_child(self, *st.ctx->dir, tenant_key(domain), [&] {
    auto rec = st.ctx->store->tenant(domain);
    return rec ? self->spawn<caf::linked>(tenant_actor, st.ctx, std::move(*rec)) : caf::actor{};
  });
  if (a)
    st.active.insert(domain);
  return a;
}

caf::result<admin_reply> handle_add(self_ptr self, tenant_add& cmd) {
  auto& st = self->state;
  auto domain = normalize_domain(cmd.domain);
  if (domain.empty())
    return admin_invalid("'" + cmd.domain + "' is not a domain name");
  if (st.creating.count(domain) > 0 || st.ctx->store->tenant(domain))
    return admin_conflict("tenant " + domain + " exists", "domain");
  storage::tenant_record rec;
  rec.domain = domain;
  rec.name = domain;
  if (auto err = apply_tenant_fields(rec, cmd.fields); !err.empty())
    return admin_invalid(err);
  storage::batch b;
  b.put(rec);
  st.creating.insert(domain);
  auto rp = self->make_response_promise<admin_reply>();
  st.writes.submit(self, *st.ctx->store, std::move(b),
                   [self, rp, domain](const std::string& err) mutable {
                     self->state.creating.erase(domain);
                     if (!err.empty())
                       rp.deliver(admin_fail(admin_errc::internal, "storage: " + err));
                     else
                       rp.deliver(admin_reply{});
                   });
  return rp;
}

} // namespace

std::string normalize_domain(std::string_view domain) {
  if (domain.empty() || domain.size() > 253)
    return {};
  std::string out;
  for (char c : domain) {
    auto u = static_cast<unsigned char>(c);
    if (!std::isalnum(u) && c != '.' && c != '-')
      return {};
    out += static_cast<char>(std::tolower(u));
  }
  if (out.front() == '.' || out.back() == '.' || out.front() == '-')
    return {};
  return out;
}

namespace {

// A SIP request (REGISTER, SUBSCRIBE) for its domain's tenant; an unknown domain: 404.
template <class Request>
void to_tenant_or_404(self_ptr self, Request req) {
  if (auto t = activate(self, req.domain)) {
    self->send(t, std::move(req));
    return;
  }
  sip_reply r;
  r.txn = req.txn;
  // Placed nowhere (a cluster still joining, its owner unreachable): try again later.
  if (owner_of(self->state, req.domain) != self->state.ctx->node) {
    r.code = 503;
    r.reason = "Service Unavailable";
  } else {
    r.code = 404;
    r.reason = "Domain Not Found";
  }
  self->state.ctx->sip_of(r.txn).reply(std::move(r));
}

// Membership moved tenants: stop the ones no longer placed here (the SIP
// thread's route goes with their directory key), start the trunks of the ones
// that came here.
void replace(self_ptr self, placement_update& u) {
  auto& st = self->state;
  st.placed = std::move(u.placed);
  for (auto it = st.active.begin(); it != st.active.end();) {
    auto& domain = *it;
    if (owner_of(st, domain) == st.ctx->node) {
      ++it;
      continue;
    }
    if (auto a = st.ctx->dir->lookup(tenant_key(domain))) {
      log::info("router: tenant ", domain, " is placed on node ", owner_of(st, domain),
                " now: stopping it here");
      st.ctx->dir->unregister(tenant_key(domain), a);
      st.moved.insert(a.address());
      self->send_exit(a, caf::exit_reason::user_shutdown);
    }
    it = st.active.erase(it);
  }
  self->send(self, boot_trunks_atom::value);
}

// An admin request for one tenant, answered by it.
template <class Command>
caf::result<admin_reply> shell_to_tenant(self_ptr self, Command cmd) {
  auto t = activate(self, normalize_domain(cmd.domain));
  if (!t)
    return admin_not_found("no tenant " + cmd.domain);
  self->delegate(t, std::move(cmd));
  return caf::delegated<admin_reply>{};
}

// trunk add|set: a DID pool must not overlap another tenant's pool on the
// same provider (spec 15.1). The router sees every tenant, so it checks here,
// one request at a time, against storage and the changes still on their way;
// the tenant checks everything else and commits.
caf::result<admin_reply> handle_trunk(self_ptr self, trunk_cmd cmd) {
  auto& st = self->state;
  auto domain = normalize_domain(cmd.domain);
  auto t = activate(self, domain);
  if (!t)
    return admin_not_found("no tenant " + cmd.domain);
  cmd.domain = domain;
  if (cmd.verb != "add" && cmd.verb != "set") {
    self->delegate(t, std::move(cmd));
    return caf::delegated<admin_reply>{};
  }
  // The trunk as it would be; a bad one is left to the tenant to explain.
  storage::trunk_record rec;
  rec.domain = domain;
  rec.name = cmd.name;
  bool known = cmd.verb == "add";
  std::vector<storage::trunk_record> all;
  for (auto& other : st.ctx->store->all_trunks()) {
    if (other.domain == domain && other.name == cmd.name) {
      if (cmd.verb == "set") {
        rec = other;
        known = true;
      }
      continue;
    }
    auto key = other.domain + '/' + other.name;
    if (st.trunks_pending.count(key) == 0)
      all.push_back(std::move(other));
  }
  for (auto& [key, p] : st.trunks_pending)
    all.push_back(p);
  auto key = domain + '/' + cmd.name;
  if (known && trunk_config::apply_trunk_fields(rec, cmd.fields).empty()) {
    if (auto e = trunk_config::pool_conflict(rec, all); !e.empty())
      return admin_conflict(e, "did_pool");
    if (st.trunks_pending.count(key) == 0)
      st.trunks_pending.emplace(key, rec);
    else
      key.clear(); // an earlier change of it is still on its way: that one releases it
  } else {
    key.clear();
  }
  auto rp = self->make_response_promise<admin_reply>();
  self->request(t, std::chrono::seconds(30), std::move(cmd))
    .then(
      [=](admin_reply& r) mutable {
        if (!key.empty())
          self->state.trunks_pending.erase(key);
        rp.deliver(std::move(r));
      },
      [=](const caf::error& err) mutable {
        if (!key.empty())
          self->state.trunks_pending.erase(key);
        rp.deliver(admin_fail(admin_errc::internal, "internal: " + self->system().render(err)));
      });
  return rp;
}

} // namespace

caf::behavior router_actor(caf::stateful_actor<router_state>* self,
                           node_context* ctx) {
  self->state.ctx = ctx;
  self->set_exit_handler([=](caf::exit_msg& m) {
    auto& st = self->state;
    if (st.moved.erase(m.source) > 0)
      return;
    for (auto& domain : st.active) {
      auto a = st.ctx->dir->lookup(tenant_key(domain));
      if (a && a.address() == m.source) {
        st.ctx->dir->unregister(tenant_key(domain), a);
        st.active.erase(domain);
        return;
      }
    }
    if (m.reason != caf::exit_reason::normal)
      self->quit(m.reason);
  });
  self->send(self, boot_trunks_atom::value);
  return {
    [=](boot_trunks_atom) {
      std::set<std::string> domains;
      for (auto& t : self->state.ctx->store->all_trunks())
        domains.insert(t.domain);
      // Only the owner runs a tenant's trunks (a cluster places them).
      for (auto& d : domains)
        if (owner_of(self->state, d) == self->state.ctx->node)
          activate(self, d);
    },
    [=](placement_update& u) { replace(self, u); },
    [=](register_request& req) { to_tenant_or_404(self, std::move(req)); },
    [=](subscribe_request& req) { to_tenant_or_404(self, std::move(req)); },
    [=](call_offer& offer) {
      // The SIP thread had no route for it; decide in its order
      // (net/call_legs.cpp): a live tenant of the From domain, else the trunk
      // of the source address, else the tenant activated from storage.
      auto& dir = *self->state.ctx->dir;
      if (!dir.lookup(tenant_key(offer.domain)))
        if (auto trunk = dir.lookup(trunk_source_key(offer.source.ip))) {
          self->send(trunk, std::move(offer));
          return;
        }
      if (auto t = activate(self, offer.domain)) {
        self->send(t, std::move(offer));
        return;
      }
      leg_command c;
      c.what = leg_command::op::reject;
      c.leg = offer.leg;
      bool nowhere = owner_of(self->state, offer.domain) != self->state.ctx->node;
      c.code = nowhere ? 503 : 404;
      c.reason = nowhere ? "Service Unavailable" : "Domain Not Found";
      self->state.ctx->sip_of(c.leg).leg(std::move(c));
    },
    [=](activate_extension& a) {
      if (auto t = activate(self, a.domain))
        self->send(t, std::move(a));
    },
    [=](const write_done& w) { self->state.writes.done(w); },
    [=](tenant_add& cmd) -> caf::result<admin_reply> {
      return handle_add(self, cmd);
    },
    [=](tenant_set& cmd) -> caf::result<admin_reply> {
      return shell_to_tenant(self, std::move(cmd));
    },
    [=](tenant_del& cmd) -> caf::result<admin_reply> {
      auto domain = normalize_domain(cmd.domain);
      auto t = activate(self, domain);
      if (!t)
        return admin_not_found("no tenant " + cmd.domain);
      self->state.active.erase(domain);
      self->delegate(t, std::move(cmd));
      return caf::delegated<admin_reply>{};
    },
    [=](rules_cmd& cmd) -> caf::result<admin_reply> {
      return shell_to_tenant(self, std::move(cmd));
    },
    [=](voicemail_cmd& cmd) -> caf::result<admin_reply> {
      return shell_to_tenant(self, std::move(cmd));
    },
    [=](trunk_cmd& cmd) -> caf::result<admin_reply> {
      return handle_trunk(self, std::move(cmd));
    },
    [=](inbound_cmd& cmd) -> caf::result<admin_reply> {
      return shell_to_tenant(self, std::move(cmd));
    },
    [=](outbound_cmd& cmd) -> caf::result<admin_reply> {
      return shell_to_tenant(self, std::move(cmd));
    },
    [=](extension_cmd& cmd) -> caf::result<admin_reply> {
      return shell_to_tenant(self, std::move(cmd));
    },
    [=](tenant_query& q) -> caf::result<admin_reply> {
      if (!q.domain.empty())
        return shell_to_tenant(self, std::move(q));
      admin_reply r; // the router creates tenants: the list is its to answer
      for (auto& t : self->state.ctx->store->tenants())
        r.records.push_back(tenant_fields(t, *self->state.ctx->store));
      return r;
    },
    [=](extension_query& q) -> caf::result<admin_reply> {
      return shell_to_tenant(self, std::move(q));
    },
    [=](registrations_query& q) -> caf::result<admin_reply> {
      return shell_to_tenant(self, std::move(q));
    },
    [=](cdr_query& q) -> caf::result<admin_reply> {
      return shell_to_tenant(self, std::move(q));
    },
    [=](trunk_status_query& q) -> caf::result<admin_reply> {
      return shell_to_tenant(self, std::move(q));
    },
    [=](web_login_query& q) -> caf::result<web_credentials> {
      if (auto t = activate(self, normalize_domain(q.domain))) {
        self->delegate(t, std::move(q));
        return caf::delegated<web_credentials>{};
      }
      return web_credentials{};
    },
  };
}

} // namespace pbx
