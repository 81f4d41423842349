// INVITE dialogs through libre's sipsess: A legs (INVITEs we receive) and B
// legs (INVITEs we send to a callee's devices), each named by a leg id.
// Events go to the leg's owner (a call actor); commands come back through
// the command queue. No decision is made here.

#include "net/stack_impl.hpp"

#include <caf/send.hpp>

#include "actors/messages/call.hpp"
#include "engine/log.hpp"

namespace pbx::net {

struct call_leg {
  sip_stack::impl* stack = nullptr;
  std::uint64_t id = 0;
  struct sipsess* sess = nullptr;
  struct sip_msg* invite = nullptr; // A leg: the INVITE until a session takes it
  caf::actor owner;
  bool uas = false;
};

namespace {

std::string body_of(const struct sip_msg* msg) {
  if (!msg || !msg->mb || mbuf_get_left(msg->mb) == 0)
    return {};
  return std::string{reinterpret_cast<const char*>(mbuf_buf(msg->mb)), mbuf_get_left(msg->mb)};
}

struct mbuf* sdp_mbuf(const std::string& sdp) {
  if (sdp.empty())
    return nullptr;
  auto* mb = mbuf_alloc(sdp.size());
  mbuf_write_mem(mb, reinterpret_cast<const uint8_t*>(sdp.data()), sdp.size());
  mb->pos = 0;
  return mb;
}

void report(call_leg* l, leg_event_kind kind, std::uint16_t code, std::string sdp = {}) {
  if (l->owner)
    caf::anon_send(l->owner, leg_event{l->id, kind, code, std::move(sdp)});
}

void forget(call_leg* l) {
  l->stack->legs.erase(l->id);
  l->sess = static_cast<struct sipsess*>(mem_deref(l->sess));
  l->invite = static_cast<struct sip_msg*>(mem_deref(l->invite));
  delete l;
}

// -- session handlers (arg: call_leg*)

int offer_handler(struct mbuf**, const struct sip_msg*, void*) {
  return EPROTO; // re-INVITE relay comes with the calls issue's hold/resume
}

int answer_handler(const struct sip_msg*, void*) {
  return 0;
}

void progress_handler(const struct sip_msg* msg, void* arg) {
  auto* l = static_cast<call_leg*>(arg);
  report(l, leg_event_kind::progress, msg->scode, body_of(msg));
}

void estab_handler(const struct sip_msg* msg, void* arg) {
  auto* l = static_cast<call_leg*>(arg);
  if (!l->uas) // a B leg answered (and libre sent the ACK)
    report(l, leg_event_kind::answered, 200, body_of(msg));
}

void close_handler(int err, const struct sip_msg* msg, void* arg) {
  auto* l = static_cast<call_leg*>(arg);
  std::uint16_t code = msg && !msg->req ? msg->scode : 0;
  if (code == 0 && err == ETIMEDOUT)
    code = 408;
  report(l, leg_event_kind::closed, code);
  forget(l);
}

} // namespace

void sip_stack::impl::on_invite(const struct sip_msg* msg) {
  // 100 at once, statelessly: the decision takes a few actor hops.
  sip_replyf(sip, msg, 100, "Trying", "Content-Length: 0\r\n\r\n");
  auto* l = new call_leg;
  l->stack = this;
  l->id = ++next_leg;
  l->uas = true;
  l->invite = static_cast<struct sip_msg*>(mem_ref(const_cast<struct sip_msg*>(msg)));
  legs.emplace(l->id, l);
  call_offer offer;
  offer.leg = l->id;
  offer.domain = lower_host(msg->from.uri.host);
  offer.caller = uri_user(msg->from.uri.user);
  offer.caller_name = to_string(msg->from.dname);
  offer.callee = uri_user(msg->uri.user);
  decode_credentials(msg, SIP_HDR_PROXY_AUTHORIZATION, offer.auth);
  offer.sdp = body_of(msg);
  offer.max_forwards = pl_isset(&msg->maxfwd) ? pl_u32(&msg->maxfwd) : 70;
  auto ext = cfg.dir ? cfg.dir->lookup(extension_key(offer.domain, offer.caller)) : caf::actor{};
  caf::anon_send(ext ? ext : cfg.router, std::move(offer));
}

void sip_stack::impl::on_leg_command(const leg_command& c) {
  auto i = legs.find(c.leg);
  if (c.what == leg_command::op::dial) {
    auto* l = new call_leg;
    l->stack = this;
    l->id = c.leg;
    l->owner = c.owner;
    legs.emplace(l->id, l);
    // libre appends ";lr" to each route itself.
    std::string route = "sip:" + c.route.ip + ":" + std::to_string(c.route.port);
    if (c.route.transport == "tcp")
      route += ";transport=tcp";
    const char* routev[] = {route.c_str()};
    auto* desc = sdp_mbuf(c.sdp);
    int err = sipsess_connect(&l->sess, sess_sock, c.target.c_str(), c.from_name.c_str(),
                              c.from_uri.c_str(), "pbx", routev, 1, "application/sdp", desc,
                              nullptr, nullptr, false, offer_handler, answer_handler,
                              progress_handler, estab_handler, nullptr, nullptr,
                              close_handler, l, nullptr);
    mem_deref(desc);
    if (err) {
      log::warn("dial ", c.target, " failed: ", strerror(err));
      report(l, leg_event_kind::closed, 503);
      forget(l);
    }
    return;
  }
  if (i == legs.end())
    return; // the leg ended meanwhile
  auto* l = i->second;
  switch (c.what) {
    case leg_command::op::accept:
      l->owner = c.owner;
      break;
    case leg_command::op::challenge: {
      auto hdr = challenge_header("Proxy-Authenticate", c.realm, c.nonce, c.stale);
      // Stateless, like the REGISTER challenge: libre 1.1.0 keeps its timers
      // in one sorted list (O(n) inserts), so every 32 s server transaction
      // we avoid keeps the SIP thread fast. A lost 407 gets a new one.
      if (l->invite)
        reply_plain(sip, l->invite, 407, "Proxy Authentication Required", hdr.c_str());
      forget(l);
      break;
    }
    case leg_command::op::reject:
      if (l->sess)
        sipsess_reject(l->sess, c.code, c.reason.c_str(), nullptr);
      else if (l->invite)
        sip_treplyf(nullptr, nullptr, sip, l->invite, false, c.code, c.reason.c_str(),
                    "Content-Length: 0\r\n\r\n");
      forget(l);
      break;
    case leg_command::op::progress:
    case leg_command::op::answer: {
      auto* desc = sdp_mbuf(c.sdp);
      int err = 0;
      if (!l->sess && l->invite) {
        err = sipsess_accept(&l->sess, sess_sock, l->invite, c.code, c.reason.c_str(), "pbx",
                             "application/sdp", desc, nullptr, nullptr, false, offer_handler,
                             answer_handler, estab_handler, nullptr, nullptr, close_handler, l,
                             nullptr);
      } else if (l->sess && c.what == leg_command::op::progress) {
        err = sipsess_progress(l->sess, c.code, c.reason.c_str(), desc, nullptr);
      } else if (l->sess) {
        err = sipsess_answer(l->sess, c.code, c.reason.c_str(), desc, nullptr);
      }
      mem_deref(desc);
      if (err) {
        log::warn("leg ", l->id, ": response ", c.code, " failed: ", strerror(err));
        report(l, leg_event_kind::closed, 500);
        forget(l);
      }
      break;
    }
    case leg_command::op::hangup:
      if (l->sess && c.code == 200)
        sipsess_set_close_headers(l->sess,
                                  "Reason: SIP;cause=200;text=\"Call completed elsewhere\"\r\n");
      if (l->uas && l->sess && c.code >= 300)
        sipsess_reject(l->sess, c.code, c.reason.c_str(), nullptr);
      forget(l); // releasing the session sends CANCEL or BYE as its state needs
      break;
    case leg_command::op::dial:
      break;
  }
}

int calls_listen(sip_stack::impl& s) {
  return sipsess_listen(&s.sess_sock, s.sip, 256,
                        [](const struct sip_msg* msg, void* arg) {
                          static_cast<sip_stack::impl*>(arg)->on_invite(msg);
                        },
                        &s);
}

void calls_close(sip_stack::impl& s) {
  while (!s.legs.empty())
    forget(s.legs.begin()->second);
  if (s.sess_sock)
    sipsess_close_all(s.sess_sock);
  s.sess_sock = static_cast<struct sipsess_sock*>(mem_deref(s.sess_sock));
}

} // namespace pbx::net
