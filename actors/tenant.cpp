#include "actors/tenant.hpp"

#include <caf/all.hpp>

#include <random>

#include "actors/activation.hpp"
#include "actors/call.hpp"
#include "actors/messages/trunk.hpp"
#include "actors/e164.hpp"
#include "actors/trunk_routing.hpp"
#include "actors/admin_schema.hpp"
#include "actors/digest.hpp"
#include "actors/extension.hpp"
#include "actors/extension_fields.hpp"
#include "actors/mwi.hpp"
#include "actors/messages/call.hpp"
#include "actors/messages/directory.hpp"
#include "actors/messages/registration.hpp"
#include "actors/messages/shell.hpp"
#include "actors/messages/voicemail.hpp"
#include "actors/rule_commands.hpp"
#include "actors/registrations.hpp"
#include "actors/security.hpp"
#include "actors/trunk.hpp"
#include "actors/trunk_config.hpp"
#include "actors/office_hours.hpp"
#include "actors/messages/trunk.hpp"
#include "engine/directory.hpp"
#include "engine/log.hpp"
#include "engine/metrics.hpp"
#include "engine/sip_port.hpp"
#include "storage/store.hpp"

#include <algorithm>
#include <filesystem>
#include <functional>

namespace pbx {

namespace {

using self_ptr = caf::stateful_actor<tenant_state>*;

// Returns the extension's actor, activating it from storage; invalid if the
// extension does not exist.
caf::actor activate(self_ptr self, const std::string& number) {
  auto& st = self->state;
  auto a = activate_child(self, *st.ctx->dir, extension_key(st.rec.domain, number), [&] {
    auto rec = st.ctx->store->extension(st.rec.domain, number);
    return rec ? self->spawn<caf::linked>(extension_actor, st.ctx,
                                          caf::actor_cast<caf::actor>(self), std::move(*rec))
               : caf::actor{};
  });
  if (a)
    st.active.insert(number);
  return a;
}

void forget(self_ptr self, const std::string& number, const caf::actor& a) {
  self->state.ctx->dir->unregister(extension_key(self->state.rec.domain, number), a);
  self->state.active.erase(number);
}

bool taken(self_ptr self, const std::string& number) {
  auto& st = self->state;
  return st.creating.count(number) > 0
         || st.ctx->store->extension(st.rec.domain, number).has_value();
}

// Commits new extension records and answers once they are durable.
caf::result<admin_reply> create(self_ptr self,
                                 std::vector<storage::extension_record> recs,
                                 std::vector<field_list> records) {
  auto& st = self->state;
  storage::batch b;
  for (auto& r : recs) {
    st.creating.insert(r.number);
    b.put(r);
  }
  auto rp = self->make_response_promise<admin_reply>();
  st.writes.submit(self, *st.ctx->store, std::move(b),
                   [self, rp, recs, records](const std::string& err) mutable {
                     for (auto& r : recs)
                       self->state.creating.erase(r.number);
                     if (!err.empty())
                       rp.deliver(admin_fail(admin_errc::internal, "storage: " + err));
                     else
                       rp.deliver(admin_records(records));
                   });
  return rp;
}

storage::extension_record blank(self_ptr self, const std::string& number) {
  storage::extension_record r;
  r.domain = self->state.rec.domain;
  r.number = number;
  r.created_at = self->state.ctx->now();
  return r;
}

caf::result<admin_reply> handle_add(self_ptr self, extension_cmd& cmd) {
  if (!valid_extension_number(cmd.number))
    return admin_invalid("extension number must be 3-64 digits");
  if (taken(self, cmd.number))
    return admin_conflict("extension " + cmd.number + " exists", "extension_number");
  auto rec = blank(self, cmd.number);
  if (auto err = apply_extension_fields(rec, cmd.fields, true,
                                        self->state.rec.allow_weak_passwords);
      !err.empty())
    return admin_invalid(err);
  return create(self, {std::move(rec)}, {});
}

caf::result<admin_reply> handle_copy(self_ptr self, extension_cmd& cmd) {
  auto& st = self->state;
  auto from = st.ctx->store->extension(st.rec.domain, cmd.number);
  if (!from)
    return admin_not_found("no extension " + cmd.number);
  if (!valid_extension_number(cmd.target))
    return admin_invalid("extension number must be 3-64 digits");
  if (taken(self, cmd.target))
    return admin_conflict("extension " + cmd.target + " exists", "extension_number");
  auto rec = blank(self, cmd.target);
  copy_extension_settings(*from, rec);
  if (auto err = apply_extension_fields(rec, cmd.fields, true, st.rec.allow_weak_passwords);
      !err.empty())
    return admin_invalid(err);
  return create(self, {std::move(rec)}, {});
}

caf::result<admin_reply> handle_import(self_ptr self, extension_cmd& cmd) {
  std::vector<storage::extension_record> recs;
  std::set<std::string> seen;
  for (std::size_t i = 0; i < cmd.rows.size(); ++i) {
    auto where = "line " + std::to_string(cmd.row_lines[i]) + ": ";
    std::string number;
    for (auto& [k, v] : cmd.rows[i])
      if (k == "extension_number")
        number = v;
    if (!valid_extension_number(number))
      return admin_invalid(where + "extension_number must be 3-64 digits");
    if (!seen.insert(number).second || taken(self, number))
      return admin_conflict(where + "extension " + number + " exists", "extension_number");
    auto rec = blank(self, number);
    if (auto err = apply_extension_fields(rec, cmd.rows[i], true,
                                          self->state.rec.allow_weak_passwords);
        !err.empty())
      return admin_invalid(where + err);
    recs.push_back(std::move(rec));
  }
  if (recs.empty())
    return admin_invalid("no extension to import");
  field_list count{{"imported", std::to_string(recs.size())}};
  return create(self, std::move(recs), {count});
}

// ---- lines: which extensions are on a call or ringing -----------------------

void count_line(tenant_state& st, const std::string& number, line_use use, int by) {
  auto& c = st.lines[number];
  (use == line_use::talking ? c.talking : c.ringing) += by;
  if (c.talking == 0 && c.ringing == 0)
    st.lines.erase(number);
}

void set_line(self_ptr self, const std::string& number, const std::string& call_id,
              line_use use, const caf::actor_addr& call) {
  auto& st = self->state;
  auto c = st.calls.find(call);
  if (c == st.calls.end()) {
    if (use == line_use::idle)
      return;
    c = st.calls.emplace(call, tenant_state::call_lines{}).first;
    if (call) // not ours: its end frees its lines all the same
      self->monitor(call);
  }
  auto& held = c->second.held;
  auto l = std::find_if(held.begin(), held.end(), [&](const tenant_state::line& x) {
    return x.number == number && x.call_id == call_id;
  });
  if (l != held.end()) {
    count_line(st, number, l->use, -1);
    if (use == line_use::idle)
      held.erase(l);
    else
      l->use = use;
  } else if (use != line_use::idle) {
    held.push_back({number, call_id, use});
  }
  if (use != line_use::idle)
    count_line(st, number, use, +1);
  if (held.empty() && !c->second.linked) {
    if (call)
      self->demonitor(call);
    st.calls.erase(c);
  }
}

// Frees the lines of a call that ended; true if it was one of ours.
bool drop_call(self_ptr self, const caf::actor_addr& call) {
  auto& st = self->state;
  auto c = st.calls.find(call);
  if (c == st.calls.end())
    return false;
  for (auto& l : c->second.held)
    count_line(st, l.number, l.use, -1);
  st.calls.erase(c);
  return true;
}

void add_call(tenant_state& st, const caf::actor& call) {
  st.calls[call.address()].linked = true;
}

std::pair<bool, bool> line_of(self_ptr self, const std::string& number) {
  auto i = self->state.lines.find(number);
  if (i == self->state.lines.end())
    return {false, false};
  return {i->second.talking > 0, i->second.ringing > 0};
}

// An extension's ordinary call: digest with the HA1 the tenant holds (or
// reads), then a call actor linked to the tenant. The caller's line is in
// use while it lives. No extension actor is needed for the call's length.
bool start_caller(self_ptr self, call_offer& offer) {
  auto& st = self->state;
  auto auth = registrations::auth_of(self, offer.caller);
  if (!auth)
    return false;
  if (!caller_checked(st.ctx, offer, st.rec.domain, auth->ha1, auth->enabled))
    return true;
  auto number = offer.caller;
  auto id = std::to_string(offer.leg);
  auto call = self->spawn<caf::linked>(call_actor, st.ctx, caf::actor_cast<caf::actor>(self),
                                       std::move(offer));
  add_call(st, call);
  set_line(self, number, id, line_use::talking, call.address());
  return true;
}

// The ACCEPT_REGISTER trunk whose gateway logs in as `user`, if any.
caf::actor gateway_trunk(self_ptr self, const std::string& user) {
  auto& st = self->state;
  for (auto& [name, t] : st.trunk_recs)
    if (t.auth_mode == "ACCEPT_REGISTER" && !user.empty() && t.username == user) {
      auto a = st.trunks.find(name);
      return a != st.trunks.end() ? a->second : caf::actor{};
    }
  return {};
}

void handle_register(self_ptr self, register_request& req,
                     registrations::write_group* group = nullptr) {
  auto& st = self->state;
  if (registrations::handle(self, req, group))
    return;
  if (auto trunk = gateway_trunk(self, req.user)) {
    self->send(trunk, std::move(req));
    return;
  }
  // An unknown user gets what a known user with a wrong password gets.
  auto* ctx = st.ctx;
  auto now = ctx->now();
  auto v = digest::check(req.auth, req.user, st.rec.domain, std::nullopt,
                         "REGISTER", ctx->nonce_secret, now,
                         ctx->registrar.nonce_ttl);
  if (v == digest::verdict::forbidden)
    report_auth_failure(ctx, false, req.source, req.user + "@" + st.rec.domain, req.user_agent,
                        "unknown user");
  sip_reply reply;
  reply.txn = req.txn;
  digest::fill_failure(v, reply, st.rec.domain, ctx->nonce_secret, now);
  ctx->sip_of(reply.txn).reply(std::move(reply));
}


// ---- trunks, inbound and outbound rules (spec 15) ---------------------------

void rebuild_rules(self_ptr self) {
  auto& st = self->state;
  std::vector<storage::inbound_rule_record> in;
  for (auto& [name, r] : st.inbound_recs)
    in.push_back(r);
  std::vector<storage::outbound_rule_record> out;
  for (auto& [name, r] : st.outbound_recs)
    out.push_back(r);
  st.inbound = inbound_rule::rule_set(std::move(in));
  st.outbound = outbound_rule::rule_set(std::move(out));
}

// The trunks and rules as storage has them.
void load_trunk_domain(self_ptr self) {
  auto& st = self->state;
  auto& store = *st.ctx->store;
  st.trunk_recs.clear();
  st.inbound_recs.clear();
  st.outbound_recs.clear();
  for (auto& t : store.trunks(st.rec.domain))
    st.trunk_recs[t.name] = t;
  for (auto& r : store.inbound_rules(st.rec.domain))
    st.inbound_recs[r.name] = r;
  for (auto& r : store.outbound_rules(st.rec.domain))
    st.outbound_recs[r.name] = r;
  rebuild_rules(self);
}

// Stops trunk `name`'s actor: its directory keys go at once (a successor
// takes them), then it ends normally (un-REGISTER, channels given back).
void stop_trunk(self_ptr self, const std::string& name) {
  auto& st = self->state;
  auto i = st.trunks.find(name);
  if (i == st.trunks.end())
    return;
  if (i->second) {
    st.trunk_addrs.erase(i->second.address());
    self->unlink_from(i->second); // its exit is no news: the tenant goes on
    pbx::stop_trunk(self, st.ctx, i->second, st.rec.domain, name);
  }
  st.trunks.erase(i);
}

// Spawns the actor of trunk `rec`, replacing a running one of that name.
void start_trunk(self_ptr self, const storage::trunk_record& rec) {
  auto& st = self->state;
  stop_trunk(self, rec.name);
  auto a = spawn_trunk(self, st.ctx, rec, st.trunk_calls);
  if (a)
    st.trunk_addrs.insert(a.address());
  st.trunks[rec.name] = a;
}

// Commits `b`, whose change the maps hold already; `committed` runs after
// the commit (re-applies the change, starts or stops trunk actors).
caf::result<admin_reply> commit_trunk_domain(self_ptr self, storage::batch b,
                                             std::function<void()> committed,
                                             admin_reply answer = {}) {
  auto& st = self->state;
  auto rp = self->make_response_promise<admin_reply>();
  st.writes.submit(self, *st.ctx->store, std::move(b),
                   [self, rp, committed, answer](const std::string& err) mutable {
                     if (!err.empty()) {
                       load_trunk_domain(self);
                       rp.deliver(admin_fail(admin_errc::internal, "storage: " + err));
                       return;
                     }
                     committed();
                     rebuild_rules(self);
                     rp.deliver(std::move(answer));
                   });
  return rp;
}

admin_reply bad_name(const std::string& what, const std::string& name) {
  return admin_invalid(what + " name '" + name
                         + "' must be 1-32 letters, digits, '-' or '_'",
                       "name");
}

// Every trunk of every tenant, this tenant's as it has them now.
std::vector<storage::trunk_record> every_trunk(self_ptr self) {
  auto& st = self->state;
  std::vector<storage::trunk_record> all;
  for (auto& t : st.ctx->store->all_trunks())
    if (t.domain != st.rec.domain)
      all.push_back(std::move(t));
  for (auto& [name, t] : st.trunk_recs)
    all.push_back(t);
  return all;
}

// What else a changed trunk must agree with: one gateway login per
// ACCEPT_REGISTER username, DID pools of one provider apart, and the inbound
// rules of this trunk inside its pool.
admin_reply trunk_conflicts(self_ptr self, const storage::trunk_record& rec) {
  auto& st = self->state;
  if (rec.auth_mode == "ACCEPT_REGISTER")
    for (auto& [name, t] : st.trunk_recs)
      if (name != rec.name && t.auth_mode == "ACCEPT_REGISTER" && t.username == rec.username)
        return admin_conflict("username " + rec.username + " is the login of trunk " + name,
                              "username");
  if (auto e = trunk_config::pool_conflict(rec, every_trunk(self)); !e.empty())
    return admin_conflict(e, "did_pool");
  for (auto& [name, r] : st.inbound_recs)
    if (r.trunk == rec.name)
      if (auto e = trunk_config::check_inbound(r, rec); !e.empty())
        return admin_conflict("inbound rule " + name + " does not fit the trunk any more: " + e,
                              "did_pool");
  return {};
}

caf::result<admin_reply> handle_trunk(self_ptr self, trunk_cmd& cmd) {
  auto& st = self->state;
  if (cmd.verb == "list") {
    admin_reply r;
    for (auto& [name, t] : st.trunk_recs)
      r.records.push_back(trunk_config::describe_trunk(t));
    return r;
  }
  if (!trunk_config::valid_name(cmd.name))
    return bad_name("trunk", cmd.name);
  auto it = st.trunk_recs.find(cmd.name);
  if (cmd.verb == "add") {
    if (it != st.trunk_recs.end())
      return admin_conflict("trunk " + cmd.name + " exists", "name");
    storage::trunk_record rec;
    rec.domain = st.rec.domain;
    rec.name = cmd.name;
    if (auto e = trunk_config::apply_trunk_fields(rec, cmd.fields); !e.empty())
      return admin_invalid(e);
    if (auto e = trunk_config::check_trunk(rec); !e.empty())
      return admin_invalid(e);
    if (auto c = trunk_conflicts(self, rec); !c.ok)
      return c;
    st.trunk_recs[rec.name] = rec;
    storage::batch b;
    b.put(rec);
    return commit_trunk_domain(self, std::move(b), [self, rec] {
      self->state.trunk_recs[rec.name] = rec;
      start_trunk(self, rec);
    });
  }
  if (it == st.trunk_recs.end())
    return admin_not_found("no trunk " + cmd.name + " in " + st.rec.domain);
  if (cmd.verb == "show")
    return admin_records({trunk_config::describe_trunk(it->second)});
  if (cmd.verb == "set") {
    if (cmd.fields.empty())
      return admin_invalid("nothing to set");
    auto rec = it->second;
    if (auto e = trunk_config::apply_trunk_fields(rec, cmd.fields); !e.empty())
      return admin_invalid(e);
    if (auto e = trunk_config::check_trunk(rec); !e.empty())
      return admin_invalid(e);
    if (auto c = trunk_conflicts(self, rec); !c.ok)
      return c;
    it->second = rec;
    storage::batch b;
    b.put(rec);
    return commit_trunk_domain(self, std::move(b), [self, rec] {
      self->state.trunk_recs[rec.name] = rec;
      start_trunk(self, rec); // the old actor stops, one with the new settings starts
    });
  }
  if (cmd.verb == "del") {
    if (!cmd.fields.empty())
      return admin_invalid("usage: trunk del DOMAIN NAME");
    for (auto& [name, r] : st.inbound_recs)
      if (r.trunk == cmd.name)
        return admin_conflict("trunk " + cmd.name + " is used by inbound rule " + name, "name");
    for (auto& [name, r] : st.outbound_recs)
      for (auto& route : r.routes)
        if (route.trunk == cmd.name)
          return admin_conflict("trunk " + cmd.name + " is used by outbound rule " + name,
                                "name");
    st.trunk_recs.erase(it);
    storage::batch b;
    b.erase_trunk(st.rec.domain, cmd.name);
    return commit_trunk_domain(self, std::move(b), [self, name = cmd.name] {
      self->state.trunk_recs.erase(name);
      stop_trunk(self, name);
    });
  }
  return admin_invalid("usage: trunk add|set|del|show|list DOMAIN [NAME] key=value...");
}

caf::result<admin_reply> handle_inbound(self_ptr self, inbound_cmd& cmd) {
  auto& st = self->state;
  if (cmd.verb == "list") {
    admin_reply r;
    for (auto& [name, rule] : st.inbound_recs)
      r.records.push_back(trunk_config::describe_inbound(rule));
    return r;
  }
  if (!trunk_config::valid_name(cmd.name))
    return bad_name("rule", cmd.name);
  auto it = st.inbound_recs.find(cmd.name);
  if (cmd.verb == "add") {
    if (it != st.inbound_recs.end())
      return admin_conflict("inbound rule " + cmd.name + " exists", "name");
    storage::inbound_rule_record rec;
    rec.domain = st.rec.domain;
    rec.name = cmd.name;
    if (auto e = trunk_config::apply_inbound_fields(rec, cmd.fields); !e.empty())
      return admin_invalid(e);
    auto trunk = st.trunk_recs.find(rec.trunk);
    if (trunk == st.trunk_recs.end())
      return admin_invalid("trunk: no trunk " + rec.trunk + " in " + st.rec.domain, "trunk");
    if (auto e = trunk_config::check_inbound(rec, trunk->second); !e.empty())
      return admin_invalid(e);
    st.inbound_recs[rec.name] = rec;
    storage::batch b;
    b.put(rec);
    return commit_trunk_domain(self, std::move(b),
                               [self, rec] { self->state.inbound_recs[rec.name] = rec; });
  }
  if (it == st.inbound_recs.end())
    return admin_not_found("no inbound rule " + cmd.name + " in " + st.rec.domain);
  if (cmd.verb == "del") {
    if (!cmd.fields.empty())
      return admin_invalid("usage: inbound del DOMAIN NAME");
    st.inbound_recs.erase(it);
    storage::batch b;
    b.erase_inbound_rule(st.rec.domain, cmd.name);
    return commit_trunk_domain(self, std::move(b),
                               [self, name = cmd.name] { self->state.inbound_recs.erase(name); });
  }
  return admin_invalid("usage: inbound add|del|list DOMAIN [NAME] key=value...");
}

caf::result<admin_reply> handle_outbound(self_ptr self, outbound_cmd& cmd) {
  auto& st = self->state;
  if (cmd.verb == "list") {
    std::vector<const storage::outbound_rule_record*> rules;
    for (auto& [name, rule] : st.outbound_recs)
      rules.push_back(&rule);
    // As they are tried: by priority (lower first), then by name.
    std::stable_sort(rules.begin(), rules.end(), [](auto* a, auto* b) {
      return a->priority < b->priority;
    });
    admin_reply r;
    for (auto* rule : rules)
      r.records.push_back(trunk_config::describe_outbound(*rule));
    return r;
  }
  if (!trunk_config::valid_name(cmd.name))
    return bad_name("rule", cmd.name);
  auto it = st.outbound_recs.find(cmd.name);
  if (cmd.verb == "add" || cmd.verb == "set") {
    storage::outbound_rule_record rec;
    if (cmd.verb == "add") {
      if (it != st.outbound_recs.end())
        return admin_conflict("outbound rule " + cmd.name + " exists", "name");
      rec.domain = st.rec.domain;
      rec.name = cmd.name;
    } else {
      if (it == st.outbound_recs.end())
        return admin_not_found("no outbound rule " + cmd.name + " in " + st.rec.domain);
      if (cmd.fields.empty())
        return admin_invalid("nothing to set");
      rec = it->second;
    }
    if (auto e = trunk_config::apply_outbound_fields(rec, cmd.fields); !e.empty())
      return admin_invalid(e);
    if (auto e = trunk_config::check_outbound(rec); !e.empty())
      return admin_invalid(e);
    for (auto& route : rec.routes)
      if (st.trunk_recs.count(route.trunk) == 0)
        return admin_invalid("route: no trunk " + route.trunk + " in " + st.rec.domain, "route");
    st.outbound_recs[rec.name] = rec;
    storage::batch b;
    b.put(rec);
    return commit_trunk_domain(self, std::move(b),
                               [self, rec] { self->state.outbound_recs[rec.name] = rec; });
  }
  if (it == st.outbound_recs.end())
    return admin_not_found("no outbound rule " + cmd.name + " in " + st.rec.domain);
  if (cmd.verb == "del") {
    if (!cmd.fields.empty())
      return admin_invalid("usage: outbound del DOMAIN NAME");
    st.outbound_recs.erase(it);
    storage::batch b;
    b.erase_outbound_rule(st.rec.domain, cmd.name);
    return commit_trunk_domain(self, std::move(b),
                               [self, name = cmd.name] { self->state.outbound_recs.erase(name); });
  }
  return admin_invalid("usage: outbound add|set|del|list DOMAIN [NAME] key=value...");
}

} // namespace

std::string apply_tenant_fields(storage::tenant_record& rec, const field_list& fields) {
  auto next = rec;
  for (auto& [k, v] : fields) {
    if (k == "name") {
      if (v.empty() || v.size() > 128)
        return "name must be 1-128 characters";
      next.name = v;
    } else if (k == "timezone") {
      if (!office_hours::valid_zone(v))
        return "unknown time zone '" + v + "'";
      next.timezone = v;
    } else if (k == "allow_weak_passwords") {
      if (v != "true" && v != "false")
        return "allow_weak_passwords must be true or false";
      next.allow_weak_passwords = v == "true";
    } else if (k == "voicemail_number") {
      if (v.size() < 2 || v.size() > 16 || v.find_first_not_of("0123456789") != std::string::npos)
        return "voicemail_number must be 2-16 digits";
      next.voicemail_number = v;
    } else if (auto* n = k == "voicemail_max_seconds"       ? &next.voicemail_max_seconds
                         : k == "voicemail_min_seconds"     ? &next.voicemail_min_seconds
                         : k == "voicemail_silence_seconds" ? &next.voicemail_silence_seconds
                         : k == "voicemail_retain_days"     ? &next.voicemail_retain_days
                                                            : nullptr) {
      // max 1-3600 s; min and silence 0-60 s (0: none); retain 0-3650 days (0: forever)
      std::uint32_t lo = k == "voicemail_max_seconds" ? 1 : 0;
      std::uint32_t hi = k == "voicemail_max_seconds"   ? 3600
                         : k == "voicemail_retain_days" ? 3650
                                                        : 60;
      if (v.empty() || v.size() > 5 || v.find_first_not_of("0123456789") != std::string::npos
          || std::stoul(v) < lo || std::stoul(v) > hi)
        return k + " must be " + std::to_string(lo) + "-" + std::to_string(hi);
      *n = static_cast<std::uint32_t>(std::stoul(v));
    } else {
      bool known = false;
      auto err = trunk_config::apply_tenant_trunk_field(next.e164, next.max_trunk_calls, k, v,
                                                        known);
      if (!known)
        return "unknown field '" + k + "'";
      if (!err.empty())
        return err;
    }
  }
  if (next.voicemail_min_seconds >= next.voicemail_max_seconds)
    return "voicemail_min_seconds must be below voicemail_max_seconds";
  if (auto err = trunk_config::check_e164(next.e164); !err.empty())
    return err;
  rec = std::move(next);
  return {};
}

field_list tenant_fields(const storage::tenant_record& t, storage::store& st) {
  field_list f{{"domain", t.domain},
          {"name", t.name},
          {"timezone", t.timezone},
          {"extensions", std::to_string(st.extension_count(t.domain))},
          {"allow_weak_passwords", t.allow_weak_passwords ? "true" : "false"},
          {"voicemail_number", t.voicemail_number},
          {"voicemail_max_seconds", std::to_string(t.voicemail_max_seconds)},
          {"voicemail_min_seconds", std::to_string(t.voicemail_min_seconds)},
          {"voicemail_silence_seconds", std::to_string(t.voicemail_silence_seconds)},
          {"voicemail_retain_days", std::to_string(t.voicemail_retain_days)}};
  for (auto& kv : trunk_config::describe_tenant_trunk_fields(t.e164, t.max_trunk_calls))
    f.push_back(std::move(kv));
  return f;
}

namespace {

// ---- reads of the admin layer: what this tenant's writes have committed ----

admin_reply extensions(self_ptr self, const extension_query& q) {
  auto& st = self->state;
  auto& store = *st.ctx->store;
  if (!q.number.empty()) {
    auto e = store.extension(st.rec.domain, q.number);
    if (!e)
      return admin_not_found("no extension " + q.number);
    return admin_records({describe_extension(*e)});
  }
  admin_reply r;
  for (auto& e : store.extensions(st.rec.domain, q.after, q.limit))
    r.records.push_back(describe_extension(e));
  return r;
}

admin_reply cdrs(self_ptr self, const cdr_query& q) {
  auto& st = self->state;
  admin_reply r;
  auto join = [](const std::vector<std::string>& list) {
    std::string out;
    for (auto& x : list)
      out += (out.empty() ? "" : ",") + x;
    return out;
  };
  auto steps_text = [](const std::vector<std::string>& v) {
    std::string out;
    for (auto& x : v)
      out += (out.empty() ? "" : "; ") + x;
    return out;
  };
  for (auto& c : st.ctx->store->cdrs(st.rec.domain, q.limit, q.extension, q.before)) {
    std::string devices;
    for (auto& d : c.devices)
      devices += (devices.empty() ? "" : ",") + d.contact + "=" + std::to_string(d.code);
    auto secs = [](std::int64_t from, std::int64_t to) {
      return from && to ? std::to_string((to - from + 500) / 1000) : std::string{"0"};
    };
    r.records.push_back(field_list{
      {"call_id", c.call_id},
      {"caller", c.caller},
      {"callee", c.callee},
      {"start", admin_schema::iso_time_ms(c.start_ms)},
      {"ring", admin_schema::iso_time_ms(c.ring_ms)},
      {"answer", admin_schema::iso_time_ms(c.answer_ms)},
      {"end", admin_schema::iso_time_ms(c.end_ms)},
      {"ring_seconds", secs(c.start_ms, c.answer_ms ? c.answer_ms : c.end_ms)},
      {"talk_seconds", secs(c.answer_ms, c.end_ms)},
      {"status", c.status},
      {"sip_code", std::to_string(c.sip_code)},
      {"end_reason", c.end_reason},
      {"devices", devices},
      {"reroute_reason", c.reroute_reason},
      {"answered_by", c.answered_by},
      {"voicemail_id", c.voicemail_id},
      {"forwarded", join(c.forwarded)},
      {"direction", c.direction},
      {"trunk", c.trunk},
      {"did", c.did},
      {"digits_sent", c.digits_sent},
      {"caller_id_used", c.caller_id_used},
      {"outbound_rule", c.outbound_rule},
      {"route_steps", steps_text(c.route_steps)},
    });
  }
  return r;
}

// Asks every trunk actor for its live state; one record per trunk, by name.
caf::result<admin_reply> trunk_status(self_ptr self) {
  auto& st = self->state;
  if (st.trunks.empty())
    return admin_reply{};
  struct gather {
    std::size_t left;
    std::map<std::string, field_list> by_name;
    caf::typed_response_promise<admin_reply> rp;
  };
  auto g = std::make_shared<gather>(
    gather{st.trunks.size(), {}, self->make_response_promise<admin_reply>()});
  auto one_done = [g] {
    if (--g->left > 0)
      return;
    admin_reply r;
    for (auto& [name, rec] : g->by_name)
      r.records.push_back(std::move(rec));
    g->rp.deliver(std::move(r));
  };
  for (auto& [name, trunk] : st.trunks) {
    auto silent = field_list{{"name", name}, {"state", "not running"}};
    if (!trunk) {
      g->by_name[name] = silent;
      one_done();
      continue;
    }
    self->request(trunk, std::chrono::seconds(2), trunk_status_atom::value)
      .then(
        [=, name = name](field_list& f) {
          g->by_name[name] = std::move(f);
          one_done();
        },
        [=, name = name](caf::error&) {
          g->by_name[name] = silent;
          one_done();
        });
  }
  return g->rp;
}

web_credentials credentials(self_ptr self, const web_login_query& q) {
  auto& st = self->state;
  web_credentials c;
  if (auto e = st.ctx->store->extension(st.rec.domain, q.number)) {
    c.found = true;
    c.enabled = e->enabled;
    c.role = e->role;
    c.password_hash = e->web_password_hash;
  }
  return c;
}


// -- trunk calls (actors/trunk_routing)

std::size_t pick(std::size_t n) {
  thread_local std::minstd_rand rng{std::random_device{}()};
  return std::uniform_int_distribution<std::size_t>{0, n - 1}(rng);
}

outbound_plan plan_outbound(self_ptr self, const outbound_query& q) {
  auto& st = self->state;
  auto who = q.forwarded_by.empty() ? q.caller : q.forwarded_by;
  auto ext = st.ctx->store->extension(st.rec.domain, who);
  auto m = trunk_routing::at(st.rec, std::chrono::system_clock::now());
  auto d = trunk_routing::outbound(st.outbound, st.rec, ext ? &*ext : nullptr, q.number, m,
                                   pick);
  outbound_plan p;
  p.code = d.code;
  p.reason = d.reason;
  p.rule = d.rule;
  p.anonymous = q.anonymous || (ext && ext->anonymous_outbound);
  p.caller_number = ext ? ext->number : q.caller;
  p.caller_name = ext ? ext->display_name : std::string{};
  for (auto& s : d.steps) {
    auto t = st.trunks.find(s.trunk);
    p.steps.push_back(outbound_step{s.trunk, t != st.trunks.end() ? t->second : caf::actor{},
                                    s.digits, s.caller_id});
  }
  return p;
}

// An INVITE a trunk accepted: the inbound rules pick the destination, and a call
// actor carries it (its CDR says inbound, even when the rule refuses it).
caf::actor route_inbound(self_ptr self, trunk_call& tc) {
  auto& st = self->state;
  auto m = trunk_routing::at(st.rec, std::chrono::system_clock::now());
  auto d = trunk_routing::inbound(st.inbound, st.rec, tc.trunk, tc.did, tc.offer.caller, m);
  auto offer = std::move(tc.offer);
  offer.domain = st.rec.domain;
  offer.caller = e164::incoming(st.rec.e164, offer.caller);
  offer.trunk = tc.trunk;
  offer.did = tc.did;
  offer.callee = d.target;
  if (d.code != 200) {
    offer.callee = tc.did;
    offer.destination = "reject:404:No inbound rule:" + d.reason;
  } else if (d.kind == "hangup") {
    offer.callee = tc.did;
    offer.destination = "reject:480:Temporarily Unavailable:inbound rule " + d.rule + " ("
                        + d.when + "): hang up";
  } else if (d.kind == "voicemail" || d.kind == "number") {
    offer.destination = d.kind;
  }
  auto leg = offer.leg;
  auto call = self->spawn<caf::linked>(call_actor, st.ctx, caf::actor_cast<caf::actor>(self),
                                       std::move(offer));
  add_call(st, call);
  // The call takes over the channel the trunk took for the INVITE: it comes back
  // when the call ends.
  if (auto trunk = caf::actor_cast<caf::actor>(self->current_sender()))
    caf::anon_send(trunk, trunk_seize{"in/" + std::to_string(leg), call}); // no reply wanted
  return call;
}

// explain to an external number, or (trunk=NAME) from an outside caller to a DID.
std::optional<admin_reply> explain_trunk_call(self_ptr self, const rules_cmd& cmd) {
  auto& st = self->state;
  std::string trunk;
  std::optional<std::chrono::system_clock::time_point> when;
  for (auto& [k, v] : cmd.fields) {
    if (k == "trunk")
      trunk = v;
    else if (k == "at")
      when = rule_commands::parse_instant(v);
  }
  bool external = phone_number(cmd.number)
                  && !(valid_extension_number(cmd.number)
                       && st.ctx->store->extension(st.rec.domain, cmd.number));
  if (trunk.empty() && !external)
    return std::nullopt; // an extension's own rules: its actor explains
  if (cmd.args.empty())
    return admin_invalid("usage: explain DOMAIN FROM TO [trunk=NAME] [at=ISO-8601]");
  auto m = trunk_routing::at(st.rec, when ? *when : std::chrono::system_clock::now());
  if (!trunk.empty()) {
    auto all = st.ctx->store->trunks(st.rec.domain);
    if (std::none_of(all.begin(), all.end(), [&](auto& t) { return t.name == trunk; }))
      return admin_not_found("no trunk " + trunk);
    auto d = trunk_routing::inbound(st.inbound, st.rec, trunk, cmd.number, cmd.args[0], m);
    return trunk_routing::explain_inbound(d, trunk, cmd.number, cmd.args[0], m);
  }
  auto ext = st.ctx->store->extension(st.rec.domain, cmd.args[0]);
  auto d = trunk_routing::outbound(st.outbound, st.rec, ext ? &*ext : nullptr, cmd.number, m,
                                   [](std::size_t) { return std::size_t{0}; });
  // A number shaped like an extension that no rule takes is what it was before
  // trunks: no such extension.
  if (d.code == 404 && valid_extension_number(cmd.number))
    return admin_not_found("no extension " + cmd.number + ", and " + d.reason);
  return trunk_routing::explain_outbound(d, cmd.args[0], cmd.number, m);
}

} // namespace

caf::behavior tenant_actor(caf::stateful_actor<tenant_state>* self,
                           node_context* ctx, storage::tenant_record rec) {
  self->state.ctx = ctx;
  self->state.rec = std::move(rec);
  // A failing extension must not take its tenant down; the router's exit must.
  self->set_exit_handler([=](caf::exit_msg& m) {
    auto& st = self->state;
    // A trunk that ends (stopped, replaced or failed) leaves its tenant running.
    if (st.trunk_addrs.erase(m.source) > 0) {
      for (auto i = st.trunks.begin(); i != st.trunks.end(); ++i)
        if (i->second && i->second.address() == m.source) {
          st.trunks.erase(i);
          break;
        }
      if (m.reason != caf::exit_reason::normal)
        log::warn("a trunk of ", st.rec.domain, " ended: ", self->system().render(m.reason));
      return;
    }
    // A call that ends, however it ends, leaves its tenant running.
    if (drop_call(self, m.source))
      return;
    for (auto& number : st.active) {
      auto key = extension_key(st.rec.domain, number);
      auto a = st.ctx->dir->lookup(key);
      if (a && a.address() == m.source) {
        st.ctx->dir->unregister(key, a);
        st.active.erase(number);
        return;
      }
    }
    if (m.reason != caf::exit_reason::normal)
      self->quit(m.reason);
  });
  self->set_down_handler([=](caf::down_msg& m) { drop_call(self, m.source); });
  self->state.trunk_calls = std::make_shared<trunk_channels>();
  self->state.trunk_calls->max = self->state.rec.max_trunk_calls;
  load_trunk_domain(self);
  registrations::start(self);
  for (auto& [name, t] : self->state.trunk_recs)
    start_trunk(self, t);
  return {
    [=](const metrics::mailbox_probe& p) { metrics::answer(p, self->mailbox().size()); },
    [=](const trunk_status_query&) { return trunk_status(self); },
    [=](register_request& req) { handle_register(self, req); },
    [=](register_batch& b) {
      registrations::write_group group;
      for (auto& req : b.requests)
        handle_register(self, req, &group);
      registrations::commit_group(self, std::move(group));
    },
    [=](binding_write_failed& f) { registrations::write_failed(self, f); },
    [=](binding_tick_atom) { registrations::tick(self); },
    [=](subscribe_request& req) {
      if (auto ext = activate(self, req.user))
        self->send(ext, std::move(req));
      else
        mwi::on_unknown_mailbox(self->state.ctx, self->state.rec.domain, req);
    },
    [=](call_offer& offer) {
      // A feature code changes the caller's record: its extension actor does it.
      bool feature = !offer.callee.empty() && (offer.callee[0] == '*' || offer.callee[0] == '#');
      if (!feature && start_caller(self, offer))
        return;
      if (auto ext = feature ? activate(self, offer.caller) : caf::actor{}) {
        self->send(ext, std::move(offer));
        return;
      }
      // A gateway of an ACCEPT_REGISTER trunk (From user: its login or a caller's
      // number, with its login in the credentials): the trunk's digest decides.
      auto trunk = gateway_trunk(self, offer.caller);
      if (!trunk && offer.auth.present)
        trunk = gateway_trunk(self, offer.auth.username);
      if (trunk) {
        self->send(trunk, std::move(offer));
        return;
      }
      // An unknown caller is challenged like a known one with a wrong password.
      auto& st = self->state;
      auto v = digest::check(offer.auth, offer.caller, st.rec.domain, std::nullopt, "INVITE",
                             st.ctx->nonce_secret, st.ctx->now(), st.ctx->registrar.nonce_ttl);
      if (v == digest::verdict::forbidden)
        report_auth_failure(st.ctx, true, offer.source, offer.caller + "@" + st.rec.domain,
                            offer.user_agent, "unknown user");
      send_auth_failure(st.ctx, offer.leg, v, st.rec.domain);
    },
    [=](outbound_query& q) -> outbound_plan { return plan_outbound(self, q); },
    [=](trunk_call& tc) { route_inbound(self, tc); },
    // The callee's rules decide on its committed record: no extension actor.
    [=](callee_query& q) -> callee_targets {
      auto& st = self->state;
      auto rec = valid_extension_number(q.number) ? st.ctx->store->extension(st.rec.domain, q.number)
                                                  : std::nullopt;
      if (!rec)
        return callee_targets{404, {}, 0, {}, {}, {}};
      q.devices = registrations::devices(self, q.number);
      q.on_call = line_of(self, q.number).first;
      return decide_callee(*rec, st.rec, q);
    },
    [=](const activate_extension& a) {
      if (!a.number.empty())
        activate(self, a.number);
    },
    [=](const write_done& w) { self->state.writes.done(w); },
    [=](const passivate_request& p) {
      auto a = caf::actor_cast<caf::actor>(self->current_sender());
      forget(self, p.number, a);
      // Everything routed to `a` before this reply is already in its mailbox.
      self->send(a, passivate_ok{});
    },
    [=](extension_cmd& cmd) -> caf::result<admin_reply> {
      switch (cmd.op) {
        case extension_op::add:
          return handle_add(self, cmd);
        case extension_op::copy:
          return handle_copy(self, cmd);
        case extension_op::import:
          return handle_import(self, cmd);
        case extension_op::set:
        case extension_op::del: {
          auto ext = activate(self, cmd.number);
          if (!ext)
            return admin_not_found("no extension " + cmd.number);
          if (cmd.op == extension_op::del)
            forget(self, cmd.number, ext);
          // A deleted or disabled extension's bindings went in the same commit.
          auto rp = self->make_response_promise<admin_reply>();
          auto number = cmd.number;
          self->request(ext, caf::infinite, std::move(cmd))
            .then(
              [self, rp, number](admin_reply& r) mutable {
                if (r.ok)
                  registrations::changed(self, number);
                rp.deliver(std::move(r));
              },
              [rp](caf::error& e) mutable {
                rp.deliver(admin_fail(admin_errc::internal, "extension: " + caf::to_string(e)));
              });
          return rp;
        }
      }
      return admin_invalid("unsupported operation");
    },
    [=](rules_cmd& cmd) -> caf::result<admin_reply> {
      auto& st = self->state;
      if (cmd.verb == "explain")
        if (auto r = explain_trunk_call(self, cmd))
          return std::move(*r);
      if (!cmd.number.empty()) {
        auto ext = valid_extension_number(cmd.number) ? activate(self, cmd.number) : caf::actor{};
        if (!ext)
          return admin_not_found("no extension " + cmd.number);
        cmd.devices = static_cast<std::uint32_t>(
            st.bindings->live(cmd.number, st.ctx->now()));
        std::tie(cmd.on_call, cmd.ringing) = line_of(self, cmd.number);
        self->delegate(ext, std::move(cmd));
        return caf::delegated<admin_reply>{};
      }
      auto next = st.rec;
      bool changed = false;
      auto r = rule_commands::on_tenant(cmd, next, changed);
      if (!r.ok || !changed)
        return r;
      // Extensions read the tenant's rules from storage per call: committed is current.
      return st.writes.commit(self, *st.ctx->store, st.rec, std::move(next), std::move(r));
    },
    [=](voicemail_cmd& cmd) -> caf::result<admin_reply> {
      auto ext = valid_extension_number(cmd.number) ? activate(self, cmd.number) : caf::actor{};
      if (!ext)
        return admin_not_found("no extension " + cmd.number);
      self->delegate(ext, std::move(cmd));
      return caf::delegated<admin_reply>{};
    },
    // The mailbox belongs to the extension; an unknown one answers 404.
    [=](mailbox_query& q) -> caf::result<mailbox_info> {
      auto ext = valid_extension_number(q.number) ? activate(self, q.number) : caf::actor{};
      if (!ext) {
        mailbox_info i;
        i.code = 404;
        i.number = q.number;
        return i;
      }
      self->delegate(ext, std::move(q));
      return caf::delegated<mailbox_info>{};
    },
    [=](mailbox_deposit& d) -> caf::result<mailbox_result> {
      auto ext = valid_extension_number(d.number) ? activate(self, d.number) : caf::actor{};
      if (!ext) {
        std::error_code ec;
        std::filesystem::remove(d.temp_file, ec); // the recording has no box to go to
        return mailbox_result{404, {}, "no extension " + d.number};
      }
      self->delegate(ext, std::move(d));
      return caf::delegated<mailbox_result>{};
    },
    [=](mailbox_change& c) -> caf::result<mailbox_result> {
      auto ext = valid_extension_number(c.number) ? activate(self, c.number) : caf::actor{};
      if (!ext)
        return mailbox_result{404, {}, "no extension " + c.number};
      self->delegate(ext, std::move(c));
      return caf::delegated<mailbox_result>{};
    },
    [=](line_state& l) {
      set_line(self, l.number, l.call_id, l.use,
               caf::actor_cast<caf::actor_addr>(self->current_sender()));
    },
    [=](const tenant_query&) {
      auto f = tenant_fields(self->state.rec, *self->state.ctx->store);
      if (!self->state.ctx->node_name.empty()) // a cluster: the node this tenant runs on
        f.emplace_back("owner", self->state.ctx->node_name);
      return admin_records({std::move(f)});
    },
    [=](const extension_query& q) { return extensions(self, q); },
    [=](const registrations_query& q) { return registrations::list(self, q); },
    [=](const cdr_query& q) { return cdrs(self, q); },
    [=](const web_login_query& q) { return credentials(self, q); },
    [=](const tenant_set& cmd) -> caf::result<admin_reply> {
      auto& st = self->state;
      auto next = st.rec;
      if (cmd.fields.empty())
        return admin_invalid("nothing to set");
      if (auto err = apply_tenant_fields(next, cmd.fields); !err.empty())
        return admin_invalid(err);
      st.trunk_calls->max = next.max_trunk_calls; // the trunks' next seize sees it
      return st.writes.commit(self, *st.ctx->store, st.rec, std::move(next), admin_reply{});
    },
    [=](trunk_cmd& cmd) { return handle_trunk(self, cmd); },
    [=](inbound_cmd& cmd) { return handle_inbound(self, cmd); },
    [=](outbound_cmd& cmd) { return handle_outbound(self, cmd); },
    [=](const tenant_del&) -> caf::result<admin_reply> {
      auto& st = self->state;
      storage::batch b;
      b.erase_tenant(st.rec.domain);
      auto rp = self->make_response_promise<admin_reply>();
      st.writes.submit(self, *st.ctx->store, std::move(b),
                       [self, rp](const std::string& err) mutable {
                         auto& st = self->state;
                         if (!err.empty()) {
                           rp.deliver(admin_fail(admin_errc::internal, "storage: " + err));
                           return;
                         }
                         for (auto number : st.active) {
                           auto key = extension_key(st.rec.domain, number);
                           auto a = st.ctx->dir->lookup(key);
                           st.ctx->dir->unregister(key, a);
                           self->send(a, stop_atom::value);
                         }
                         st.active.clear();
                         while (!st.trunks.empty())
                           stop_trunk(self, st.trunks.begin()->first);
                         st.ctx->dir->unregister(tenant_key(st.rec.domain),
                                                 caf::actor_cast<caf::actor>(self));
                         rp.deliver(admin_reply{});
                         self->quit();
                       });
      return rp;
    },
  };
}

} // namespace pbx
