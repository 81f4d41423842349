#include "actors/mwi.hpp"

#include "actors/digest.hpp"
#include "actors/security.hpp"
#include "engine/context.hpp"
#include "engine/log.hpp"
#include "engine/sip_port.hpp"

namespace pbx::mwi {

std::string account_uri(std::string_view number, std::string_view domain) {
  return "sip:" + std::string{number} + "@" + std::string{domain};
}

std::string body(const std::string& account_uri, mwi_counts c) {
  // The urgent counts are always 0/0: messages have no urgency here.
  return std::string{"Messages-Waiting: "} + (c.new_count > 0 ? "yes" : "no") + "\r\n"
         + "Message-Account: " + account_uri + "\r\n" + "Voice-Message: "
         + std::to_string(c.new_count) + "/" + std::to_string(c.saved_count) + " (0/0)\r\n";
}

bool unsolicited(const storage::extension_record& rec) {
  return rec.mwi_unsolicited;
}

void on_subscribe(state& st, node_context* ctx, const storage::extension_record& rec,
                  const subscribe_request& req, const caf::actor& owner) {
  auto now = ctx->now();
  auto verdict = digest::check(req.auth, rec.number, rec.domain, rec.sip_ha1, "SUBSCRIBE",
                               ctx->nonce_secret, now, ctx->registrar.nonce_ttl);
  if (verdict == digest::verdict::forbidden)
    report_auth_failure(ctx, auth_service::sip_subscribe, req.source,
                        rec.number + "@" + rec.domain, req.user_agent, "wrong password");
  if (verdict == digest::verdict::ok && !rec.enabled)
    verdict = digest::verdict::forbidden;
  sip_reply reply;
  reply.txn = req.txn;
  if (digest::fill_failure(verdict, reply, rec.domain, ctx->nonce_secret, now)) {
    ctx->sip_of(reply.txn).reply(std::move(reply));
    return;
  }
  accept(st, req, account_uri(rec.number, rec.domain), owner, *ctx->sip);
}

void on_unknown_mailbox(node_context* ctx, const std::string& domain,
                        const subscribe_request& req) {
  auto now = ctx->now();
  auto v = digest::check(req.auth, req.user, domain, std::nullopt, "SUBSCRIBE",
                         ctx->nonce_secret, now, ctx->registrar.nonce_ttl);
  if (v == digest::verdict::forbidden)
    report_auth_failure(ctx, auth_service::sip_subscribe, req.source, req.user + "@" + domain,
                        req.user_agent, "unknown user");
  sip_reply reply;
  reply.txn = req.txn;
  digest::fill_failure(v, reply, domain, ctx->nonce_secret, now);
  ctx->sip_of(reply.txn).reply(std::move(reply));
}

void accept(state& st, const subscribe_request& req, const std::string& account,
            const caf::actor& owner, sip_port& port) {
  auto c = st.current();
  st.last = c;
  st.subs[req.txn] = subscription{req.source, req.user_agent};
  mwi_command cmd;
  cmd.what = mwi_command::op::accept;
  cmd.sub = req.txn;
  cmd.body = body(account, c);
  cmd.owner = owner;
  port.mwi(std::move(cmd));
}

bool ended(state& st, const mwi_ended& e) {
  return st.subs.erase(e.sub) > 0;
}

void counts_changed(state& st, mwi_counts c, const storage::extension_record& rec,
                    const std::vector<storage::binding_record>& bindings, std::int64_t now,
                    sip_port& port) {
  counts_changed(st, c, account_uri(rec.number, rec.domain), unsolicited(rec), bindings, now,
                 port);
}

void counts_changed(state& st, mwi_counts c, const std::string& account, bool unsolicited,
                    const std::vector<storage::binding_record>& bindings, std::int64_t now,
                    sip_port& port) {
  if (st.last && *st.last == c)
    return;
  st.last = c;
  auto text = body(account, c);
  for (auto& [id, s] : st.subs) {
    mwi_command cmd;
    cmd.what = mwi_command::op::notify;
    cmd.sub = id;
    cmd.body = text;
    port.mwi(std::move(cmd));
  }
  if (!unsolicited)
    return;
  for (auto& b : bindings) {
    if (b.expires_at <= now)
      continue;
    mwi_command cmd;
    cmd.what = mwi_command::op::notify_out;
    cmd.body = text;
    cmd.target = b.contact;
    cmd.account = account;
    cmd.route = flow_info{b.received_ip, b.received_port, b.transport, b.via_node};
    port.mwi(std::move(cmd));
  }
}

void end_all(state& st, sip_port& port) {
  for (auto& [id, s] : st.subs) {
    mwi_command cmd;
    cmd.what = mwi_command::op::end;
    cmd.sub = id;
    port.mwi(std::move(cmd));
  }
  st.subs.clear();
}

} // namespace pbx::mwi
