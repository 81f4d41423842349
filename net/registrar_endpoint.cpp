// REGISTER in (sip_msg -> register_request) and its answer out
// (sip_reply -> response); OPTIONS and methods we do not serve yet.

#include "net/stack_impl.hpp"

#include <algorithm>

#include <caf/send.hpp>

#include "actors/messages/security.hpp"
#include "engine/log.hpp"
#include "engine/metrics.hpp"

namespace pbx::net {

namespace {

constexpr const char* allow_hdr =
  "Allow: REGISTER, OPTIONS, INVITE, ACK, BYE, CANCEL, SUBSCRIBE\r\n";

} // namespace

std::string challenge_header(const char* name, const std::string& realm,
                             const std::string& nonce, bool stale) {
  return std::string{name} + ": Digest realm=\"" + realm + "\", nonce=\"" + nonce
         + "\", qop=\"auth\", algorithm=MD5" + (stale ? ", stale=true" : "") + "\r\n";
}

void reply_plain(struct sip* sip, const struct sip_msg* msg, uint16_t code,
                 const char* reason, const char* extra) {
  if (sip_replyf(sip, msg, code, reason, "%sContent-Length: 0\r\n\r\n", extra) == 0)
    count_register_reply(msg, code);
}

void count_register_reply(const struct sip_msg* msg, uint16_t code) {
  if (code >= 200 && pl_strcmp(&msg->met, "REGISTER") == 0)
    metrics::register_response(code);
}

namespace {

bool is_method(const struct sip_msg* msg, const char* m) {
  return pl_strcmp(&msg->met, m) == 0;
}

// A request that asks for something without credentials: the first leg of
// a challenge, OPTIONS, a scanner's probe. Requests inside a dialog and the
// ones that never carry credentials (ACK, CANCEL, BYE) do not count.
bool unauthenticated(const struct sip_msg* msg) {
  return !pl_isset(&msg->to.tag) && !is_method(msg, "ACK") && !is_method(msg, "CANCEL")
         && !is_method(msg, "BYE") && !sip_msg_hdr(msg, SIP_HDR_AUTHORIZATION)
         && !sip_msg_hdr(msg, SIP_HDR_PROXY_AUTHORIZATION);
}

} // namespace

// Scanners and floods end here, before any answer: false drops `msg`.
bool sip_stack::impl::admit(const struct sip_msg* msg) {
  auto* ua = sip_msg_hdr(msg, SIP_HDR_USER_AGENT);
  auto ip = sa_af(&msg->src) == AF_INET6 ? ip_addr::from_v6(&msg->src.u.in6.sin6_addr)
                                         : ip_addr::from_v4(&msg->src.u.in.sin_addr);
  if (ua && guard.ua_blocked(std::string_view{ua->val.p, ua->val.l})) {
    std::uint32_t dropped = 0;
    if (guard.ua_report_due(ip, now_ms(), dropped))
      caf::anon_send(cfg.security, ua_blocked{flow_of(msg), user_agent_of(msg), dropped});
    return false;
  }
  if (unauthenticated(msg)
      && guard.unauthenticated(ip, now_ms()) == ingress_guard::verdict::ban) {
    report_ban(msg->src, flow_of(msg).transport, "unauth_rate", guard.settings().unauth_rate,
               msg);
    return false;
  }
  return true;
}

bool sip_stack::impl::on_request(const struct sip_msg* msg) {
  // libre does not hand out its UDP socket: the first request brings it (the
  // start-up self-test sends one).
  if (!udp_helper && msg->tp == SIP_TRANSP_UDP && msg->sock)
    attach_udp(msg->sock);
  if (!admit(msg))
    return true;
  const char* reason = nullptr;
  int verdict = check_request(msg, &reason);
  // An ACK is never answered, not even a malformed one (RFC 3261 17.2.1).
  if (verdict < 0 || (verdict > 0 && is_method(msg, "ACK")))
    return true;
  if (verdict > 0) {
    std::string extra;
    if (verdict == 420) {
      // Every option tag we were asked for is one we do not support.
      sip_msg_hdr_apply(msg, true, SIP_HDR_REQUIRE,
                        [](const struct sip_hdr* h, const struct sip_msg*, void* arg) {
                          *static_cast<std::string*>(arg) +=
                            "Unsupported: " + to_string(h->val) + "\r\n";
                          return false;
                        },
                        &extra);
    }
    reply_plain(sip, msg, static_cast<uint16_t>(verdict), reason, extra.c_str());
    return true;
  }
  if (pl_strcmp(&msg->met, "REGISTER") == 0) {
    on_register(msg);
  } else if (pl_strcmp(&msg->met, "OPTIONS") == 0) {
    reply_plain(sip, msg, 200, "OK",
                "Allow: REGISTER, OPTIONS, INVITE, ACK, BYE, CANCEL, SUBSCRIBE\r\n"
                "Allow-Events: message-summary\r\nAccept: application/sdp\r\n");
  } else if (pl_strcmp(&msg->met, "SUBSCRIBE") == 0) {
    if (pl_isset(&msg->to.tag))
      return false; // a refresh or unsubscribe: libre's notifier (mwi_endpoint.cpp)
    on_subscribe(msg);
  } else if (pl_strcmp(&msg->met, "INVITE") == 0 || pl_strcmp(&msg->met, "ACK") == 0
             || pl_strcmp(&msg->met, "BYE") == 0 || pl_strcmp(&msg->met, "CANCEL") == 0
             || pl_strcmp(&msg->met, "INFO") == 0) {
    return false; // dialogs: libre's sipsess (call_legs.cpp) takes them
  } else {
    static const char* known[] = {"PRACK", "UPDATE", "NOTIFY", "REFER",
                                  "MESSAGE", "PUBLISH"};
    bool is_known = false;
    for (auto* m : known)
      is_known |= pl_strcmp(&msg->met, m) == 0;
    if (is_known)
      reply_plain(sip, msg, 405, "Method Not Allowed", allow_hdr);
    else
      reply_plain(sip, msg, 501, "Not Implemented", allow_hdr);
  }
  return true;
}

void sip_stack::impl::on_register(const struct sip_msg* msg) {
  register_request req;
  if (auto* bad = decode_register(msg, req)) {
    reply_plain(sip, msg, 400, bad);
    return;
  }
  auto key = tenant_key(req.domain);
  if (!req.auth.present && cfg.make_nonce && route_of(key)) {
    auto hdr = challenge_header("WWW-Authenticate", req.domain, cfg.make_nonce(req.domain), false);
    reply_plain(sip, msg, 401, "Unauthorized", hdr.c_str());
    return;
  }
  pending_txn t;
  t.msg = static_cast<struct sip_msg*>(mem_ref(const_cast<struct sip_msg*>(msg)));
  t.since = std::chrono::steady_clock::now();
  req.txn = ++next_txn;
  txns.emplace(req.txn, t);
  pending_registers.emplace_back(std::move(key), std::move(req));
  if (!tmr_isrunning(&registers_tmr))
    tmr_start(&registers_tmr, 0, [](void* arg) {
      static_cast<sip_stack::impl*>(arg)->flush_registers();
    }, this);
}

// The tenant holds the bindings and answers; the router activates a tenant
// that is not running (or answers 404).
void sip_stack::impl::flush_registers() {
  auto regs = std::move(pending_registers);
  pending_registers.clear();
  std::vector<std::pair<caf::actor, register_batch>> batches; // few tenants per pass
  for (auto& [key, req] : regs) {
    auto owner = route_of(key);
    if (!owner) {
      caf::anon_send(cfg.router, std::move(req));
      continue;
    }
    auto b = std::find_if(batches.begin(), batches.end(),
                          [&](auto& x) { return x.first == owner; });
    if (b == batches.end())
      b = batches.insert(batches.end(), {owner, register_batch{}});
    b->second.requests.push_back(std::move(req));
  }
  for (auto& [owner, b] : batches) {
    if (b.requests.size() == 1)
      caf::anon_send(owner, std::move(b.requests.front()));
    else
      caf::anon_send(owner, std::move(b));
  }
}

void sip_stack::impl::send_reply(const sip_reply& r) {
  auto i = txns.find(r.txn);
  if (i == txns.end())
    return; // answered by the sweep already
  auto t = i->second;
  txns.erase(i);
  struct mbuf* hdrs = mbuf_alloc(256);
  for (auto& c : r.contacts)
    mbuf_printf(hdrs, "Contact: <%s>%s;expires=%lld\r\n", c.uri.c_str(),
                c.params.c_str(), static_cast<long long>(c.expires));
  if (!r.challenge_realm.empty())
    mbuf_write_str(hdrs, challenge_header("WWW-Authenticate", r.challenge_realm,
                                          r.challenge_nonce, r.stale)
                           .c_str());
  if (r.min_expires > 0)
    mbuf_printf(hdrs, "Min-Expires: %u\r\n", r.min_expires);
  if (r.code == 405 || r.code == 501)
    mbuf_printf(hdrs, "%s", allow_hdr);
  mbuf_write_u8(hdrs, 0);
  auto reason = r.reason.empty() ? std::string{"OK"} : r.reason;
  int err = sip_replyf(sip, t.msg, r.code, reason.c_str(), "%sContent-Length: 0\r\n\r\n",
                       reinterpret_cast<const char*>(hdrs->buf));
  if (err)
    log::warn("reply ", r.code, " for transaction ", r.txn, " failed: ", strerror(err));
  else
    count_register_reply(t.msg, r.code); // SUBSCRIBE's answers come this way too
  mem_deref(hdrs);
  mem_deref(t.msg);
}

} // namespace pbx::net
