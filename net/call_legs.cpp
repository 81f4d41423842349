// INVITE dialogs: A legs (INVITEs we receive; our own UAS dialog on libre's
// sip_dialog and server transaction) and B legs (INVITEs we send to a
// callee's devices, through libre's sipsess), each named by a leg id.
// Events go to the leg's owner (the call, or its ringing actor while a B leg
// rings); commands come back through the command queue. No decision is made
// here, but a leg's phase (engine/leg_phase) is kept: a command the phase does
// not take is dropped, and a leg whose owner ends while the dialog lives is
// ended here (an unanswered A leg gets 503; otherwise CANCEL or BYE), so no
// dialog outlives its call. An owner is watched by a functor attached to it,
// not by an actor per leg: a held call is the node's memory.
//
// In-dialog requests of an answered leg (re-INVITE, INFO) are taken before
// sipsess sees them (our listener is registered ahead of sipsess_listen):
// libre 1.1.0's sipsess_offer_h must return the answer at once, but the answer
// comes from the other leg, a few actor hops and a round trip later. So the
// request gets a server transaction (retransmissions absorbed, CANCEL answered
// 200 but otherwise ignored: the relay runs to its end), a 100 for a re-INVITE,
// and waits for the owner's reply. Our own re-INVITE on a leg is a plain
// dialog request (sip_drequestf), not sipsess_modify: libre's modify never
// reports a failure, and a rejected offer must reach the other side. We ACK
// its 2xx ourselves and resend the 2xx we relay until its ACK comes.
// Glare: a re-INVITE on a leg where ours is pending gets 491; a second one
// while the first is unanswered gets 500 + Retry-After (RFC 3261 14.2).
// A re-INVITE without SDP gets 488: its offer would come in the other side's
// 200 and the answer in our ACK, which we cannot hold back here.
// A leg answered by a media endpoint has no other side: the endpoint answers
// its re-INVITEs itself (hold, resume, a new address, a session refresh)
// through the same 200 path, and the owner hears nothing of them.
// An A leg is not a sipsess: a session keeps its INVITE for the dialog's life.
// Ours keeps a copy only until the 2xx is ACKed (resending the 2xx meanwhile,
// as for relayed re-INVITEs), answers the caller's BYE and CANCEL itself, and
// sends its own BYE. Provisional and error responses go through libre's server
// transaction; the 2xx and the 200 to the caller's BYE go statelessly, and
// their requests' keys are kept for 64*T1 (answered_requests.hpp) instead of
// libre's transactions, which would keep ~4 kB each for that long.

#include "net/stack_impl.hpp"

#include <algorithm>
#include <list>
#include <memory>

#include <caf/send.hpp>

#include "actors/messages/call.hpp"
#include "engine/leg_phase.hpp"
#include "engine/log.hpp"
#include "net/max_forwards.hpp"

namespace pbx::net {

/// An in-dialog request of the peer waiting for the owner's reply.
struct pending_request {
  std::uint64_t txn = 0;
  struct sip_strans* st = nullptr;
  struct sip_msg* msg = nullptr;
};

struct info_out {
  call_leg* leg;
  std::uint64_t txn;
  struct sip_request* req = nullptr; // A leg: ours to cancel if the leg ends first
};

/// What in-dialog requests (re-INVITE, INFO, either way) need of a leg: made
/// on the first one. Most held calls never see one, and a held call is the
/// node's memory (this is ~60% of a leg).
struct in_dialog {
  std::uint64_t next_txn = 0;
  pending_request reinvite_in;
  std::vector<pending_request> infos_in;
  // Our 2xx to the peer's re-INVITE (ok_mb), or an A leg's first 2xx (sent
  // statelessly again from ok_tail), resent over UDP until its ACK.
  struct mbuf* ok_mb = nullptr;
  std::string ok_tail;
  std::uint32_t ok_cseq = 0;
  struct sa ok_dst {};
  void* ok_sock = nullptr;
  struct sip_msg* ok_msg = nullptr; // keeps ok_sock alive; set while a 2xx waits for its ACK
  std::uint32_t ok_wait = 0;
  std::uint64_t ok_deadline = 0;
  struct tmr ok_tmr {};
  // Our re-INVITE on this leg.
  struct sip_request* out_req = nullptr;
  std::uint64_t out_txn = 0;
  struct tmr out_tmr {};
  std::uint32_t acked_cseq = 0; // our last re-INVITE whose 2xx we ACKed
  std::list<info_out> infos_out; // our INFOs (libre holds pointers into this list)
};

struct call_leg {
  sip_stack::impl* stack = nullptr;
  std::uint64_t id = 0;
  struct sipsess* sess = nullptr;    // B leg: libre's session
  struct sip_msg* invite = nullptr; // A leg: the INVITE, until its 2xx is ACKed
  // A leg: our own UAS dialog, made at the first response, and the INVITE's
  // server transaction until its final response. Not a sipsess: that keeps
  // the INVITE for the dialog's life, and a held call is the node's memory.
  struct sip_dialog* dlg = nullptr;
  struct sip_strans* st = nullptr;
  bool peer_bye = false; // A leg: the caller's BYE ended it (no BYE of ours)
  caf::actor owner;
  leg_phase now = leg_phase::offered;
  bool uas = false;
  bool answered = false;  // 2xx sent (A) or received (B): in-dialog requests are relayed
  bool cancelled = false; // A leg: CANCEL before a session existed (487 sent)
  bool media = false;     // A leg answered by a media endpoint (net/media_legs.cpp)
  std::chrono::steady_clock::time_point since = std::chrono::steady_clock::now();
  std::string callid;     // stack->dialogs' key views it: set once
  struct sa flow {};      // the peer's address as we reach it (TLS: its connection)
  enum sip_transp flow_tp = SIP_TRANSP_NONE;
  bool proxied = false;   // the dialog has a route set (Record-Route)
  std::unique_ptr<in_dialog> rq;
};

namespace {

std::string_view pl_view(const struct pl& p) {
  return {p.p, p.l};
}

in_dialog& rq(call_leg* l) {
  if (!l->rq)
    l->rq = std::make_unique<in_dialog>();
  return *l->rq;
}

// Reads without making one.
const in_dialog& peek(const call_leg* l) {
  static const in_dialog none;
  return l->rq ? *l->rq : none;
}

struct mbuf* sdp_mbuf(const std::string& sdp) {
  if (sdp.empty())
    return nullptr;
  auto* mb = mbuf_alloc(sdp.size());
  mbuf_write_mem(mb, reinterpret_cast<const uint8_t*>(sdp.data()), sdp.size());
  mb->pos = 0;
  return mb;
}

void send_event(call_leg* l, leg_event e) {
  e.leg = l->id;
  l->now = next_phase(l->now, e.kind, e.code);
  if (l->owner)
    caf::anon_send(l->owner, std::move(e));
}

void report(call_leg* l, leg_event_kind kind, std::uint16_t code, std::string sdp = {}) {
  leg_event e;
  e.kind = kind;
  e.code = code;
  e.sdp = std::move(sdp);
  send_event(l, std::move(e));
}

// `a` hears the leg's events from now on. When it ends, the functor tells this
// thread, which ends the leg unless it has another owner by then. It runs on
// the ending actor's thread; the stack outlives the actor system (main.cpp),
// and a post after stop is dropped.
void take_owner(call_leg* l, const caf::actor& a) {
  if (!a || a == l->owner)
    return;
  l->owner = a;
  a->attach_functor([s = l->stack, leg = l->id, gone = a.address()](const caf::error&) {
    leg_command c;
    c.what = leg_command::op::owner_gone;
    c.leg = leg;
    c.gone = gone;
    s->post(std::move(c));
  });
}

void index_dialog(call_leg* l, std::string callid) {
  l->callid = std::move(callid);
  l->stack->dialogs.emplace(l->callid, l);
}

void stop_ok(call_leg* l) {
  if (!l->rq)
    return;
  auto& r = *l->rq;
  tmr_cancel(&r.ok_tmr);
  r.ok_mb = static_cast<struct mbuf*>(mem_deref(r.ok_mb));
  r.ok_msg = static_cast<struct sip_msg*>(mem_deref(r.ok_msg));
  std::string{}.swap(r.ok_tail);
  r.ok_sock = nullptr;
}

// A final response on a pending request's server transaction.
void finish(sip_stack::impl& s, pending_request& p, std::uint16_t code, const char* reason,
            const char* extra = "") {
  sip_treplyf(&p.st, nullptr, s.sip, p.msg, false, code, reason,
              "%sContent-Length: 0\r\n\r\n", extra);
  p.msg = static_cast<struct sip_msg*>(mem_deref(p.msg));
  p.st = nullptr;
}

void end_uas(call_leg* l, const char* bye_headers);

void forget(call_leg* l, const char* bye_headers = "") {
  auto& s = *l->stack;
  if (l->media) // its endpoint ends first: record_done, then hangup
    media_leg_gone(s, l->id);
  s.legs.erase(l->id);
  auto range = s.dialogs.equal_range(l->callid);
  for (auto i = range.first; i != range.second; ++i)
    if (i->second == l) {
      s.dialogs.erase(i);
      break;
    }
  if (l->rq) {
    auto& r = *l->rq;
    // Requests still waiting for the other side end with the dialog.
    if (r.reinvite_in.msg)
      finish(s, r.reinvite_in, 487, "Request Terminated");
    for (auto& p : r.infos_in)
      finish(s, p, 487, "Request Terminated");
    stop_ok(l);
    tmr_cancel(&r.out_tmr);
    // Releasing a pending request cancels it and drops its handler.
    r.out_req = static_cast<struct sip_request*>(mem_deref(r.out_req));
    for (auto& o : r.infos_out)
      mem_deref(o.req);
  }
  if (l->uas)
    end_uas(l, bye_headers);
  // Terminates the session at once: libre calls no INFO handler after that.
  l->sess = static_cast<struct sipsess*>(mem_deref(l->sess));
  l->invite = static_cast<struct sip_msg*>(mem_deref(l->invite));
  delete l;
}

struct sip_dialog* dialog_of(call_leg* l) {
  if (l->uas)
    return l->dlg;
  return l->sess ? sipsess_dialog(l->sess) : nullptr;
}

// An A leg's final non-2xx response on its INVITE's server transaction, if
// the INVITE has had none; false if it had.
bool final_reply(call_leg* l, std::uint16_t code, const char* reason) {
  if (!l->st)
    return false;
  sip_treply(&l->st, l->stack->sip, l->invite, code, reason);
  l->st = nullptr; // libre's from here: it resends the response until the ACK
  return true;
}

// An A leg that ends: a final response if it had none (486, as libre's
// sipsess gives), else a BYE unless the caller sent one.
void end_uas(call_leg* l, const char* bye_headers) {
  auto& s = *l->stack;
  if (!final_reply(l, 486, "Busy Here") && l->answered && l->dlg && !l->peer_bye) {
    // No handle kept: libre keeps the request until its response.
    int err = sip_drequestf(nullptr, s.sip, true, "BYE", l->dlg, 0, nullptr, nullptr, nullptr,
                            nullptr, "%sContent-Length: 0\r\n\r\n", bye_headers);
    if (err)
      log::warn("leg ", l->id, ": BYE failed: ", strerror(err));
  }
  l->dlg = static_cast<struct sip_dialog*>(mem_deref(l->dlg));
}

// The in-dialog state made for the first 2xx's ACK wait goes once nothing
// else has used it.
void trim_rq(call_leg* l) {
  if (!l->rq)
    return;
  auto& r = *l->rq;
  if (!r.reinvite_in.msg && r.infos_in.empty() && !r.ok_msg && !r.out_req && r.infos_out.empty()
      && r.acked_cseq == 0 && r.next_txn == 0 && r.out_txn == 0)
    l->rq.reset();
}

call_leg* find_dialog(sip_stack::impl& s, const struct sip_msg* msg) {
  auto range = s.dialogs.equal_range(pl_view(msg->callid));
  for (auto i = range.first; i != range.second; ++i)
    if (auto* dlg = dialog_of(i->second); dlg && sip_dialog_cmp(dlg, msg))
      return i->second;
  return nullptr;
}

// Phones do not listen for TLS, yet their Contact names a listening port:
// in-dialog requests to a TLS peer must go over the connection it uses. The
// dialog's remote target, just set from `msg`'s Contact, becomes that
// connection's address (what Asterisk's rewrite_contact does; peers match
// in-dialog requests by Call-ID and tags). Not with a Record-Route: the proxy
// it names reaches the phone itself.
void pin_to_flow(call_leg* l, const struct sip_msg* msg) {
  auto* dlg = dialog_of(l);
  if (!dlg || l->proxied || l->flow_tp != SIP_TRANSP_TLS || !sa_isset(&l->flow, SA_ALL))
    return;
  auto* contact = sip_msg_hdr(msg, SIP_HDR_CONTACT);
  struct sip_addr addr;
  if (!contact || sip_addr_decode(&addr, &contact->val) != 0)
    return;
  // libre changes a dialog's target only from a message's Contact.
  auto* mb = mbuf_alloc(256);
  int err = mbuf_printf(mb, "OPTIONS sip:pbx SIP/2.0\r\nContact: <sip:%r%s%J;transport=tls>\r\n"
                            "Content-Length: 0\r\n\r\n",
                        &addr.uri.user, pl_isset(&addr.uri.user) ? "@" : "", &l->flow);
  mb->pos = 0;
  struct sip_msg* fake = nullptr;
  if (!err)
    err = sip_msg_decode(&fake, mb);
  if (!err)
    err = sip_dialog_update(dlg, fake);
  if (err)
    log::warn("leg ", l->id, ": cannot aim the dialog at its TLS connection: ", strerror(err));
  mem_deref(fake);
  mem_deref(mb);
}

int contact_handler(enum sip_transp tp, const struct sa* src, const struct sa*,
                    struct mbuf* mb, void*) {
  return mbuf_printf(mb, "Contact: <sip:pbx@%J%s>\r\n", src, sip_transp_param(tp));
}

void send_ack(call_leg* l, std::uint32_t cseq) {
  sip_drequestf(nullptr, l->stack->sip, false, "ACK", dialog_of(l), cseq, nullptr,
                contact_handler, nullptr, nullptr, "Content-Length: 0\r\n\r\n");
}

// -- the peer's in-dialog requests

void reply_reinvite(call_leg* l, const leg_command& c);

void on_reinvite(call_leg* l, const struct sip_msg* msg) {
  auto& s = *l->stack;
  if (peek(l).reinvite_in.msg || peek(l).ok_msg) {
    // RFC 3261 14.2: our answer to its previous INVITE is not final (or not ACKed) yet.
    sip_treplyf(nullptr, nullptr, s.sip, msg, false, 500, "Server Internal Error",
                "Retry-After: %u\r\nContent-Length: 0\r\n\r\n", 1 + rand_u16() % 5);
    return;
  }
  if (peek(l).out_req) { // glare: our re-INVITE on this leg is pending
    sip_treply(nullptr, s.sip, msg, 491, "Request Pending");
    return;
  }
  if (mbuf_get_left(msg->mb) == 0) {
    sip_treply(nullptr, s.sip, msg, 488, "Not Acceptable Here");
    return;
  }
  if (!msg_ctype_cmp(&msg->ctyp, "application", "sdp")) {
    sip_treplyf(nullptr, nullptr, s.sip, msg, false, 415, "Unsupported Media Type",
                "Accept: application/sdp\r\nContent-Length: 0\r\n\r\n");
    return;
  }
  auto& r = rq(l);
  auto& p = r.reinvite_in;
  if (sip_strans_alloc(&p.st, s.sip, msg, nullptr, nullptr) != 0) {
    ::sip_reply(s.sip, msg, 500, "Server Internal Error");
    return;
  }
  p.msg = static_cast<struct sip_msg*>(mem_ref(const_cast<struct sip_msg*>(msg)));
  p.txn = ++r.next_txn;
  sip_treplyf(&p.st, nullptr, s.sip, msg, false, 100, "Trying", "Content-Length: 0\r\n\r\n");
  if (l->media) {
    leg_command c;
    c.txn = p.txn;
    if (media_reinvite(s, l->id, body_of(msg), c.code, c.reason, c.sdp)) {
      reply_reinvite(l, c);
      return;
    }
  }
  leg_event e;
  e.kind = leg_event_kind::reinvite;
  e.txn = p.txn;
  e.sdp = body_of(msg);
  send_event(l, std::move(e));
}

void on_info(call_leg* l, const struct sip_msg* msg) {
  auto& s = *l->stack;
  auto* ctype = sip_msg_hdr(msg, SIP_HDR_CONTENT_TYPE);
  if (mbuf_get_left(msg->mb) == 0 || !ctype) {
    sip_treply(nullptr, s.sip, msg, 200, "OK"); // nothing to pass on
    return;
  }
  // DTMF on a leg the node's media plane answered is the endpoint's digit.
  if (l->media && media_info(s, l->id, to_string(ctype->val), body_of(msg))) {
    sip_treply(nullptr, s.sip, msg, 200, "OK");
    return;
  }
  pending_request p;
  if (sip_strans_alloc(&p.st, s.sip, msg, nullptr, nullptr) != 0) {
    ::sip_reply(s.sip, msg, 500, "Server Internal Error");
    return;
  }
  p.msg = static_cast<struct sip_msg*>(mem_ref(const_cast<struct sip_msg*>(msg)));
  auto& r = rq(l);
  p.txn = ++r.next_txn;
  r.infos_in.push_back(p);
  leg_event e;
  e.kind = leg_event_kind::info;
  e.txn = p.txn;
  e.content_type = to_string(ctype->val);
  e.body = body_of(msg);
  send_event(l, std::move(e));
}

// CANCEL of an A leg's INVITE before any session took it (sipsess only knows
// the INVITE once we answer it with 180/183/200): 200, 487 and the call ends.
bool on_early_cancel(sip_stack::impl& s, const struct sip_msg* msg) {
  auto range = s.dialogs.equal_range(pl_view(msg->callid));
  for (auto i = range.first; i != range.second; ++i) {
    auto* l = i->second;
    if (!l->uas || l->dlg || !l->invite || pl_cmp(&l->invite->via.branch, &msg->via.branch) != 0
        || pl_cmp(&l->invite->from.tag, &msg->from.tag) != 0)
      continue;
    ::sip_reply(s.sip, msg, 200, "OK");
    sip_treplyf(nullptr, nullptr, s.sip, l->invite, false, 487, "Request Terminated",
                "Content-Length: 0\r\n\r\n");
    l->invite = static_cast<struct sip_msg*>(mem_deref(l->invite));
    l->cancelled = true;
    if (l->owner) { // else the owner hears of it when it takes the leg
      report(l, leg_event_kind::closed, 487);
      forget(l);
    }
    return true;
  }
  return false;
}

// The caller's BYE on an A leg (early or confirmed dialog).
void on_bye(call_leg* l, const struct sip_msg* msg) {
  auto& s = *l->stack;
  if (!sip_dialog_rseq_valid(l->dlg, msg)) {
    sip_treply(nullptr, s.sip, msg, 500, "Server Internal Error");
    return;
  }
  // Statelessly: a retransmission is answered again from `answered`.
  ::sip_reply(s.sip, msg, 200, "OK");
  if (msg->tp == SIP_TRANSP_UDP) // Timer J is 0 on a reliable transport
    s.answered.add("BYE", pl_view(msg->via.branch), pl_view(msg->via.sentby), tmr_jiffies());
  l->peer_bye = true;
  final_reply(l, 487, "Request Terminated"); // an early dialog: RFC 3261 15.1.2
  report(l, leg_event_kind::closed, l->answered ? 0 : 487);
  forget(l);
}

bool dialog_request_handler(const struct sip_msg* msg, void* arg) {
  auto& s = *static_cast<sip_stack::impl*>(arg);
  auto branch = pl_view(msg->via.branch), sent_by = pl_view(msg->via.sentby);
  if (pl_strcmp(&msg->met, "CANCEL") == 0) {
    if (s.answered.contains("INVITE", branch, sent_by, tmr_jiffies())) {
      ::sip_reply(s.sip, msg, 200, "OK"); // too late: the INVITE got its 2xx
      return true;
    }
    return on_early_cancel(s, msg);
  }
  if (pl_strcmp(&msg->met, "BYE") == 0
      && s.answered.contains("BYE", branch, sent_by, tmr_jiffies())) {
    ::sip_reply(s.sip, msg, 200, "OK"); // a retransmission: the same 200 again
    return true;
  }
  bool invite = pl_strcmp(&msg->met, "INVITE") == 0;
  bool info = !invite && pl_strcmp(&msg->met, "INFO") == 0;
  bool ack = !invite && !info && pl_strcmp(&msg->met, "ACK") == 0;
  bool bye = !invite && !info && !ack && pl_strcmp(&msg->met, "BYE") == 0;
  if (!(invite || info || ack || bye) || !pl_isset(&msg->to.tag))
    return false;
  auto* l = find_dialog(s, msg);
  if (bye) {
    if (!l || !l->uas)
      return false; // B legs are sipsess's; unknown dialogs get its 481
    on_bye(l, msg);
    return true;
  }
  // Unknown dialogs (481) and legs not answered yet are sipsess's.
  if (!l || !l->answered)
    return false;
  if (ack) {
    if (!peek(l).ok_msg || msg->cseq.num != peek(l).ok_cseq)
      return l->uas; // an A leg's is ours (TCP: no 2xx resent); a B leg's is sipsess's
    stop_ok(l);
    trim_rq(l);
    return true;
  }
  if (!sip_dialog_rseq_valid(dialog_of(l), msg)) {
    sip_treply(nullptr, s.sip, msg, 500, "Server Internal Error");
    return true;
  }
  if (invite)
    on_reinvite(l, msg);
  else
    on_info(l, msg);
  return true;
}

// A retransmitted 2xx to one of our re-INVITEs: our ACK got lost.
bool dialog_response_handler(const struct sip_msg* msg, void* arg) {
  if (msg->scode < 200 || msg->scode > 299 || pl_strcmp(&msg->cseq.met, "INVITE") != 0)
    return false;
  auto& s = *static_cast<sip_stack::impl*>(arg);
  auto* l = find_dialog(s, msg);
  if (!l || peek(l).acked_cseq == 0 || peek(l).acked_cseq != msg->cseq.num)
    return false;
  send_ack(l, msg->cseq.num);
  return true;
}

// RFC 3261 12.2.1.2: after a 481 or 408 the dialog is gone; like sipsess does
// for its own requests, the leg closes (a BYE goes out for good measure).
// Also used when the peer never ACKs a 2xx we relayed.
void close_dead(call_leg* l, std::uint16_t code) {
  report(l, leg_event_kind::closed, code);
  forget(l);
}

void ok_retransmit(void* arg) {
  auto* l = static_cast<call_leg*>(arg);
  auto& r = *l->rq; // its timer runs only while there is one
  if (tmr_jiffies() >= r.ok_deadline) {
    // RFC 3261 13.3.1.4: no ACK in 64*T1 ends the session (as libre does for
    // the first 2xx).
    log::warn("leg ", l->id, ": no ACK for the relayed 2xx, hanging up");
    close_dead(l, 408);
    return;
  }
  if (r.ok_mb)
    sip_send(l->stack->sip, r.ok_sock, SIP_TRANSP_UDP, &r.ok_dst, r.ok_mb);
  else
    sip_replyf(l->stack->sip, r.ok_msg, 200, "OK", "%s", r.ok_tail.c_str());
  r.ok_wait = std::min<std::uint32_t>(r.ok_wait * 2, SIP_T2);
  tmr_start(&r.ok_tmr, r.ok_wait, ok_retransmit, l);
}

// -- our requests on a leg

void reinvite_result(call_leg* l, std::uint16_t code, std::string reason, std::string sdp) {
  leg_event e;
  e.kind = leg_event_kind::reinvite_result;
  e.code = code;
  e.reason = std::move(reason);
  e.sdp = std::move(sdp);
  e.txn = peek(l).out_txn;
  send_event(l, std::move(e));
}

void reinvite_response_handler(int err, const struct sip_msg* msg, void* arg) {
  auto* l = static_cast<call_leg*>(arg);
  if (!err && msg && msg->scode < 200)
    return;
  tmr_cancel(&rq(l).out_tmr); // libre has cleared out_req already
  if (err || !msg) {
    if (err == ETIMEDOUT)
      reinvite_result(l, 408, "Request Timeout", {});
    else
      reinvite_result(l, 500, "Server Internal Error", {});
    if (err == ETIMEDOUT)
      close_dead(l, 408);
    return;
  }
  if (msg->scode < 300) {
    sip_dialog_update(dialog_of(l), msg); // target refresh
    pin_to_flow(l, msg);
    send_ack(l, msg->cseq.num);
    rq(l).acked_cseq = msg->cseq.num;
    reinvite_result(l, 200, "OK", body_of(msg));
    return;
  }
  reinvite_result(l, msg->scode, to_string(msg->reason), {}); // libre ACKed it
  if (msg->scode == 481 || msg->scode == 408)
    close_dead(l, msg->scode);
}

// Without a final response (only 1xx) an INVITE client transaction never ends.
void reinvite_timeout(void* arg) {
  auto* l = static_cast<call_leg*>(arg);
  auto& r = *l->rq; // its timer runs only while there is one
  r.out_req = static_cast<struct sip_request*>(mem_deref(r.out_req));
  reinvite_result(l, 408, "Request Timeout", {});
  close_dead(l, 408);
}

void send_reinvite(call_leg* l, const leg_command& c) {
  auto& r = rq(l);
  r.out_txn = c.txn;
  if (!l->answered || !dialog_of(l)) {
    reinvite_result(l, 500, "Server Internal Error", {});
    return;
  }
  // RFC 3261 14.1: one INVITE transaction at a time in either direction.
  if (r.out_req || r.reinvite_in.msg) {
    reinvite_result(l, 491, "Request Pending", {});
    return;
  }
  int err = sip_drequestf(&r.out_req, l->stack->sip, true, "INVITE", dialog_of(l), 0, nullptr,
                          contact_handler, reinvite_response_handler, l,
                          "Content-Type: application/sdp\r\nContent-Length: %zu\r\n\r\n%b",
                          c.sdp.size(), c.sdp.data(), c.sdp.size());
  if (err) {
    log::warn("leg ", l->id, ": re-INVITE failed: ", strerror(err));
    reinvite_result(l, 500, "Server Internal Error", {});
    return;
  }
  tmr_start(&r.out_tmr, 64 * SIP_T1, reinvite_timeout, l);
}

void reply_reinvite(call_leg* l, const leg_command& c) {
  auto& s = *l->stack;
  if (!l->rq)
    return;
  auto& r = *l->rq;
  auto& p = r.reinvite_in;
  if (!p.msg || p.txn != c.txn)
    return;
  if (c.code < 200 || c.code >= 300) {
    finish(s, p, c.code, c.reason.empty() ? "Error" : c.reason.c_str(),
           c.code == 500 ? "Retry-After: 2\r\n" : "");
    return;
  }
  sip_dialog_update(dialog_of(l), p.msg); // target refresh
  pin_to_flow(l, p.msg);
  struct mbuf* mb = nullptr;
  int err = sip_treplyf(&p.st, &mb, s.sip, p.msg, false, 200, "OK",
                        "Contact: <sip:pbx@%J%s>\r\n%s"
                        "Content-Length: %zu\r\n\r\n%b",
                        &p.msg->dst, sip_transp_param(p.msg->tp),
                        c.sdp.empty() ? "" : "Content-Type: application/sdp\r\n", c.sdp.size(),
                        c.sdp.data(), c.sdp.size());
  if (!err && p.msg->tp == SIP_TRANSP_UDP) {
    // libre's transaction stops at a 2xx: resending it until the ACK is ours.
    struct pl rport;
    sip_reply_addr(&r.ok_dst, p.msg, msg_param_exists(&p.msg->via.params, "rport", &rport) == 0);
    r.ok_mb = mb;
    r.ok_cseq = p.msg->cseq.num;
    r.ok_sock = p.msg->sock;
    r.ok_msg = p.msg;
    r.ok_wait = SIP_T1;
    r.ok_deadline = tmr_jiffies() + 64 * SIP_T1;
    tmr_start(&r.ok_tmr, SIP_T1, ok_retransmit, l);
  } else {
    mem_deref(mb);
    mem_deref(p.msg);
  }
  p = {};
}

// On a B leg a timeout, 408 or 481 never gets here: sipsess closes the
// session instead. On an A leg they end the dialog here (RFC 3261 12.2.1.2).
void info_response_handler(int err, const struct sip_msg* msg, void* arg) {
  if (msg && msg->scode < 200)
    return;
  auto* o = static_cast<info_out*>(arg);
  auto* l = o->leg;
  bool dead = l->uas && (msg ? msg->scode == 408 || msg->scode == 481 : err == ETIMEDOUT);
  leg_event e;
  e.kind = leg_event_kind::info_result;
  e.txn = o->txn;
  e.code = msg ? msg->scode : 500;
  e.reason = msg ? to_string(msg->reason) : "Server Internal Error";
  l->rq->infos_out.remove_if([o](const info_out& x) { return &x == o; }); // made by send_info
  send_event(l, std::move(e));
  if (dead)
    close_dead(l, 408);
}

void send_info(call_leg* l, const leg_command& c) {
  auto fail = [&] {
    leg_event e;
    e.kind = leg_event_kind::info_result;
    e.txn = c.txn;
    e.code = 500;
    e.reason = "Server Internal Error";
    send_event(l, std::move(e));
  };
  auto* body = sdp_mbuf(c.body);
  if (!l->answered || !dialog_of(l) || !body || c.content_type.empty()) {
    mem_deref(body);
    fail();
    return;
  }
  auto& r = rq(l);
  r.infos_out.push_back(info_out{l, c.txn});
  auto& o = r.infos_out.back();
  int err = l->uas ? sip_drequestf(&o.req, l->stack->sip, true, "INFO", l->dlg, 0, nullptr,
                                   nullptr, info_response_handler, &o,
                                   "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n%b",
                                   c.content_type.c_str(), mbuf_get_left(body), mbuf_buf(body),
                                   mbuf_get_left(body))
                   : sipsess_info(l->sess, c.content_type.c_str(), body, info_response_handler,
                                  &o);
  mem_deref(body);
  if (err) {
    r.infos_out.pop_back();
    log::warn("leg ", l->id, ": INFO failed: ", strerror(err));
    fail();
  }
}

void reply_info(call_leg* l, const leg_command& c) {
  if (!l->rq)
    return;
  auto& v = l->rq->infos_in;
  auto i = std::find_if(v.begin(), v.end(),
                        [&](const pending_request& p) { return p.txn == c.txn; });
  if (i == v.end())
    return;
  finish(*l->stack, *i, c.code, c.reason.empty() ? "OK" : c.reason.c_str());
  v.erase(i);
}

// -- B legs' session handlers (arg: call_leg*)

int offer_handler(struct mbuf**, const struct sip_msg*, void*) {
  // Offers of answered legs never get here (see the top); earlier ones are refused.
  return EPROTO;
}

// A B leg's 2xx (our INVITE always carries the offer). libre ACKs after this.
int answer_handler(const struct sip_msg* msg, void* arg) {
  auto* l = static_cast<call_leg*>(arg);
  l->proxied = sip_msg_hdr(msg, SIP_HDR_RECORD_ROUTE) != nullptr;
  pin_to_flow(l, msg); // before the ACK goes out
  return 0;
}

void progress_handler(const struct sip_msg* msg, void* arg) {
  auto* l = static_cast<call_leg*>(arg);
  report(l, leg_event_kind::progress, msg->scode, body_of(msg));
}

// The B leg answered (and libre sent the ACK).
void estab_handler(const struct sip_msg* msg, void* arg) {
  auto* l = static_cast<call_leg*>(arg);
  l->answered = true;
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

// -- A legs: our own UAS dialog

void uas_cancelled(void* arg) {
  auto* l = static_cast<call_leg*>(arg);
  final_reply(l, 487, "Request Terminated"); // libre answered the CANCEL 200
  report(l, leg_event_kind::closed, 487);
  forget(l);
}

// What follows the headers libre copies into a 1xx or 2xx of an A leg: the
// Record-Route set (sip_replyf does not copy it), our Contact, the SDP.
std::string response_tail(const struct sip_msg* m, struct mbuf* desc) {
  std::string rr;
  sip_msg_hdr_apply(m, true, SIP_HDR_RECORD_ROUTE,
                    [](const struct sip_hdr* h, const struct sip_msg*, void* arg) {
                      auto& out = *static_cast<std::string*>(arg);
                      out.append("Record-Route: ").append(h->val.p, h->val.l).append("\r\n");
                      return false;
                    },
                    &rr);
  char* tail = nullptr;
  re_sdprintf(&tail, "%sContact: <sip:pbx@%J%s>\r\n%sContent-Length: %zu\r\n\r\n%b",
              rr.c_str(), &m->dst, sip_transp_param(m->tp),
              desc ? "Content-Type: application/sdp\r\n" : "",
              desc ? mbuf_get_left(desc) : std::size_t{0},
              desc ? reinterpret_cast<const char*>(mbuf_buf(desc)) : "",
              desc ? mbuf_get_left(desc) : std::size_t{0});
  std::string out = tail ? tail : "";
  mem_deref(tail);
  return out;
}

// A 1xx or 2xx on an A leg: the first response makes the dialog and the
// server transaction. A 2xx over UDP is resent until its ACK (RFC 3261
// 13.3.1.4), as for the re-INVITEs we relay; the INVITE goes with the ACK.
int respond_uas(call_leg* l, bool progress, std::uint16_t code, const std::string& reason,
                struct mbuf* desc) {
  auto& s = *l->stack;
  if (!l->invite)
    return EINVAL;
  if (!l->dlg) {
    // Kept until the ACK: a copy without what no dialog or response reads.
    if (auto* copy = dialog_copy(l->invite)) {
      mem_deref(l->invite);
      l->invite = copy;
    }
    if (int err = sip_dialog_accept(&l->dlg, l->invite))
      return err;
    if (int err = sip_strans_alloc(&l->st, s.sip, l->invite, uas_cancelled, l))
      return err;
    pin_to_flow(l, l->invite);
  }
  if (!l->st)
    return EPROTO; // a final response went out already
  auto* m = l->invite;
  auto tail = response_tail(m, desc);
  if (progress)
    return sip_treplyf(&l->st, nullptr, s.sip, m, false, code, reason.c_str(), "%s", tail.c_str());
  // The 2xx goes statelessly, and the transaction ends here: libre's would keep
  // the INVITE and the 2xx for 64*T1 only to absorb retransmissions, which
  // `answered` does from a key (RFC 6026's Accepted state).
  l->st = static_cast<struct sip_strans*>(mem_deref(l->st)); // ours until a final response
  if (int err = sip_replyf(s.sip, m, code, reason.c_str(), "%s", tail.c_str()))
    return err;
  s.answered.add("INVITE", pl_view(m->via.branch), pl_view(m->via.sentby), tmr_jiffies());
  if (m->tp == SIP_TRANSP_UDP) {
    auto& r = rq(l);
    r.ok_tail = std::move(tail);
    r.ok_cseq = m->cseq.num;
    r.ok_msg = m; // our reference moves here
    l->invite = nullptr;
    r.ok_wait = SIP_T1;
    r.ok_deadline = tmr_jiffies() + 64 * SIP_T1;
    tmr_start(&r.ok_tmr, SIP_T1, ok_retransmit, l);
  } else {
    l->invite = static_cast<struct sip_msg*>(mem_deref(l->invite));
  }
  return 0;
}

// A 1xx or 2xx with `sdp` on an A leg or a B leg's answer; false, with the
// leg closed (500 to its owner), if libre refused it.
bool respond(call_leg* l, bool progress, std::uint16_t code, const std::string& reason,
             const std::string& sdp) {
  auto* desc = sdp_mbuf(sdp);
  int err = 0;
  if (l->uas)
    err = respond_uas(l, progress, code, reason, desc);
  else if (l->sess && progress)
    err = sipsess_progress(l->sess, code, reason.c_str(), desc, nullptr);
  else if (l->sess)
    err = sipsess_answer(l->sess, code, reason.c_str(), desc, nullptr);
  mem_deref(desc);
  if (err) {
    log::warn("leg ", l->id, ": response ", code, " failed: ", strerror(err));
    report(l, leg_event_kind::closed, 500);
    forget(l);
    return false;
  }
  if (!progress && code >= 200 && code < 300 && (l->uas || l->sess))
    l->answered = true;
  return true;
}

void reject(call_leg* l, std::uint16_t code, const std::string& reason) {
  // Before any response there is no transaction: the answer goes statelessly.
  if (!final_reply(l, code, reason.c_str()) && l->invite && !l->dlg)
    sip_treplyf(nullptr, nullptr, l->stack->sip, l->invite, false, code, reason.c_str(),
                "Content-Length: 0\r\n\r\n");
  forget(l);
}

call_leg* media_candidate(sip_stack::impl& s, std::uint64_t leg) {
  auto i = s.legs.find(leg);
  if (i == s.legs.end())
    return nullptr;
  auto* l = i->second;
  if (!l->uas || l->answered || l->cancelled || l->media || !l->invite)
    return nullptr;
  return l;
}

} // namespace

bool leg_answerable(sip_stack::impl& s, std::uint64_t leg, std::string* offer) {
  auto* l = media_candidate(s, leg);
  if (l && offer && l->invite)
    *offer = body_of(l->invite);
  return l != nullptr;
}

bool leg_answer_media(sip_stack::impl& s, std::uint64_t leg, const std::string& sdp) {
  auto* l = media_candidate(s, leg);
  if (!l || !allowed(l->now, leg_command::op::answer) || !respond(l, false, 200, "OK", sdp))
    return false;
  l->now = leg_phase::answered;
  l->media = true;
  return true;
}

void leg_reject(sip_stack::impl& s, std::uint64_t leg, std::uint16_t code,
                const std::string& reason, const caf::actor& told) {
  auto* l = media_candidate(s, leg);
  if (!l)
    return;
  if (l->owner && l->owner != told)
    report(l, leg_event_kind::closed, code);
  reject(l, code, reason);
}

// A retransmission of an INVITE whose leg no session took yet (our 100 was
// stateless, so libre has no transaction to absorb it): the same leg.
call_leg* pending_invite(sip_stack::impl& s, const struct sip_msg* msg) {
  auto range = s.dialogs.equal_range(pl_view(msg->callid));
  for (auto i = range.first; i != range.second; ++i) {
    auto* l = i->second;
    if (l->uas && !l->dlg && l->invite && l->invite->cseq.num == msg->cseq.num
        && pl_cmp(&l->invite->from.tag, &msg->from.tag) == 0)
      return l;
  }
  return nullptr;
}

void sip_stack::impl::on_invite(const struct sip_msg* msg) {
  // A retransmission of an INVITE we answered 2xx (its dialog may be gone).
  if (answered.contains("INVITE", pl_view(msg->via.branch), pl_view(msg->via.sentby),
                        tmr_jiffies()))
    return;
  // An INVITE from a trunk provider's address is that trunk's: no digest. Not
  // when its From names one of our tenants: that is an extension's call (a phone
  // behind the provider's address, or one pretending), and digest decides.
  auto domain = lower_host(msg->from.uri.host);
  auto tenant = tenant_key(domain);
  caf::actor trunk;
  bool known = static_cast<bool>(route_of(tenant));
  if (!known) {
    char ip[64];
    if (sa_ntop(&msg->src, ip, sizeof(ip)) == 0)
      trunk = route_of(trunk_source_key(ip));
  }
  // The first INVITE of a known tenant without credentials is challenged
  // here, statelessly, like REGISTER's 401: no record is needed and the same
  // challenge goes to every user name.
  if (known && !msg->to.tag.p && !sip_msg_hdr(msg, SIP_HDR_PROXY_AUTHORIZATION)
      && cfg.make_nonce) {
    auto hdr = challenge_header("Proxy-Authenticate", domain, cfg.make_nonce(domain), false);
    reply_plain(sip, msg, 407, "Proxy Authentication Required", hdr.c_str());
    return;
  }
  // 100 at once, statelessly: the decision takes a few actor hops.
  sip_replyf(sip, msg, 100, "Trying", "Content-Length: 0\r\n\r\n");
  if (pending_invite(*this, msg))
    return;
  auto* l = new call_leg;
  l->stack = this;
  l->id = ++next_leg;
  l->uas = true;
  l->invite = static_cast<struct sip_msg*>(mem_ref(const_cast<struct sip_msg*>(msg)));
  l->flow = msg->src;
  l->flow_tp = msg->tp;
  l->proxied = sip_msg_hdr(msg, SIP_HDR_RECORD_ROUTE) != nullptr;
  legs.emplace(l->id, l);
  index_dialog(l, to_string(msg->callid));
  call_offer offer;
  decode_offer(msg, offer);
  offer.leg = l->id;
  if (trunk) {
    caf::anon_send(trunk, std::move(offer));
    return;
  }
  // The caller's tenant checks it and starts the call; the router activates
  // it, or finds the trunk this thread has no route for yet, or answers 404.
  hand_up(tenant, std::move(offer)); // offer.domain is `domain`
}

void sip_stack::impl::on_leg_command(const leg_command& c) {
  auto i = legs.find(c.leg);
  if (c.what == leg_command::op::dial) {
    auto* l = new call_leg;
    l->stack = this;
    l->id = c.leg;
    legs.emplace(l->id, l);
    take_owner(l, c.owner);
    if (c.route.transport == "tls"
        && sa_set_str(&l->flow, c.route.ip.c_str(), c.route.port) == 0)
      l->flow_tp = SIP_TRANSP_TLS;
    // libre appends ";lr" to each route itself.
    std::string route = "sip:" + c.route.ip + ":" + std::to_string(c.route.port);
    // A TCP or TLS phone is reached over the connection it registered on:
    // libre reuses a connection to the route's address (phones rarely
    // listen for TLS).
    if (c.route.transport == "tcp" || c.route.transport == "tls")
      route += ";transport=" + c.route.transport;
    const char* routev[] = {route.c_str()};
    // Extra header lines: each must end in CRLF, none may end the header block.
    bool headers_ok = c.headers.empty()
                      || (c.headers.size() >= 2 && c.headers.compare(c.headers.size() - 2, 2, "\r\n") == 0
                          && c.headers.find("\r\n\r\n") == std::string::npos
                          && c.headers.rfind("\r\n", 0) != 0);
    if (!headers_ok)
      log::warn("dial ", c.target, ": extra headers dropped (not CRLF-terminated lines)");
    auto* desc = sdp_mbuf(c.sdp);
    // Through a trunk: libre answers the provider's 401/407 and sends the INVITE again.
    auto* creds = c.auth_user.empty() ? nullptr : creds_alloc(c.auth_user, c.auth_password);
    max_forwards_scope mf(c.max_forwards);
    int err = sipsess_connect(&l->sess, sess_sock, c.target.c_str(), c.from_name.c_str(),
                              c.from_uri.c_str(), "pbx", routev, 1, "application/sdp", desc,
                              creds ? creds_auth_handler : nullptr, creds, creds != nullptr,
                              offer_handler, answer_handler, progress_handler, estab_handler,
                              nullptr, nullptr, close_handler, l,
                              headers_ok && !c.headers.empty() ? "%s" : nullptr,
                              c.headers.c_str());
    mem_deref(creds);
    mem_deref(desc);
    if (err) {
      log::warn("dial ", c.target, " failed: ", strerror(err));
      report(l, leg_event_kind::closed, 503);
      forget(l);
      return;
    }
    index_dialog(l, sip_dialog_callid(sipsess_dialog(l->sess)));
    return;
  }
  if (i == legs.end())
    return; // the leg ended meanwhile
  auto* l = i->second;
  if (c.what == leg_command::op::owner_gone) {
    if (l->owner.address() != c.gone)
      return; // it has another owner now
    log::debug("leg ", l->id, ": its owner is gone");
    // Nobody else would end the dialog.
    if (l->uas && l->now != leg_phase::answered)
      reject(l, 503, "Service Unavailable");
    else
      forget(l); // CANCEL or BYE
    return;
  }
  if (!allowed(l->now, c.what)) {
    log::debug("leg ", l->id, ": ", static_cast<int>(c.what), " refused while ",
               leg_phase_name(l->now));
    return;
  }
  l->now = next_phase(l->now, c.what, c.code);
  switch (c.what) {
    case leg_command::op::adopt:
      take_owner(l, c.owner);
      break;
    case leg_command::op::owner_gone:
      break;
    case leg_command::op::accept:
      take_owner(l, c.owner);
      if (l->cancelled) { // the caller cancelled before anyone took the leg
        report(l, leg_event_kind::closed, 487);
        forget(l);
      }
      break;
    case leg_command::op::challenge: {
      auto hdr = challenge_header("Proxy-Authenticate", c.realm, c.nonce, c.stale);
      // Stateless, like the REGISTER challenge: no 32 s server transaction
      // per challenge; a lost 407 gets a new one.
      if (l->invite)
        reply_plain(sip, l->invite, 407, "Proxy Authentication Required", hdr.c_str());
      forget(l);
      break;
    }
    case leg_command::op::reject:
      reject(l, c.code, c.reason);
      break;
    case leg_command::op::progress:
    case leg_command::op::answer:
      respond(l, c.what == leg_command::op::progress, c.code, c.reason, c.sdp);
      break;
    case leg_command::op::hangup: {
      const char* why = c.code == 200 ? "Reason: SIP;cause=200;text=\"Call completed elsewhere\"\r\n"
                                      : "";
      if (l->uas && !l->answered && c.code >= 300) {
        reject(l, c.code, c.reason);
        break;
      }
      if (l->sess && *why)
        sipsess_set_close_headers(l->sess, "%s", why);
      forget(l, why); // CANCEL or BYE as the dialog's state needs
      break;
    }
    case leg_command::op::reinvite:
      send_reinvite(l, c);
      break;
    case leg_command::op::reinvite_reply:
      reply_reinvite(l, c);
      break;
    case leg_command::op::info:
      send_info(l, c);
      break;
    case leg_command::op::info_reply:
      reply_info(l, c);
      break;
    case leg_command::op::dial:
      break;
  }
}

void calls_sweep(sip_stack::impl& s) {
  // An A leg no actor took within an INVITE transaction's lifetime (its
  // offer was lost) must not absorb the caller's retransmissions forever.
  auto now = std::chrono::steady_clock::now();
  std::vector<call_leg*> lost;
  for (auto& [id, l] : s.legs)
    if (l->uas && !l->owner && now - l->since > std::chrono::milliseconds(64 * SIP_T1))
      lost.push_back(l);
  for (auto* l : lost) {
    log::warn("leg ", l->id, ": no actor took the INVITE in ", 64 * SIP_T1 / 1000, " s");
    if (l->invite && !l->dlg)
      sip_treplyf(nullptr, nullptr, s.sip, l->invite, false, 500, "Server Internal Error",
                  "Content-Length: 0\r\n\r\n");
    forget(l);
  }
}

int calls_listen(sip_stack::impl& s) {
  // Ahead of sipsess's listeners: libre asks them in registration order.
  if (int err = sip_listen(&s.dlg_req_lsnr, s.sip, true, dialog_request_handler, &s))
    return err;
  if (int err = sip_listen(&s.dlg_resp_lsnr, s.sip, false, dialog_response_handler, &s))
    return err;
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
  s.dlg_req_lsnr = static_cast<struct sip_lsnr*>(mem_deref(s.dlg_req_lsnr));
  s.dlg_resp_lsnr = static_cast<struct sip_lsnr*>(mem_deref(s.dlg_resp_lsnr));
}

} // namespace pbx::net
