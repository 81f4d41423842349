#include "actors/call.hpp"

#include <caf/all.hpp>

#include "engine/log.hpp"
#include "engine/sip_port.hpp"

namespace pbx {

namespace {

using self_ptr = caf::stateful_actor<call_state>*;
using phase = call_state::phase;

using no_answer_atom = caf::atom_constant<caf::atom("noanswer")>;

void command(self_ptr self, leg_command::op what, std::uint64_t leg, std::uint16_t code = 0,
             std::string reason = {}, std::string sdp = {}) {
  leg_command c;
  c.what = what;
  c.leg = leg;
  c.code = code;
  c.reason = std::move(reason);
  c.sdp = std::move(sdp);
  c.owner = caf::actor_cast<caf::actor>(self);
  self->state.ctx->sip->leg(std::move(c));
}

void end(self_ptr self) {
  self->state.now = phase::ended;
  self->quit();
}

// Ends every B leg but `keep`; code 200 adds "call completed elsewhere".
void drop_b_legs(self_ptr self, std::uint64_t keep, std::uint16_t code) {
  for (auto& [leg, alive] : self->state.ringing)
    if (leg != keep)
      command(self, leg_command::op::hangup, leg, code);
  self->state.ringing.clear();
}

void fail_call(self_ptr self, std::uint16_t code, const char* reason) {
  drop_b_legs(self, 0, 0);
  command(self, leg_command::op::reject, self->state.offer.leg, code, reason);
  end(self);
}

void dial(self_ptr self, const callee_targets& t) {
  auto& st = self->state;
  if (t.code != 200 || t.targets.empty()) {
    if (t.code == 404)
      fail_call(self, 404, "Not Found");
    else
      fail_call(self, 480, "Temporarily Unavailable");
    return;
  }
  st.now = phase::ringing;
  auto from_uri = "sip:" + st.offer.caller + "@" + st.offer.domain;
  for (auto& target : t.targets) {
    leg_command c;
    c.what = leg_command::op::dial;
    c.leg = st.ctx->next_leg++;
    c.owner = caf::actor_cast<caf::actor>(self);
    c.target = target.contact;
    c.route = target.flow;
    c.from_uri = from_uri;
    c.from_name = st.offer.caller_name.empty() ? st.offer.caller : st.offer.caller_name;
    c.sdp = st.offer.sdp;
    st.ringing.emplace(c.leg, true);
    st.ctx->sip->leg(std::move(c));
  }
  self->delayed_send(self, std::chrono::seconds(t.no_answer_timeout), no_answer_atom::value);
}

void on_b_event(self_ptr self, leg_event& e) {
  auto& st = self->state;
  switch (e.kind) {
    case leg_event_kind::progress:
      if (st.now == phase::ringing && (e.code == 180 || e.code == 183) && e.code != st.relayed) {
        st.relayed = e.code;
        command(self, leg_command::op::progress, st.offer.leg, e.code,
                e.code == 180 ? "Ringing" : "Session Progress", e.sdp);
      }
      return;
    case leg_event_kind::answered:
      if (st.now != phase::ringing) {
        command(self, leg_command::op::hangup, e.leg); // a late 2xx: ACKed by libre, now BYE
        return;
      }
      st.now = phase::answered;
      st.winner = e.leg;
      drop_b_legs(self, e.leg, 200);
      command(self, leg_command::op::answer, st.offer.leg, 200, "OK", e.sdp);
      return;
    case leg_event_kind::closed:
      if (e.leg == st.winner) { // the callee hung up
        command(self, leg_command::op::hangup, st.offer.leg);
        end(self);
        return;
      }
      st.ringing.erase(e.leg);
      if (st.now != phase::ringing)
        return;
      if (e.code == 486 || e.code == 600 || e.code == 603) {
        // Like PortSIP since v16.2: one device declining stops the others.
        fail_call(self, 486, "Busy Here");
        return;
      }
      if (st.ringing.empty())
        fail_call(self, 480, "Temporarily Unavailable");
      return;
  }
}

} // namespace

caf::behavior call_actor(caf::stateful_actor<call_state>* self, node_context* ctx,
                         caf::actor tenant, call_offer offer) {
  auto& st = self->state;
  st.ctx = ctx;
  st.tenant = tenant;
  st.offer = std::move(offer);
  command(self, leg_command::op::accept, st.offer.leg); // A-leg events come here
  if (st.offer.max_forwards == 0) {
    fail_call(self, 483, "Too Many Hops");
    return {};
  }
  self->request(tenant, std::chrono::seconds(10), callee_query{st.offer.callee})
    .then([=](callee_targets& t) { dial(self, t); },
          [=](caf::error&) { fail_call(self, 500, "Server Internal Error"); });
  return {
    [=](leg_event& e) {
      auto& st = self->state;
      if (e.leg != st.offer.leg) {
        on_b_event(self, e);
        return;
      }
      if (e.kind == leg_event_kind::closed) {
        // Caller's BYE, or CANCEL before the answer (libre sent the 487).
        drop_b_legs(self, 0, 0);
        if (st.winner != 0)
          command(self, leg_command::op::hangup, st.winner);
        end(self);
      }
    },
    [=](no_answer_atom) {
      if (self->state.now == phase::ringing)
        fail_call(self, 480, "Temporarily Unavailable");
    },
  };
}

} // namespace pbx
