// message-summary (RFC 3842) on the SIP thread: initial SUBSCRIBEs in (489,
// a foreign mailbox's 403 and the first 401 answered here, statelessly; the
// rest goes to the mailbox's extension), libre's sipevent notifier for the
// accepted ones (refreshes, Expires: 0 and expiry are libre's), and
// unsolicited NOTIFYs out of any dialog.

#include "net/stack_impl.hpp"

#include <caf/send.hpp>

#include "engine/log.hpp"

namespace pbx::net {

struct mwi_sub {
  sip_stack::impl* stack = nullptr;
  std::uint64_t id = 0;
  std::string key; // in sub_keys
  caf::actor owner;
  struct sipnot* notifier = nullptr;
};

namespace {

constexpr const char* content_type = "application/simple-message-summary";
constexpr std::uint32_t expires_min = 60, expires_dfl = 3600, expires_max = 3600;

std::string subscribe_key(const struct sip_msg* msg) {
  return to_string(msg->callid) + ";" + to_string(msg->from.tag) + ";"
         + std::to_string(msg->cseq.num);
}

void forget(mwi_sub* sub) {
  auto& s = *sub->stack;
  s.subs.erase(sub->id);
  s.sub_keys.erase(sub->key);
  // A final NOTIFY in flight holds its own reference to the notifier.
  sub->notifier = static_cast<struct sipnot*>(mem_deref(sub->notifier));
  delete sub;
}

// libre ends a subscription: expired (also an unsubscribe, Expires: 0: libre
// refreshes it to zero seconds), or a NOTIFY refused or never answered. It
// has sent the terminating NOTIFY when the dialog still stood.
void close_handler(int err, const struct sip_msg* msg, void* arg) {
  auto* sub = static_cast<mwi_sub*>(arg);
  std::string reason = msg ? "failed " + std::to_string(msg->scode)
                           : err == ETIMEDOUT ? "timeout" : "failed";
  log::debug("subscription ", sub->id, " ended: ", reason);
  caf::anon_send(sub->owner, mwi_ended{sub->id, reason});
  forget(sub);
}

void accept(sip_stack::impl& s, const mwi_command& c) {
  auto i = s.txns.find(c.sub);
  if (i == s.txns.end())
    return; // answered by the sweep already
  auto t = i->second;
  s.txns.erase(i);
  struct sipevent_event se;
  auto* ev = sip_msg_hdr(t.msg, SIP_HDR_EVENT);
  auto* sub = new mwi_sub{&s, c.sub, subscribe_key(t.msg), c.owner, nullptr};
  auto user = uri_user(t.msg->to.uri.user);
  int err = ev ? sipevent_event_decode(&se, &ev->val) : EBADMSG;
  if (!err)
    err = sipevent_accept(&sub->notifier, s.evsock, t.msg, nullptr, &se, 200, "OK", expires_min,
                          expires_dfl, expires_max, user.c_str(), content_type, nullptr, nullptr,
                          false, close_handler, sub, nullptr);
  if (err) {
    log::warn("SUBSCRIBE ", c.sub, ": accept failed: ", strerror(err));
    reply_plain(s.sip, t.msg, 500, "Server Internal Error");
    mem_deref(t.msg);
    caf::anon_send(c.owner, mwi_ended{c.sub, "failed"});
    s.sub_keys.erase(sub->key);
    delete sub;
    return;
  }
  mem_deref(t.msg);
  s.subs.emplace(sub->id, sub);
  // The first NOTIFY (RFC 6665 4.2.1.2). With Expires: 0 libre holds it and
  // sends the body in the terminating NOTIFY instead: a fetch.
  err = sipevent_notifyf(sub->notifier, nullptr, SIPEVENT_ACTIVE, SIPEVENT_DEACTIVATED, 0, "%s",
                         c.body.c_str());
  if (err)
    log::warn("subscription ", sub->id, ": NOTIFY failed: ", strerror(err));
}

// An unsolicited NOTIFY in flight: its one-request dialog and Contact user.
struct notify_out {
  struct sip_dialog* dlg = nullptr;
  std::string user;
  std::string target;
};

int out_send_handler(enum sip_transp tp, const struct sa* src, const struct sa*,
                     struct mbuf* mb, void* arg) {
  auto* o = static_cast<notify_out*>(arg);
  struct sip_contact contact;
  sip_contact_set(&contact, o->user.c_str(), src, tp);
  return mbuf_printf(mb, "%H", sip_contact_print, &contact);
}

void out_resp_handler(int err, const struct sip_msg* msg, void* arg) {
  auto* o = static_cast<notify_out*>(arg);
  if (!err && msg && msg->scode < 200)
    return;
  if (err || (msg && msg->scode >= 300))
    log::debug("unsolicited NOTIFY to ", o->target, ": ",
               err ? std::string{strerror(err)} : std::to_string(msg->scode));
  mem_deref(o->dlg);
  delete o;
}

// Out of any dialog, along a Route to the binding's flow (like a B leg's
// INVITE), so a phone behind NAT is reached where it registered from.
void send_out(sip_stack::impl& s, const mwi_command& c) {
  std::string route = "sip:" + c.route.ip + ":" + std::to_string(c.route.port);
  if (c.route.transport == "tcp" || c.route.transport == "tls")
    route += ";transport=" + c.route.transport;
  const char* routev[] = {route.c_str()};
  auto* o = new notify_out;
  o->target = c.target;
  auto at = c.account.find('@');
  o->user = c.account.substr(4, at == std::string::npos ? std::string::npos : at - 4);
  int err = sip_dialog_alloc(&o->dlg, c.target.c_str(), c.account.c_str(), nullptr,
                             c.account.c_str(), routev, 1);
  if (!err)
    err = sip_drequestf(nullptr, s.sip, true, "NOTIFY", o->dlg, 0, nullptr, out_send_handler,
                        out_resp_handler, o,
                        "Event: message-summary\r\n"
                        // No subscription stands behind it (RFC 6665 wants the header).
                        "Subscription-State: terminated;reason=noresource\r\n"
                        "Content-Type: %s\r\n"
                        "Content-Length: %zu\r\n"
                        "\r\n"
                        "%s",
                        content_type, c.body.size(), c.body.c_str());
  if (err) {
    log::warn("unsolicited NOTIFY to ", c.target, " failed: ", strerror(err));
    mem_deref(o->dlg);
    delete o;
  }
}

} // namespace

void sip_stack::impl::on_subscribe(const struct sip_msg* msg) {
  auto* ev = sip_msg_hdr(msg, SIP_HDR_EVENT);
  struct sipevent_event se;
  if (!ev || sipevent_event_decode(&se, &ev->val) != 0
      || pl_strcasecmp(&se.event, "message-summary") != 0) {
    reply_plain(sip, msg, 489, "Bad Event", "Allow-Events: message-summary\r\n");
    return;
  }
  subscribe_request req;
  if (auto* bad = decode_subscribe(msg, req)) {
    reply_plain(sip, msg, 400, bad);
    return;
  }
  // One's own mailbox only: decided before any password is tried.
  if (uri_user(msg->from.uri.user) != req.user || lower_host(msg->from.uri.host) != req.domain) {
    reply_plain(sip, msg, 403, "Forbidden");
    return;
  }
  if (req.expires > 0 && req.expires < expires_min) {
    auto hdr = "Min-Expires: " + std::to_string(expires_min) + "\r\n";
    reply_plain(sip, msg, 423, "Interval Too Brief", hdr.c_str());
    return;
  }
  auto tenant = tenant_key(req.domain);
  if (!req.auth.present && cfg.make_nonce && route_of(tenant)) {
    auto hdr = challenge_header("WWW-Authenticate", req.domain, cfg.make_nonce(req.domain), false);
    reply_plain(sip, msg, 401, "Unauthorized", hdr.c_str());
    return;
  }
  auto key = subscribe_key(msg);
  if (auto k = sub_keys.find(key);
      k != sub_keys.end() && (txns.count(k->second) > 0 || subs.count(k->second) > 0))
    return; // a retransmission: the first copy is pending or accepted
  pending_txn t;
  t.msg = static_cast<struct sip_msg*>(mem_ref(const_cast<struct sip_msg*>(msg)));
  t.since = std::chrono::steady_clock::now();
  req.txn = ++next_txn;
  txns.emplace(req.txn, t);
  sub_keys[key] = req.txn;
  // The tenant hands it to the extension, activating it: only the tenant
  // sends to extension actors, so none is sent to while it passivates.
  hand_up(tenant, std::move(req));
}

int mwi_listen(sip_stack::impl& s) {
  // Initial SUBSCRIBEs never reach it (our listener answers them first).
  return sipevent_listen(&s.evsock, s.sip, 256, 16, nullptr, nullptr);
}

void mwi_close(sip_stack::impl& s) {
  // Each notifier says terminated;reason=deactivated as it goes.
  while (!s.subs.empty())
    forget(s.subs.begin()->second);
  s.sub_keys.clear();
  s.evsock = static_cast<struct sipevent_sock*>(mem_deref(s.evsock));
}

void mwi_sweep(sip_stack::impl& s) {
  for (auto i = s.sub_keys.begin(); i != s.sub_keys.end();) {
    if (s.txns.count(i->second) == 0 && s.subs.count(i->second) == 0)
      i = s.sub_keys.erase(i);
    else
      ++i;
  }
}

void on_mwi_command(sip_stack::impl& s, const mwi_command& c) {
  switch (c.what) {
    case mwi_command::op::accept:
      accept(s, c);
      return;
    case mwi_command::op::notify_out:
      send_out(s, c);
      return;
    case mwi_command::op::notify:
    case mwi_command::op::end:
      break;
  }
  auto i = s.subs.find(c.sub);
  if (i == s.subs.end())
    return; // it ended meanwhile (its owner hears or heard mwi_ended)
  auto* sub = i->second;
  if (c.what == mwi_command::op::end) {
    sipevent_notify(sub->notifier, nullptr, SIPEVENT_TERMINATED, SIPEVENT_NORESOURCE, 0);
    forget(sub);
    return;
  }
  if (int err = sipevent_notifyf(sub->notifier, nullptr, SIPEVENT_ACTIVE, SIPEVENT_DEACTIVATED, 0,
                                 "%s", c.body.c_str()))
    log::warn("subscription ", sub->id, ": NOTIFY failed: ", strerror(err));
}

} // namespace pbx::net
