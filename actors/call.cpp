#include "actors/call.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <cctype>

#include "actors/extension_fields.hpp"
#include "actors/forwarding.hpp"
#include "actors/messages/directory.hpp"
#include "actors/ringing.hpp"
#include "actors/voicemail.hpp"
#include "engine/directory.hpp"
#include "engine/log.hpp"
#include "engine/metrics.hpp"
#include "engine/node_id.hpp"
#include "engine/sip_port.hpp"
#include "storage/store.hpp"

namespace pbx {

namespace {

using self_ptr = caf::stateful_actor<call_state>*;
using phase = call_state::phase;

// The extension whose rule forwarded the call here ("" when it was dialled).
std::string forwarder_of(const call_setup& s) {
  return s.chain.size() > 1 ? s.chain[s.chain.size() - 2] : std::string{};
}

// Where we mirror leg `leg`'s phase (nullptr: not one of ours now).
leg_phase* mirror_of(self_ptr self, std::uint64_t leg) {
  auto& st = self->state;
  if (leg == st.a_leg)
    return &st.a_phase;
  if (leg != 0 && leg == st.winner && st.winner_device < st.b_phases.size())
    return &st.b_phases[st.winner_device];
  return nullptr;
}

// To the SIP thread holding the leg, which drops what the leg's phase does not take.
void send_leg(self_ptr self, leg_command c) {
  auto& st = self->state;
  if (c.leg != st.a_leg && c.leg != st.winner)
    return;
  if (auto* m = mirror_of(self, c.leg); m && allowed(*m, c.what))
    *m = next_phase(*m, c.what, c.code);
  st.ctx->sip_of(c.leg).leg(std::move(c));
}

// `txn` names the peer's in-dialog request a reply belongs to (0: none).
void send_leg(self_ptr self, leg_command::op what, std::uint64_t leg, std::uint64_t txn,
              std::uint16_t code, std::string reason, std::string sdp = {}) {
  leg_command c;
  c.what = what;
  c.leg = leg;
  c.txn = txn;
  c.code = code;
  c.reason = std::move(reason);
  c.sdp = std::move(sdp);
  send_leg(self, std::move(c));
}

void command(self_ptr self, leg_command::op what, std::uint64_t leg, std::uint16_t code = 0,
             std::string reason = {}, std::string sdp = {}) {
  send_leg(self, what, leg, 0, code, std::move(reason), std::move(sdp));
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

const char* phase_name(phase p) {
  switch (p) {
    case phase::offered: return "offered";
    case phase::ringing: return "ringing";
    case phase::answered: return "answered";
    case phase::voicemail: return "voicemail";
    case phase::ended: return "ended";
  }
  return "?";
}

// Ringing is over: every device but the one that answered has ended.
void record_devices(self_ptr self, const std::vector<device_result>& devices) {
  auto& st = self->state;
  auto& c = st.cdr;
  c.devices.resize(st.device_base); // earlier rings (before a forward) stay
  st.b_phases.resize(st.device_base);
  for (auto& d : devices) {
    if (d.code == 200)
      st.winner_device = static_cast<std::uint32_t>(c.devices.size());
    c.devices.push_back(storage::cdr_device{d.contact, d.code});
    st.b_phases.push_back(d.code == 200 ? leg_phase::answered : leg_phase::ended);
  }
}

void mark_line(self_ptr self, line_use use) {
  auto& st = self->state;
  if (st.rung.empty())
    return;
  self->send(st.tenant, line_state{st.rung, st.cdr.call_id, use});
  if (use == line_use::idle)
    st.rung.clear();
}

// Writes the CDR (once), leaves the directory and quits.
void end(self_ptr self, const std::string& reason, std::uint16_t code) {
  auto& st = self->state;
  if (!st.cdr_written) {
    st.cdr_written = true;
    auto& c = st.cdr;
    c.end_ms = now_ms();
    c.end_reason = reason;
    c.sip_code = code;
    metrics::call_ended(code);
    c.status = c.answer_ms ? "answered"
               : (reason.rfind("no answer", 0) == 0 || reason == "cancel") ? "noanswer"
                                                                            : "fail";
    storage::batch b;
    b.put(c);
    st.ctx->store->submit(std::move(b), [](const std::string& err) {
      if (!err.empty())
        log::error("cdr write failed: ", err);
    });
  }
  st.now = phase::ended;
  if (st.out_trunk)
    self->send(st.out_trunk, trunk_release{st.cdr.call_id});
  mark_line(self, line_use::idle);
  st.ctx->dir->unregister(call_key(st.cdr.call_id), caf::actor_cast<caf::actor>(self));
  self->quit();
}

void fail_call(self_ptr self, std::uint16_t code, const char* reason, const std::string& why) {
  if (self->state.a_answered) // a call back that failed: the caller is in a dialog already
    command(self, leg_command::op::hangup, self->state.a_leg);
  else
    command(self, leg_command::op::reject, self->state.a_leg, code, reason);
  end(self, why, code);
}

void route(self_ptr self, callee_targets& t);
void query(self_ptr self, const std::string& number);

// The media plane takes the caller: a message for `mailbox`, or listening.
void start_voicemail(self_ptr self, voicemail_job::mode mode, std::string mailbox) {
  auto& st = self->state;
  if (st.a_answered) { // a call back reached voicemail: not a second answer on this dialog
    fail_call(self, 480, "Temporarily Unavailable", "call back to " + st.setup->chain.back()
                                                       + ": voicemail");
    return;
  }
  mark_line(self, line_use::idle);
  st.now = phase::voicemail;
  voicemail_job job;
  job.what = mode;
  job.leg = st.a_leg;
  job.call = caf::actor_cast<caf::actor>(self);
  job.tenant = st.tenant;
  job.domain = st.setup->offer.domain;
  job.mailbox = std::move(mailbox);
  job.caller = st.setup->offer.caller;
  job.caller_name = st.setup->offer.caller_name;
  job.called = st.setup->offer.callee;
  job.sdp = st.setup->offer.sdp;
  st.cdr.answered_by = "voicemail";
  st.voicemail = self->spawn<caf::linked>(voicemail_actor, st.ctx, std::move(job));
}

// The voicemail actor is done: hang up or reject the leg, write the CDR.
void voicemail_over(self_ptr self, const voicemail_done& d) {
  auto& st = self->state;
  st.voicemail = caf::actor{};
  st.cdr.voicemail_id = d.message_id;
  if (d.answered && st.cdr.answer_ms == 0)
    st.cdr.answer_ms = st.cdr.ring_ms = now_ms();
  auto why = "voicemail " + d.outcome;
  if (!d.call_back.empty() && st.setup->caller_gone.empty() && d.answered) {
    // The listener calls the message's caller back from this same dialog.
    st.a_answered = true;
    st.now = phase::offered;
    st.cdr.end_reason = why;
    st.setup->chain = {d.call_back};
    st.cdr.forwarded = st.setup->chain;
    query(self, d.call_back);
    return;
  }
  // Answered and not to be hung up: the line went under the voicemail actor.
  // Its media endpoint may see the caller's BYE before the leg's `closed` gets here.
  if (st.setup->caller_gone.empty() && d.answered && !d.hang_up)
    st.setup->caller_gone = "caller hangup";
  if (!st.setup->caller_gone.empty()) {
    end(self, st.setup->caller_gone + "; " + why, 200);
  } else if (!d.answered) {
    fail_call(self, 480, "Temporarily Unavailable", why);
  } else {
    if (d.hang_up)
      command(self, leg_command::op::hangup, st.a_leg);
    end(self, why, 200);
  }
}

// Asks the tenant for `number`'s decision (its extension evaluates its rules).
void query(self_ptr self, const std::string& number) {
  auto& st = self->state;
  self->request(st.tenant, std::chrono::seconds(10), callee_query{number, st.setup->offer.caller})
    .then([=](callee_targets& t) { route(self, t); },
          [=](caf::error&) {
            fail_call(self, 500, "Server Internal Error", "callee lookup failed");
          });
}

// -- out through a trunk

const char* reason_phrase(std::uint16_t code) {
  switch (code) {
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 408: return "Request Timeout";
    case 480: return "Temporarily Unavailable";
    case 486: return "Busy Here";
    case 487: return "Request Terminated";
    case 503: return "Service Unavailable";
    case 600: return "Busy Everywhere";
    case 603: return "Decline";
    default: return "Call Failed";
  }
}

// RFC 5806's reason for the rule that forwarded the call.
const char* diversion_reason(const std::string& reroute) {
  if (reroute == "FORWARDING_NO_ANSWER")
    return "no-answer";
  if (reroute == "FORWARDING_BUSY")
    return "user-busy";
  if (reroute == "FORWARDING_NOT_REACHABLE")
    return "unavailable";
  if (reroute == "FORWARDING_DND")
    return "do-not-disturb";
  return "unconditional";
}

void try_step(self_ptr self);

// One route of the plan failed with `code`: the next one on 408, 5xx and 6xx
// (RFC 3261's "try elsewhere" answers); never after 486 or 487.
void step_failed(self_ptr self, std::uint16_t code, const std::string& why) {
  auto& st = self->state;
  if (st.out_trunk) {
    self->send(st.out_trunk, trunk_release{st.cdr.call_id});
    st.out_trunk = caf::actor{};
  }
  st.cdr.route_steps.push_back(st.setup->out_route + " " + std::to_string(code)
                               + (why.empty() ? "" : " (" + why + ")"));
  if ((code == 408 || code >= 500) && st.setup->out_step + 1 < st.setup->out.steps.size()) {
    ++st.setup->out_step;
    try_step(self);
    return;
  }
  fail_call(self, code, reason_phrase(code),
            "outbound rule " + st.setup->out.rule + ": " + st.setup->out_route + " " + std::to_string(code)
              + (why.empty() ? "" : " (" + why + ")"));
}

// The trunk gave us a channel: ring the provider with the step's digits.
void dial_step(self_ptr self, const trunk_grant& g) {
  auto& st = self->state;
  auto& step = st.setup->out.steps[st.setup->out_step];
  bool inbound = !st.setup->offer.trunk.empty();
  std::string forwarder = forwarder_of(*st.setup);
  // An outside caller forwarded back out keeps its number where the trunk allows it.
  std::string cid = !step.caller_id.empty() ? step.caller_id
                    : !g.caller_id.empty()  ? g.caller_id
                                            : st.setup->out.caller_number;
  if (inbound && g.keep_caller_id)
    cid = st.setup->offer.caller;
  ringing_plan plan;
  plan.targets = {call_target{"sip:" + step.digits + "@" + g.target_host, g.route}};
  plan.no_answer_timeout = 120;
  plan.sdp = st.setup->offer.sdp;
  plan.max_forwards = st.setup->offer.max_forwards - 1;
  plan.auth_user = g.auth_user;
  plan.auth_password = g.password;
  if (st.anonymous) { // RFC 3325: the provider still learns who calls, the callee does not
    plan.from_uri = "sip:anonymous@anonymous.invalid";
    plan.from_name = "Anonymous";
    plan.headers = "Privacy: id\r\nP-Asserted-Identity: <sip:" + cid + "@" + g.from_host
                   + ">\r\n";
  } else {
    plan.from_uri = "sip:" + cid + "@" + g.from_host;
    plan.from_name = inbound || st.setup->out.caller_name.empty() ? cid : st.setup->out.caller_name;
  }
  if (!forwarder.empty() && g.diversion)
    plan.headers += "Diversion: <sip:" + forwarder + "@" + st.setup->offer.domain + ">;reason="
                    + diversion_reason(st.cdr.reroute_reason) + "\r\n";
  st.cdr.trunk = step.trunk;
  st.cdr.digits_sent = step.digits;
  st.cdr.caller_id_used = st.anonymous ? "anonymous (" + cid + ")" : cid;
  st.now = phase::ringing;
  st.outbound = true;
  st.setup->on_no_answer = st.setup->on_busy = route_step{};
  st.ringing = self->spawn<caf::linked>(ringing_actor, st.ctx,
                                        caf::actor_cast<caf::actor>(self), std::move(plan));
  st.device_base = static_cast<std::uint32_t>(st.cdr.devices.size());
  st.relayed = 0;
  st.cdr.devices.push_back(storage::cdr_device{"sip:" + step.digits + "@" + g.target_host, 0});
  st.b_phases.push_back(leg_phase::offered);
}

void try_step(self_ptr self) {
  auto& st = self->state;
  auto& step = st.setup->out.steps[st.setup->out_step];
  st.setup->out_route = step.trunk + " " + step.digits;
  if (!step.actor) {
    step_failed(self, 503, "trunk not running");
    return;
  }
  auto trunk = step.actor;
  self->request(trunk, std::chrono::seconds(5),
                trunk_seize{st.cdr.call_id, caf::actor_cast<caf::actor>(self)})
    .then(
      [=](trunk_grant& g) {
        if (g.code != 200) {
          step_failed(self, g.code, g.reason);
          return;
        }
        self->state.out_trunk = trunk;
        dial_step(self, g);
      },
      [=](caf::error&) { step_failed(self, 503, "trunk did not answer"); });
}

// `number` is no extension of the tenant: its outbound rules decide.
void go_out(self_ptr self, const std::string& number) {
  auto& st = self->state;
  outbound_query q;
  q.caller = st.setup->offer.caller;
  q.number = number;
  q.anonymous = st.anonymous;
  q.forwarded_by = forwarder_of(*st.setup);
  if (st.cdr.direction == "internal")
    st.cdr.direction = "outbound";
  self->request(st.tenant, std::chrono::seconds(10), std::move(q))
    .then(
      [=](outbound_plan& p) {
        auto& st = self->state;
        st.cdr.outbound_rule = p.rule;
        if (p.code != 200 || p.steps.empty()) {
          if (st.setup->chain.size() > 1) // the caller reached an extension: its forward failed
            fail_call(self, 480, "Temporarily Unavailable",
                      "forward to " + st.setup->chain.back() + ": " + p.reason);
          else
            fail_call(self, p.code == 200 ? 503 : p.code,
                      p.code == 403 ? "Forbidden" : "Not Found", p.reason);
          return;
        }
        st.anonymous = p.anonymous;
        st.setup->out = std::move(p);
        st.setup->out_step = 0;
        try_step(self);
      },
      [=](caf::error&) {
        fail_call(self, 500, "Server Internal Error", "outbound rules lookup failed");
      });
}

// The trunk step's ringing ended without an answer.
void out_failed(self_ptr self, const ring_failed& f) {
  auto& st = self->state;
  st.outbound = false;
  st.now = phase::offered;
  st.ringing = caf::actor{};
  if (f.reason == "no answer") {
    if (st.out_trunk)
      self->send(st.out_trunk, trunk_release{st.cdr.call_id});
    st.out_trunk = caf::actor{};
    st.cdr.route_steps.push_back(st.setup->out_route + " no answer");
    fail_call(self, 480, "Temporarily Unavailable", "no answer");
    return;
  }
  std::uint16_t code = f.devices.empty() || f.devices.back().code == 0 ? 408
                                                                       : f.devices.back().code;
  step_failed(self, code, {});
}

// A forward to another number: loop protection, then that extension's rules.
void forward(self_ptr self, const route_step& s) {
  auto& st = self->state;
  mark_line(self, line_use::idle);
  st.cdr.reroute_reason = s.reroute_reason;
  auto why = forwarding::loop_check(st.setup->chain, s.number, forwarding::max_forwards);
  if (!why.empty()) {
    fail_call(self, why.rfind("forwarding loop", 0) == 0 ? 482 : 483,
              why.rfind("forwarding loop", 0) == 0 ? "Loop Detected" : "Too Many Hops", why);
    return;
  }
  if (!valid_extension_number(s.number) && !phone_number(s.number)) {
    fail_call(self, 480, "Temporarily Unavailable",
              "forward to " + s.number + ": not a number");
    return;
  }
  st.setup->chain.push_back(s.number);
  st.cdr.forwarded = st.setup->chain;
  query(self, s.number);
}

// Carries out one rule action; `hangup_code` is what HANGUP answers the caller.
void apply(self_ptr self, const route_step& s, const callee_targets* t,
           std::uint16_t hangup_code, const std::string& context) {
  auto& st = self->state;
  metrics::rule_decision(s.slot);
  switch (static_cast<storage::forward_action>(s.action)) {
    case storage::forward_action::ring_anyway:
      break;
    case storage::forward_action::forward_to_number:
      forward(self, s);
      return;
    case storage::forward_action::forward_to_voicemail:
      st.cdr.reroute_reason = s.reroute_reason;
      start_voicemail(self, voicemail_job::mode::deposit,
                      s.mailbox.empty() ? st.setup->chain.back() : s.mailbox);
      return;
    case storage::forward_action::hangup:
      st.cdr.reroute_reason = s.reroute_reason;
      fail_call(self, hangup_code, hangup_code == 486 ? "Busy Here" : "Temporarily Unavailable",
                context + "hangup by rule " + s.slot);
      return;
  }
  if (!t || t->targets.empty()) {
    fail_call(self, 480, "Temporarily Unavailable", "not registered");
    return;
  }
  ringing_plan plan;
  plan.targets = t->targets;
  plan.no_answer_timeout = t->no_answer_timeout;
  const auto& o = st.setup->offer;
  plan.from_uri = "sip:" + o.caller + "@" + o.domain;
  plan.from_name = o.caller_name.empty() ? o.caller : o.caller_name;
  plan.sdp = o.sdp;
  plan.max_forwards = o.max_forwards - 1; // 0 was refused with 483
  st.now = phase::ringing;
  st.setup->on_no_answer = t->no_answer;
  st.setup->on_busy = t->busy;
  st.rung = st.setup->chain.back();
  mark_line(self, line_use::ringing);
  st.ringing = self->spawn<caf::linked>(ringing_actor, st.ctx,
                                        caf::actor_cast<caf::actor>(self), std::move(plan));
  st.device_base = static_cast<std::uint32_t>(st.cdr.devices.size());
  st.relayed = 0;
  for (auto& target : t->targets) {
    st.cdr.devices.push_back(storage::cdr_device{target.contact, 0});
    st.b_phases.push_back(leg_phase::offered);
  }
}

// The callee's extension answered with its rules' decision.
void route(self_ptr self, callee_targets& t) {
  auto& st = self->state;
  if (st.now == phase::ended)
    return;
  if (!st.setup->ending.empty()) { // the caller cancelled while we asked
    end(self, st.setup->ending, st.setup->ending_code);
    return;
  }
  if (t.code == 480) {
    fail_call(self, 480, "Temporarily Unavailable", "extension " + st.setup->chain.back() + " disabled");
    return;
  }
  if (t.code == 404) {
    // Out through the trunks: what an extension dials or forwards to. An outside
    // caller reaches the trunks only by a rule (inbound "number", a forward).
    bool may_go_out = st.setup->chain.size() > 1 || st.setup->offer.trunk.empty();
    if (may_go_out && phone_number(st.setup->chain.back()))
      go_out(self, st.setup->chain.back());
    else if (st.setup->chain.size() == 1)
      fail_call(self, 404, "Not Found", "unknown number");
    else
      fail_call(self, 480, "Temporarily Unavailable",
                "forward to " + st.setup->chain.back() + ": no such extension");
    return;
  }
  apply(self, t.now, &t, 486, {});
}

// Ringing ended without an answer: the rung extension's no-answer or busy rule.
void ringing_failed(self_ptr self, const ring_failed& f) {
  auto& st = self->state;
  st.now = phase::offered;
  st.ringing = caf::actor{};
  if (f.reason == "no answer") {
    apply(self, st.setup->on_no_answer, nullptr, 480, "no answer; ");
    return;
  }
  if (f.code == 486
      && static_cast<storage::forward_action>(st.setup->on_busy.action)
           != storage::forward_action::ring_anyway) {
    apply(self, st.setup->on_busy, nullptr, 486, "busy; ");
    return;
  }
  fail_call(self, f.code, f.code == 486 ? "Busy Here" : "Temporarily Unavailable", f.reason);
}

// A feature code: the extension stored the change; confirm with 200 then BYE.
void confirm_feature(self_ptr self) {
  auto& st = self->state;
  st.now = phase::answered;
  st.cdr.answer_ms = now_ms();
  st.cdr.ring_ms = st.cdr.answer_ms;
  // No media: the answer declines the offered stream (port 0).
  std::string sdp = "v=0\r\no=actorpbx 1 1 IN IP4 127.0.0.1\r\ns=actorpbx\r\n"
                    "c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n";
  command(self, leg_command::op::answer, st.a_leg, 200, "OK", sdp);
  self->delayed_send(self, std::chrono::milliseconds(500), hangup_atom::value);
}

} // namespace

std::shared_ptr<call_setup> call_state::no_setup() {
  static const auto none = std::make_shared<call_setup>();
  return none;
}

namespace {

// Frees what only ringing needed once a call is answered by a device (it
// never rings again): held calls are the node's memory.
void shed_setup(call_state& st) {
  st.setup = call_state::no_setup();
}

// Stops the ringing; the call ends when the ringing actor reports back.
void stop_ringing(self_ptr self, std::string why, std::uint16_t code) {
  auto& st = self->state;
  st.setup->ending = std::move(why);
  st.setup->ending_code = code;
  self->send(st.ringing, stop_atom::value);
}

// -- in-dialog requests of an answered call, relayed between its two legs

// The other leg of an answered call (0 if `leg` has none).
std::uint64_t other_leg(self_ptr self, std::uint64_t leg) {
  auto& st = self->state;
  if (st.now != phase::answered || st.winner == 0)
    return 0;
  return leg == st.winner ? st.a_leg : leg == st.a_leg ? st.winner : 0;
}

// What the first leg hears of the other side's final status: auth challenges
// and redirects are for us, not for the phone.
std::pair<std::uint16_t, std::string> relayed_status(const leg_event& e) {
  if (e.code >= 200 && e.code < 300)
    return {200, "OK"};
  if (e.code < 400 || e.code == 401 || e.code == 407)
    return {500, "Server Internal Error"};
  return {e.code, e.reason.empty() ? "Request Failed" : e.reason};
}

// RFC 5057: 481 or 408 to a request inside the dialog means the peer lost
// it (crashed, restarted, unreachable); the call cannot go on without it.
void end_if_gone(self_ptr self, const leg_event& e) {
  auto& st = self->state;
  if ((e.code != 481 && e.code != 408) || st.now != phase::answered)
    return;
  bool callee = e.leg == st.winner;
  command(self, leg_command::op::hangup, st.winner);
  command(self, leg_command::op::hangup, st.a_leg);
  end(self, std::string(callee ? "callee" : "caller") + " lost the dialog ("
              + std::to_string(e.code) + ")", 200);
}

void relay(self_ptr self, leg_event& e) {
  auto& st = self->state;
  auto other = other_leg(self, e.leg);
  switch (e.kind) {
    case leg_event_kind::reinvite:
      if (other == 0) // a feature code's confirmation: nothing to renegotiate with
        send_leg(self, leg_command::op::reinvite_reply, e.leg, e.txn, 488,
                    "Not Acceptable Here");
      else if (st.relaying_offer) // glare across the two legs
        send_leg(self, leg_command::op::reinvite_reply, e.leg, e.txn, 491, "Request Pending");
      else {
        st.relaying_offer = true;
        send_leg(self, leg_command::op::reinvite, other, e.txn, 0, {}, std::move(e.sdp));
      }
      return;
    case leg_event_kind::reinvite_result: {
      st.relaying_offer = false;
      if (e.txn == 0) { // our own (a call back's): the caller refused the callee's media
        if (e.code >= 300)
          end_if_gone(self, e);
        if (e.code >= 300 && st.now == phase::answered) {
          command(self, leg_command::op::hangup, st.winner);
          command(self, leg_command::op::hangup, st.a_leg);
          end(self, "call back: the caller refused the media (" + std::to_string(e.code) + ")",
              200);
        }
        return;
      }
      if (other == 0)
        return;
      auto [code, reason] = relayed_status(e);
      send_leg(self, leg_command::op::reinvite_reply, other, e.txn, code, std::move(reason),
                  code == 200 ? std::move(e.sdp) : std::string{});
      end_if_gone(self, e);
      return;
    }
    case leg_event_kind::info:
      if (other == 0) {
        send_leg(self, leg_command::op::info_reply, e.leg, e.txn, 200, "OK");
      } else {
        leg_command c;
        c.what = leg_command::op::info;
        c.leg = other;
        c.txn = e.txn;
        c.content_type = std::move(e.content_type);
        c.body = std::move(e.body);
        send_leg(self, std::move(c));
      }
      return;
    case leg_event_kind::info_result:
      if (other != 0) {
        auto [code, reason] = relayed_status(e);
        send_leg(self, leg_command::op::info_reply, other, e.txn, code, std::move(reason));
      }
      end_if_gone(self, e);
      return;
    default:
      return;
  }
}

// A:id(phase), then B:contact(phase) per device tried; B* answered.
std::string legs_text(self_ptr self) {
  auto& st = self->state;
  std::string s = "A:" + std::to_string(st.a_leg) + "(" + leg_phase_name(st.a_phase) + ")";
  for (std::size_t i = 0; i < st.cdr.devices.size(); ++i) {
    auto& d = st.cdr.devices[i];
    auto p = i < st.b_phases.size() ? st.b_phases[i] : leg_phase::ended;
    s += std::string(d.code == 200 && st.winner ? ",B*:" : ",B:") + d.contact + "("
         + leg_phase_name(p) + ")";
  }
  return s;
}

} // namespace

caf::behavior call_actor(caf::stateful_actor<call_state>* self, node_context* ctx,
                         caf::actor tenant, call_offer offer) {
  auto& st = self->state;
  st.ctx = ctx;
  st.tenant = tenant;
  st.a_leg = offer.leg;
  st.setup->offer = std::move(offer);
  auto& o = st.setup->offer; // until a device answers (shed_setup)
  st.cdr.domain = o.domain;
  // The A leg may have come in through another node, whose leg ids start over
  // when it restarts: the id is this node's, its start count and call count.
  st.cdr.call_id = call_id_of(ctx->node, ctx->boot, ctx->next_call++);
  st.cdr.caller = o.caller;
  st.cdr.callee = o.callee;
  st.cdr.start_ms = now_ms();
  ctx->dir->register_first_wins(call_key(st.cdr.call_id), caf::actor_cast<caf::actor>(self));
  leg_command take; // the A leg's events come here
  take.what = leg_command::op::accept;
  take.leg = st.a_leg;
  take.owner = caf::actor_cast<caf::actor>(self);
  ctx->sip_of(take.leg).leg(std::move(take));
  // The node going down ends its calls; the CDR says so. The SIP thread ends
  // the dialogs we hold when we are gone (503, CANCEL or BYE).
  self->set_exit_handler([=](caf::exit_msg& m) {
    if (m.reason == caf::exit_reason::normal) // also a leg that ended
      return;
    // end() quits normally, which a linked ringing actor would ignore: pass the reason on.
    if (self->state.ringing)
      self->send_exit(self->state.ringing, m.reason);
    // An answered call was a good call; one still being set up failed (503).
    end(self, "node shutdown", self->state.cdr.answer_ms ? 200 : 503);
  });
  if (o.max_forwards == 0) {
    fail_call(self, 483, "Too Many Hops", "too many hops");
    return {};
  }
  if (!o.trunk.empty()) {
    st.cdr.direction = "inbound";
    st.cdr.trunk = o.trunk;
    st.cdr.did = o.did;
  } else if (o.callee.rfind("*67", 0) == 0 && phone_number(o.callee.substr(3))) {
    st.anonymous = true; // *67: this call only, caller ID blocked
    o.callee.erase(0, 3);
    st.cdr.callee = o.callee;
  }
  st.setup->chain.push_back(o.callee);
  auto tenant_rec = ctx->store->tenant(o.domain);
  auto& dest = o.destination;
  if (dest.rfind("reject:", 0) == 0) { // "reject:CODE:PHRASE:WHY" from the inbound rules
    auto code = static_cast<std::uint16_t>(std::strtoul(dest.c_str() + 7, nullptr, 10));
    auto p1 = dest.find(':', 7);
    auto p2 = p1 == std::string::npos ? p1 : dest.find(':', p1 + 1);
    auto phrase = p2 == std::string::npos ? std::string{reason_phrase(code)}
                                          : dest.substr(p1 + 1, p2 - p1 - 1);
    fail_call(self, code, phrase.c_str(), p2 == std::string::npos ? "" : dest.substr(p2 + 1));
  } else if (dest == "voicemail") {
    start_voicemail(self, voicemail_job::mode::deposit, o.callee);
  } else if (dest == "number") {
    go_out(self, o.callee);
  } else if (!o.feature.empty()) {
    st.cdr.end_reason = "feature code: " + o.feature;
    confirm_feature(self);
  } else if (auto box = voicemail_service_box(
               o.callee, tenant_rec ? tenant_rec->voicemail_number : "777",
               o.caller)) {
    start_voicemail(self, voicemail_job::mode::listen, *box);
  } else {
    query(self, o.callee);
  }
  return {
    [=](ring_progress& p) {
      auto& st = self->state;
      if (auto i = st.device_base + p.device; i < st.b_phases.size())
        st.b_phases[i] = next_phase(st.b_phases[i], leg_event_kind::progress, p.code);
      if (st.now != phase::ringing || !st.setup->ending.empty() || p.code == st.relayed)
        return;
      st.relayed = p.code;
      if (st.cdr.ring_ms == 0)
        st.cdr.ring_ms = now_ms();
      command(self, leg_command::op::progress, st.a_leg, p.code,
              p.code == 180 ? "Ringing" : "Session Progress", std::move(p.sdp));
    },
    [=](ring_answered& a) {
      auto& st = self->state;
      record_devices(self, a.devices);
      if (st.outbound) {
        st.outbound = false;
        st.cdr.route_steps.push_back(st.setup->out_route + " 200");
      }
      if (!st.setup->ending.empty()) { // the caller is gone already: drop the callee too
        leg_command c;
        c.what = leg_command::op::hangup;
        c.leg = a.leg;
        st.ctx->sip_of(c.leg).leg(std::move(c));
        end(self, st.setup->ending, st.setup->ending_code);
        return;
      }
      // The ringing actor makes us the leg's owner (adopt) right after this.
      st.now = phase::answered;
      st.winner = a.leg;
      // Ours is done: a handle kept here would keep the finished actor in memory.
      st.ringing = caf::actor{};
      st.cdr.answer_ms = now_ms();
      mark_line(self, line_use::talking);
      if (st.a_answered) { // a call back: the caller's dialog exists, offer it the callee's media
        st.relaying_offer = true;
        send_leg(self, leg_command::op::reinvite, st.a_leg, 0, 0, {}, std::move(a.sdp));
      } else {
        command(self, leg_command::op::answer, st.a_leg, 200, "OK", std::move(a.sdp));
      }
      shed_setup(st);
    },
    [=](ring_failed& f) {
      auto& st = self->state;
      record_devices(self, f.devices);
      if (!st.setup->ending.empty()) {
        if (st.outbound) { // the caller gave up on this route: the CDR still names it
          st.outbound = false;
          auto code = f.devices.empty() || f.devices.back().code == 0 ? st.setup->ending_code
                                                                      : f.devices.back().code;
          st.cdr.route_steps.push_back(st.setup->out_route + " " + std::to_string(code));
        }
        end(self, st.setup->ending, st.setup->ending_code);
        return;
      }
      if (st.outbound) {
        out_failed(self, f);
        return;
      }
      ringing_failed(self, f);
    },
    [=](leg_event& e) {
      auto& st = self->state;
      if (auto* m = mirror_of(self, e.leg))
        *m = next_phase(*m, e.kind, e.code);
      if (e.kind != leg_event_kind::closed) {
        relay(self, e);
        return;
      }
      if (e.leg == st.winner) { // the callee hung up
        command(self, leg_command::op::hangup, st.a_leg);
        end(self, "callee hangup", 200);
      } else if (e.leg == st.a_leg) {
        // Caller's BYE, or CANCEL before the answer (libre sent the 487).
        if (st.now == phase::voicemail) {
          // The voicemail actor keeps what was recorded and reports back.
          st.setup->caller_gone = e.code == 487 ? "cancel" : "caller hangup";
          if (st.voicemail)
            self->send(st.voicemail, hangup_atom::value);
          else
            end(self, st.setup->caller_gone, e.code == 487 ? 487 : 200);
        } else if (!st.setup->offer.feature.empty()) {
          end(self, st.cdr.end_reason, 200);
        } else if (st.winner != 0 && e.code == 487) {
          // The CANCEL crossed our answer: the caller never got the 200.
          command(self, leg_command::op::hangup, st.winner);
          st.cdr.answer_ms = 0;
          end(self, "cancel", 487);
        } else if (st.winner != 0) {
          command(self, leg_command::op::hangup, st.winner);
          end(self, "caller hangup", 200);
        } else if (st.now == phase::ringing) {
          stop_ringing(self, "cancel", 487);
        } else {
          end(self, "cancel", 487);
        }
      }
    },
    [=](call_info_atom) -> std::vector<std::string> {
      auto& st = self->state;
      return {st.cdr.call_id, st.cdr.domain, st.cdr.caller, st.cdr.callee,
              phase_name(st.now), std::to_string((now_ms() - st.cdr.start_ms) / 1000),
              legs_text(self)};
    },
    [=](voicemail_done& d) { voicemail_over(self, d); },
    [=](const metrics::mailbox_probe& p) { metrics::answer(p, self->mailbox().size()); },
    [=](voicemail_answered_atom) {
      auto& st = self->state;
      if (st.cdr.answer_ms == 0)
        st.cdr.answer_ms = st.cdr.ring_ms = now_ms();
    },
    [=](hangup_atom) {
      auto& st = self->state;
      if (st.now == phase::voicemail) {
        command(self, leg_command::op::hangup, st.a_leg);
        st.setup->caller_gone = "admin hangup";
        if (st.voicemail)
          self->send(st.voicemail, hangup_atom::value);
        else
          end(self, st.setup->caller_gone, 200);
      } else if (!st.setup->offer.feature.empty()) { // the confirmation is done
        command(self, leg_command::op::hangup, st.a_leg);
        end(self, st.cdr.end_reason, 200);
      } else if (st.winner != 0) {
        command(self, leg_command::op::hangup, st.winner);
        command(self, leg_command::op::hangup, st.a_leg);
        end(self, "admin hangup", 200);
      } else {
        command(self, leg_command::op::reject, st.a_leg, 480, "Call Terminated");
        if (st.now == phase::ringing)
          stop_ringing(self, "admin hangup", 480);
        else
          end(self, "admin hangup", 480);
      }
    },
  };
}

} // namespace pbx
