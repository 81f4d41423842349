#include "actors/extension.hpp"

#include <caf/all.hpp>

#include "actors/digest.hpp"
#include "actors/call.hpp"
#include "actors/extension_fields.hpp"
#include "actors/trunk_routing.hpp"
#include "actors/feature_code.hpp"
#include "actors/forwarding.hpp"
#include "actors/mailbox.hpp"
#include "actors/rule_commands.hpp"
#include "actors/messages/directory.hpp"
#include "actors/messages/registration.hpp"
#include "actors/messages/shell.hpp"
#include "actors/security.hpp"
#include "engine/log.hpp"
#include "engine/sip_port.hpp"
#include "storage/store.hpp"

namespace pbx {

namespace {

using self_ptr = caf::stateful_actor<extension_state>*;

void reject(node_context* ctx, std::uint64_t leg, std::uint16_t code, const char* reason) {
  leg_command c;
  c.what = leg_command::op::reject;
  c.leg = leg;
  c.code = code;
  c.reason = reason;
  ctx->sip_of(c.leg).leg(std::move(c));
}

// The confirmation call of a feature code (ordinary calls start at the
// tenant). Linked: when the node stops, the call hears it and ends.
void start_call(self_ptr self, call_offer offer) {
  self->spawn<caf::linked>(call_actor, self->state.ctx, self->state.tenant, std::move(offer));
}

// A feature code dialled from the extension's own phone: the rule change is
// stored first, then the call confirms it (200, then BYE).
void feature_call(self_ptr self, call_offer offer, const feature_code::match& m) {
  auto& st = self->state;
  auto next = st.rec;
  std::string err;
  auto text = feature_code::apply(next.forwarding, m, err);
  if (!err.empty()) {
    reject(st.ctx, offer.leg, 403, "Forbidden");
    log::info(st.rec.number, "@", st.rec.domain, " dialled ", offer.callee, ": ", err);
    return;
  }
  storage::batch b;
  b.put(next);
  st.writes.submit(self, *st.ctx->store, std::move(b),
                   [self, next, text, offer](const std::string& err) mutable {
                     auto& st = self->state;
                     if (!err.empty()) {
                       log::error("feature code write failed: ", err);
                       reject(st.ctx, offer.leg, 500, "Storage Failure");
                       return;
                     }
                     st.rec = next;
                     log::info(st.rec.number, "@", st.rec.domain, " dialled ", offer.callee,
                               ": ", text);
                     offer.feature = text;
                     start_call(self, std::move(offer));
                   });
}

// `registered`, `on_call`: the tenant, which holds the bindings and the
// line, said so in the request.
forwarding::call_facts facts_now(const std::string& caller, bool registered, bool on_call) {
  forwarding::call_facts f;
  f.caller = caller;
  f.at = std::chrono::system_clock::now();
  f.registered = registered;
  f.on_call = on_call;
  return f;
}

storage::tenant_record tenant_now(self_ptr self) {
  auto& st = self->state;
  auto t = st.ctx->store->tenant(st.rec.domain);
  return t ? *t : storage::tenant_record{};
}

// A caller dialling a feature code (its tenant sends only those here):
// digest, then the change, then a call that confirms it.
void handle_offer(self_ptr self, call_offer& offer) {
  auto& st = self->state;
  auto* ctx = st.ctx;
  if (!caller_checked(ctx, offer, st.rec.domain, st.rec.sip_ha1, st.rec.enabled))
    return;
  if (!offer.callee.empty() && (offer.callee[0] == '*' || offer.callee[0] == '#')) {
    auto tenant = ctx->store->tenant(st.rec.domain);
    auto m = feature_code::find(tenant ? tenant->rules : storage::tenant_rules_record{},
                                offer.callee);
    if (m) {
      feature_call(self, std::move(offer), *m);
      return;
    }
  }
  start_call(self, std::move(offer));
}

caf::result<admin_reply> rules_command(self_ptr self, rules_cmd& cmd) {
  auto& st = self->state;
  if (cmd.verb == "explain") {
    std::string caller;
    std::chrono::system_clock::time_point at;
    if (auto err = rule_commands::explain_args(cmd, caller, at); !err.empty())
      return admin_invalid(err);
    auto facts = facts_now(caller, cmd.devices > 0, cmd.on_call);
    facts.at = at;
    // Other extensions as storage has them (committed rules, unexpired bindings).
    auto lookup = [&](const std::string& number) -> std::optional<rule_commands::explain_target> {
      auto rec = st.ctx->store->extension(st.rec.domain, number);
      if (!rec)
        return std::nullopt;
      rule_commands::explain_target t{*rec, false};
      auto now = st.ctx->now();
      for (auto& b : st.ctx->store->bindings(st.rec.domain, number))
        t.registered |= b.expires_at > now;
      return t;
    };
    auto tenant = tenant_now(self);
    // An outside number: what the tenant's outbound rules would do with it.
    auto outside = [&](const std::string& number, const storage::extension_record& by) {
      if (!phone_number(number))
        return "forward to " + number + ": not a number";
      outbound_rule::rule_set rules{st.ctx->store->outbound_rules(st.rec.domain)};
      auto m = trunk_routing::at(tenant, at);
      auto d = trunk_routing::outbound(rules, tenant, &by, number, m,
                                       [](std::size_t) { return std::size_t{0}; });
      if (d.code != 200)
        return "forward to " + number + ": " + d.reason;
      std::string text = "forward to " + number + " leaves by outbound rule " + d.rule + ":";
      for (std::size_t i = 0; i < d.steps.size(); ++i)
        text += (i ? ", then" : "") + std::string(" trunk ") + d.steps[i].trunk + " sends "
                + d.steps[i].digits + " as "
                + (d.steps[i].caller_id.empty() ? "the trunk's caller ID" : d.steps[i].caller_id);
      return text;
    };
    return rule_commands::explain(st.rec, tenant, facts, lookup, outside);
  }
  rule_commands::line_facts line;
  line.devices = cmd.devices;
  line.on_call = cmd.on_call;
  line.ringing = cmd.ringing;
  auto next = st.rec;
  bool changed = false;
  auto r = rule_commands::on_extension(cmd, next, line, changed);
  if (!r.ok || !changed)
    return r;
  return st.writes.commit(self, *st.ctx->store, st.rec, std::move(next), std::move(r));
}

// Once it asked to be forgotten, the extension hands everything to its
// tenant, which routes it to the extension's next incarnation: what the
// tenant sent before forgetting it, and what an actor that still holds this
// handle sends. (The SIP thread never sends to extensions: one ingress path.)
// After passivate_ok the tenant sends nothing more; a second later the actor ends.
caf::behavior draining(self_ptr self) {
  auto tenant = self->state.tenant;
  return {
    [=](call_offer& m) { self->send(tenant, std::move(m)); },
    [=](subscribe_request& m) { self->send(tenant, std::move(m)); },
    [=](const mwi_ended&) {},
    [=](line_state& m) { self->send(tenant, std::move(m)); },
    [=](callee_query& q) -> caf::result<callee_targets> {
      self->delegate(tenant, std::move(q));
      return caf::delegated<callee_targets>{};
    },
    [=](rules_cmd& c) -> caf::result<admin_reply> {
      self->delegate(tenant, std::move(c));
      return caf::delegated<admin_reply>{};
    },
    [=](extension_cmd& c) -> caf::result<admin_reply> {
      self->delegate(tenant, std::move(c));
      return caf::delegated<admin_reply>{};
    },
    [=](voicemail_cmd& c) -> caf::result<admin_reply> {
      self->delegate(tenant, std::move(c));
      return caf::delegated<admin_reply>{};
    },
    [=](mailbox_query& q) -> caf::result<mailbox_info> {
      self->delegate(tenant, std::move(q));
      return caf::delegated<mailbox_info>{};
    },
    [=](mailbox_deposit& d) -> caf::result<mailbox_result> {
      self->delegate(tenant, std::move(d));
      return caf::delegated<mailbox_result>{};
    },
    [=](mailbox_change& c) -> caf::result<mailbox_result> {
      self->delegate(tenant, std::move(c));
      return caf::delegated<mailbox_result>{};
    },
    [=](const write_done& w) { self->state.writes.done(w); },
    [=](const passivate_ok&) {
      self->delayed_send(self, std::chrono::seconds(1), stop_atom::value);
    },
    [=](stop_atom) { self->quit(); },
    [=](idle_check_atom) {},
    [=](const metrics::mailbox_probe& p) { metrics::answer(p, self->mailbox().size()); },
  };
}

} // namespace

callee_targets decide_callee(const storage::extension_record& rec,
                             const storage::tenant_record& tenant, const callee_query& q) {
  if (!rec.enabled)
    return callee_targets{480, {}, 0, {}, {}, {}}; // no calls in or out, no voicemail
  auto d = forwarding::decide(rec, tenant, facts_now(q.caller, !q.devices.empty(), q.on_call));
  callee_targets t;
  t.now = rule_commands::to_step(d.slot, d.rule, d.reroute_reason.c_str());
  if (d.exception)
    t.now.slot = "exception:" + std::to_string(d.exception_id);
  t.no_answer = rule_commands::to_step(d.no_answer_slot, d.no_answer,
                                       forwarding::reroute_reason(d.no_answer_slot));
  t.busy = rule_commands::to_step(d.busy_slot, d.busy, forwarding::reroute_reason(d.busy_slot));
  t.no_answer_timeout = d.no_answer.timeout;
  log::debug("call ", q.caller, " -> ", rec.number, "@", rec.domain, ": ", t.now.slot, " ",
             forwarding::action_name(d.rule.action));
  t.targets = q.devices;
  return t;
}

bool caller_checked(node_context* ctx, const call_offer& offer, const std::string& domain,
                    const std::string& ha1, bool enabled) {
  auto verdict = digest::check(offer.auth, offer.caller, domain, ha1, "INVITE",
                               ctx->nonce_secret, ctx->now(), ctx->registrar.nonce_ttl);
  if (verdict == digest::verdict::forbidden)
    report_auth_failure(ctx, true, offer.source, offer.caller + "@" + domain, offer.user_agent,
                        "wrong password");
  if (verdict == digest::verdict::ok && !enabled)
    verdict = digest::verdict::forbidden;
  if (verdict == digest::verdict::ok)
    return true;
  send_auth_failure(ctx, offer.leg, verdict, domain);
  return false;
}

void send_auth_failure(node_context* ctx, std::uint64_t leg, digest::verdict v,
                       const std::string& realm) {
  if (v == digest::verdict::forbidden) {
    reject(ctx, leg, 403, "Forbidden");
    return;
  }
  leg_command c;
  c.leg = leg;
  c.what = leg_command::op::challenge;
  c.realm = realm;
  c.nonce = digest::make_nonce(ctx->nonce_secret, realm, ctx->now());
  c.stale = v == digest::verdict::stale_challenge;
  ctx->sip_of(c.leg).leg(std::move(c));
}

caf::behavior extension_actor(caf::stateful_actor<extension_state>* self,
                              node_context* ctx, caf::actor tenant,
                              storage::extension_record rec) {
  auto& st = self->state;
  st.ctx = ctx;
  st.tenant = tenant;
  st.rec = std::move(rec);
  st.mwi.counts = [self] {
    auto& st = self->state;
    auto n = st.ctx->store->voicemail_count(st.rec.domain, st.rec.number);
    return mwi_counts{static_cast<std::uint32_t>(n.fresh), static_cast<std::uint32_t>(n.saved)};
  };
  self->delayed_send(self, ctx->idle_passivation, idle_check_atom::value);
  return {
    [=](const subscribe_request& req) {
      auto& st = self->state;
      st.active_since_check = true;
      mwi::on_subscribe(st.mwi, st.ctx, st.rec, req, self);
    },
    [=](const mwi_ended& e) { mwi::ended(self->state.mwi, e); },
    [=](call_offer& offer) {
      self->state.active_since_check = true;
      handle_offer(self, offer);
    },
    [=](rules_cmd& cmd) -> caf::result<admin_reply> {
      self->state.active_since_check = true;
      return rules_command(self, cmd);
    },
    [=](const write_done& w) { self->state.writes.done(w); },
    // The mailbox (actors/mailbox): its records are in LMDB, so an extension
    // with messages passivates like any other.
    [=](const mailbox_query& q) -> mailbox_info {
      self->state.active_since_check = true;
      return mailbox::query(self, q);
    },
    [=](mailbox_deposit& d) -> caf::result<mailbox_result> {
      self->state.active_since_check = true;
      return mailbox::deposit(self, d);
    },
    [=](mailbox_change& c) -> caf::result<mailbox_result> {
      self->state.active_since_check = true;
      return mailbox::change(self, c);
    },
    [=](voicemail_cmd& c) -> caf::result<admin_reply> {
      self->state.active_since_check = true;
      return mailbox::command(self, c);
    },
    [=](extension_cmd& cmd) -> caf::result<admin_reply> {
      auto& st = self->state;
      st.active_since_check = true;
      if (cmd.op == extension_op::set) {
        auto next = st.rec;
        if (auto err = apply_extension_fields(next, cmd.fields, false,
                                              tenant_now(self).allow_weak_passwords);
            !err.empty())
          return admin_invalid(err);
        if (next.enabled || !st.rec.enabled)
          return st.writes.commit(self, *st.ctx->store, st.rec, std::move(next), admin_reply{});
        // Disabled: its phones stop ringing now, not when their bindings expire.
        auto rp = self->make_response_promise<admin_reply>();
        storage::batch b;
        b.put(next);
        b.erase_bindings(st.rec.domain, st.rec.number);
        st.writes.submit(self, *st.ctx->store, std::move(b),
                         [self, rp, next](const std::string& err) mutable {
                           if (!err.empty()) {
                             rp.deliver(admin_fail(admin_errc::internal, "storage: " + err));
                             return;
                           }
                           self->state.rec = next;
                           mwi::end_all(self->state.mwi, *self->state.ctx->sip);
                           rp.deliver(admin_reply{});
                         });
        return rp;
      }
      if (cmd.op == extension_op::del) {
        auto rp = self->make_response_promise<admin_reply>();
        storage::batch b;
        b.erase_extension(st.rec.domain, st.rec.number);
        st.writes.submit(self, *st.ctx->store, std::move(b),
                         [self, rp](const std::string& err) mutable {
                           if (!err.empty()) {
                             rp.deliver(admin_fail(admin_errc::internal, "storage: " + err));
                             return;
                           }
                           mwi::end_all(self->state.mwi, *self->state.ctx->sip);
                           rp.deliver(admin_reply{});
                           self->quit();
                         });
        return rp;
      }
      return admin_invalid("unsupported extension operation");
    },
    [=](stop_atom) { self->quit(); },
    [=](const metrics::mailbox_probe& p) { metrics::answer(p, self->mailbox().size()); },
    // One timer per idle period, not CAF's `after`, which re-arms a clock
    // entry on every message (a clock-thread wakeup per REGISTER).
    [=](idle_check_atom) {
      auto& st = self->state;
      if (st.writes.idle() && !st.active_since_check
          && st.mwi.subs.empty()) {
        self->send(st.tenant, passivate_request{st.rec.number});
        self->become(draining(self));
        return;
      }
      st.active_since_check = false;
      self->delayed_send(self, st.ctx->idle_passivation, idle_check_atom::value);
    },
  };
}

} // namespace pbx
