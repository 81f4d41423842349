#include "actors/registrations.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <map>

#include "actors/digest.hpp"
#include "actors/messages/directory.hpp"
#include "actors/registrar.hpp"
#include "actors/security.hpp"
#include "engine/log.hpp"
#include "engine/sip_port.hpp"
#include "storage/store.hpp"

namespace pbx::registrations {

namespace {

void keep_time(tenant_ptr self) {
  auto& st = self->state;
  st.bound.set(st.bindings->size());
  if (st.ticking || st.bindings->size() == 0)
    return;
  st.ticking = true;
  self->delayed_send(self, std::chrono::seconds(1), binding_tick_atom::value);
}

} // namespace

void start(tenant_ptr self) {
  auto& st = self->state;
  auto now = st.ctx->now();
  st.bindings = std::make_unique<binding_index>(st.rec.domain, now);
  std::map<std::string, std::vector<storage::binding_record>> by_number;
  storage::batch expired;
  for (auto& b : st.ctx->store->bindings(st.rec.domain)) {
    if (b.expires_at > now)
      by_number[b.number].push_back(std::move(b));
    else
      expired.erase_binding(b.domain, b.number, b.contact);
  }
  for (auto& [number, recs] : by_number)
    st.bindings->set(number, recs);
  if (!expired.empty())
    st.writes.submit(self, *st.ctx->store, std::move(expired), [](const std::string&) {});
  keep_time(self);
}

std::optional<binding_index::auth> auth_of(tenant_ptr self, const std::string& number) {
  auto& st = self->state;
  // A refresh finds the HA1 with the bindings; otherwise its auth record is read.
  if (auto a = st.bindings->cached_auth(number))
    return a;
  auto rec = st.ctx->store->extension_auth(st.rec.domain, number);
  if (!rec)
    return std::nullopt;
  return binding_index::auth{std::move(rec->ha1), rec->enabled};
}

bool handle(tenant_ptr self, register_request& req, write_group* group) {
  auto& st = self->state;
  auto* ctx = st.ctx;
  auto found = st.bindings->cached_auth(req.user);
  bool cached = found.has_value();
  if (!cached)
    found = auth_of(self, req.user);
  if (!found)
    return false;
  auto auth = std::move(*found);
  auto& domain = st.rec.domain;
  auto now = ctx->now();
  sip_reply reply;
  reply.txn = req.txn;
  auto verdict = digest::check(req.auth, req.user, domain, auth.ha1, "REGISTER",
                               ctx->nonce_secret, now, ctx->registrar.nonce_ttl);
  if (digest::fill_failure(verdict, reply, domain, ctx->nonce_secret, now)) {
    if (verdict == digest::verdict::forbidden)
      report_auth_failure(ctx, false, req.source, req.user + "@" + domain, req.user_agent,
                          "wrong password");
    ctx->sip_of(reply.txn).reply(std::move(reply));
    return true;
  }
  if (!auth.enabled) {
    reply.code = 403;
    reply.reason = "Extension disabled";
    ctx->sip_of(reply.txn).reply(std::move(reply));
    return true;
  }
  auto out = registrar::apply(st.bindings->get(req.user), req, ctx->registrar, now);
  if (out.code != 200) {
    reply.code = out.code;
    reply.reason = out.reason;
    reply.min_expires = out.min_expires;
    ctx->sip_of(reply.txn).reply(std::move(reply));
    return true;
  }
  st.bindings->set(req.user, out.bindings);
  if (!cached)
    st.bindings->cache_auth(req.user, auth);
  keep_time(self);
  reply.code = 200;
  reply.reason = "OK";
  reply.contacts = registrar::listing(out.bindings, now);
  if (out.upserts.empty() && out.removed.empty()) {
    ctx->sip_of(reply.txn).reply(std::move(reply)); // a fetch: nothing to persist
    return true;
  }
  write_group own;
  auto& g = group ? *group : own;
  for (auto& r : out.upserts)
    g.writes.put(r);
  for (auto& c : out.removed)
    g.writes.erase_binding(st.rec.domain, req.user, c);
  g.failed.txns.push_back(reply.txn);
  g.failed.numbers.push_back(req.user);
  auto* port = &ctx->sip_of(reply.txn);
  g.replies.emplace_back(port, std::move(reply));
  if (!group)
    commit_group(self, std::move(own));
  return true;
}

void commit_group(tenant_ptr self, write_group&& g) {
  if (g.replies.empty())
    return;
  // Acknowledged only once the commit returned: the writer thread hands the
  // 200s to the SIP thread itself.
  self->state.writes.submit_direct(
    self, *self->state.ctx->store, std::move(g.writes),
    [replies = std::move(g.replies)]() mutable {
      for (auto& [port, r] : replies)
        port->reply(std::move(r));
    },
    std::move(g.failed));
}

void write_failed(tenant_ptr self, binding_write_failed& f) {
  auto& st = self->state;
  st.writes.settled();
  auto now = st.ctx->now();
  for (auto& number : f.numbers) {
    log::error("binding write for ", number, "@", st.rec.domain, " failed: ", f.error);
    std::vector<storage::binding_record> live;
    for (auto& b : st.ctx->store->bindings(st.rec.domain, number))
      if (b.expires_at > now)
        live.push_back(std::move(b));
    st.bindings->set(number, live);
  }
  keep_time(self);
  for (auto txn : f.txns) {
    sip_reply reply;
    reply.txn = txn;
    reply.code = 500;
    reply.reason = "Storage Failure";
    st.ctx->sip_of(reply.txn).reply(std::move(reply));
  }
}

void tick(tenant_ptr self) {
  auto& st = self->state;
  st.ticking = false;
  auto gone = st.bindings->expire(st.ctx->now());
  if (!gone.empty()) {
    storage::batch b;
    for (auto& r : gone)
      b.erase_binding(r.domain, r.number, r.contact);
    st.writes.submit(self, *st.ctx->store, std::move(b), [](const std::string&) {});
  }
  keep_time(self);
}

std::vector<call_target> devices(tenant_ptr self, const std::string& number) {
  auto& st = self->state;
  auto now = st.ctx->now();
  std::vector<call_target> out;
  for (auto& b : st.bindings->get(number))
    if (b.expires_at > now)
      out.push_back(call_target{b.contact, {b.received_ip, b.received_port, b.transport, b.via_node}});
  return out;
}

void changed(tenant_ptr self, const std::string& number) {
  auto& st = self->state;
  auto rec = st.ctx->store->extension_auth(st.rec.domain, number);
  if (rec && rec->enabled) {
    st.bindings->forget_auth(number); // a new password, maybe
    return;
  }
  st.bindings->erase(number);
  keep_time(self);
}

admin_reply list(tenant_ptr self, const registrations_query& q) {
  auto& st = self->state;
  if (!q.number.empty() && !st.ctx->store->extension(st.rec.domain, q.number))
    return admin_not_found("no extension " + q.number);
  auto now = st.ctx->now();
  std::vector<std::string> numbers;
  if (q.number.empty())
    numbers = st.bindings->numbers();
  else
    numbers.push_back(q.number);
  admin_reply r;
  for (auto& n : numbers) {
    auto list = st.bindings->get(n);
    std::sort(list.begin(), list.end(),
              [](auto& a, auto& b) { return a.contact < b.contact; });
    for (auto& b : list) {
      if (b.expires_at <= now)
        continue;
      r.records.push_back(field_list{
        {"extension", b.number},
        {"contact", b.contact},
        {"ip", b.received_ip},
        {"port", std::to_string(b.received_port)},
        {"transport", b.transport},
        {"user_agent", b.user_agent},
        {"expires_in", std::to_string(b.expires_at - now)},
      });
    }
  }
  return r;
}

} // namespace pbx::registrations
