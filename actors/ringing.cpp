#include "actors/ringing.hpp"

#include <caf/all.hpp>

#include "actors/messages/directory.hpp"
#include "engine/log.hpp"
#include "engine/sip_port.hpp"

namespace pbx {

namespace {

using self_ptr = caf::stateful_actor<ringing_state>*;

// No target could be dialed (their nodes are gone): fail at once, not at the timeout.
using none_dialed_atom = caf::atom_constant<caf::atom("nodialed")>;

// To the SIP thread holding the leg, which drops what the leg's phase does not take.
void send_leg(self_ptr self, leg_command c) {
  self->state.ctx->sip_of(c.leg).leg(std::move(c));
}

void leg_cmd(self_ptr self, std::uint64_t leg, leg_command::op what, std::uint16_t code = 0) {
  leg_command c;
  c.what = what;
  c.leg = leg;
  c.code = code;
  send_leg(self, std::move(c));
}

// An in-dialog request of a leg that is not (or no longer) part of a call:
// a late answer about to be hung up.
void refuse(self_ptr self, const leg_event& e) {
  bool reinvite = e.kind == leg_event_kind::reinvite;
  if (!reinvite && e.kind != leg_event_kind::info)
    return;
  leg_command c;
  c.what = reinvite ? leg_command::op::reinvite_reply : leg_command::op::info_reply;
  c.leg = e.leg;
  c.txn = e.txn;
  c.code = 481;
  c.reason = "Call/Transaction Does Not Exist";
  send_leg(self, std::move(c));
}

std::vector<device_result> results(self_ptr self) {
  std::vector<device_result> out;
  for (auto& [leg, r] : self->state.legs)
    out.push_back(r);
  return out;
}

// Cancels every device still ringing but `keep`; code 200 says "completed elsewhere".
void cancel_others(self_ptr self, std::uint64_t keep, std::uint16_t code) {
  auto& st = self->state;
  for (auto& [leg, t] : st.trying)
    if (leg != keep) {
      leg_cmd(self, leg, leg_command::op::hangup, code);
      st.legs[leg].code = 487;
    }
  st.trying.clear();
}

void give_up(self_ptr self, std::uint16_t code, const std::string& reason) {
  auto& st = self->state;
  st.decided = true;
  cancel_others(self, 0, 0);
  self->send(st.call, ring_failed{code, reason, results(self)});
  self->quit();
}

void on_event(self_ptr self, leg_event& e) {
  auto& st = self->state;
  switch (e.kind) {
    case leg_event_kind::progress: {
      auto t = st.trying.find(e.leg);
      if (!st.decided && (e.code == 180 || e.code == 183) && t != st.trying.end()
          && e.code != t->second.code) {
        t->second.code = e.code;
        self->send(st.call, ring_progress{e.code, std::move(e.sdp), t->second.device});
      }
      return;
    }
    case leg_event_kind::answered: {
      auto t = st.trying.find(e.leg);
      if (st.decided || t == st.trying.end()) { // a late 2xx: ACKed by libre, now BYE
        leg_cmd(self, e.leg, leg_command::op::hangup);
        return;
      }
      st.decided = true;
      st.legs[e.leg].code = 200;
      cancel_others(self, e.leg, 200);
      // The call first, then the leg: its events reach the call after this message.
      self->send(st.call, ring_answered{e.leg, std::move(e.sdp), results(self)});
      leg_command adopt;
      adopt.what = leg_command::op::adopt;
      adopt.leg = e.leg;
      adopt.owner = st.call;
      send_leg(self, std::move(adopt));
      // Events the SIP thread sent before the call owned the leg still come here.
      auto winner = e.leg;
      auto call = st.call;
      self->become(
        [=](leg_event& late) {
          if (late.leg == winner)
            self->send(call, std::move(late));
          else if (late.kind == leg_event_kind::answered)
            leg_cmd(self, late.leg, leg_command::op::hangup);
          else
            refuse(self, late);
        },
        caf::after(std::chrono::seconds(1)) >> [=] { self->quit(); });
      return;
    }
    case leg_event_kind::closed:
      if (st.trying.erase(e.leg) == 0)
        return;
      st.legs[e.leg].code = e.code ? e.code : 408;
      if (e.code == 486 || e.code == 600 || e.code == 603)
        give_up(self, 486, "busy"); // one device declining stops the others (PortSIP >= 16.2)
      else if (st.trying.empty())
        give_up(self, 480, "no device answered");
      return;
    default:
      refuse(self, e);
      return;
  }
}

// While the devices ring. The no-answer timer is a receive timeout, not a
// delayed message: CAF drops a receive timeout when the actor quits, while a
// pending delayed message would keep the whole finished actor in memory until
// it is due (60 s after every answered call). A receive timeout restarts with
// each message, so every message re-arms it with the time left.
caf::behavior ringing_behavior(self_ptr self) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
    self->state.no_answer_at - std::chrono::steady_clock::now());
  auto rearm = [=] {
    if (!self->state.decided)
      self->become(ringing_behavior(self));
  };
  return {
    [=](leg_event& e) {
      on_event(self, e);
      rearm();
    },
    [=](none_dialed_atom) {
      if (!self->state.decided)
        give_up(self, 480, "no device reachable");
    },
    [=](stop_atom) {
      if (!self->state.decided)
        give_up(self, 0, "stopped");
    },
    caf::after(std::max(left, std::chrono::milliseconds(0))) >> [=] {
      if (!self->state.decided)
        give_up(self, 480, "no answer");
    },
  };
}

} // namespace

caf::behavior ringing_actor(caf::stateful_actor<ringing_state>* self, node_context* ctx,
                            caf::actor call, ringing_plan plan) {
  auto& st = self->state;
  st.ctx = ctx;
  st.call = call;
  for (std::uint32_t i = 0; i < plan.targets.size(); ++i) {
    auto& target = plan.targets[i];
    // A request to the phone leaves through the node holding its flow. When
    // that node is gone (a cluster), a UDP phone is reached from here; a TCP
    // or TLS one is unreachable until it registers again.
    auto via = target.flow.node;
    if (via != 0 && via != ctx->node && ctx->remote_router && !ctx->remote_router(via)) {
      if (target.flow.transport != "udp") {
        log::info("ringing: ", target.contact, " registered through node ", via,
                  ", which is gone: not reachable over ", target.flow.transport);
        st.legs.emplace(qualify(via, i), device_result{target.contact, 480});
        continue;
      }
      via = ctx->node;
    }
    leg_command c;
    c.what = leg_command::op::dial;
    c.owner = caf::actor_cast<caf::actor>(self);
    c.leg = ctx->new_b_leg(via);
    c.target = target.contact;
    c.route = target.flow;
    c.from_uri = plan.from_uri;
    c.from_name = plan.from_name;
    c.sdp = plan.sdp;
    c.max_forwards = plan.max_forwards;
    c.auth_user = plan.auth_user;
    c.auth_password = plan.auth_password;
    c.headers = plan.headers;
    auto id = c.leg;
    send_leg(self, std::move(c));
    st.legs.emplace(id, device_result{target.contact, 0});
    st.trying.emplace(id, ringing_state::ringing_leg{i, 0});
  }
  st.no_answer_at = std::chrono::steady_clock::now() + std::chrono::seconds(plan.no_answer_timeout);
  if (st.trying.empty())
    self->send(self, none_dialed_atom::value);
  // The call going away (node shutdown) takes us down; the SIP thread then
  // cancels what still rings.
  self->set_exit_handler([=](caf::exit_msg& m) {
    if (m.reason != caf::exit_reason::normal)
      self->quit(m.reason);
  });
  return ringing_behavior(self);
}

} // namespace pbx
