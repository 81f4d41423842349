#include "actors/call.hpp"

#include <caf/all.hpp>

#include "engine/directory.hpp"
#include "engine/log.hpp"
#include "storage/store.hpp"
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
    case phase::ended: return "ended";
  }
  return "?";
}

void device_result(self_ptr self, std::uint64_t leg, std::uint16_t code) {
  auto& st = self->state;
  auto i = st.devices.find(leg);
  if (i == st.devices.end())
    return;
  for (auto& d : st.cdr.devices)
    if (d.contact == i->second && d.code == 0) {
      d.code = code;
      return;
    }
}

// The CDR is written once, when the call ends (whatever ends it).
void write_cdr(self_ptr self, const std::string& reason, std::uint16_t code) {
  auto& st = self->state;
  if (st.cdr_written)
    return;
  st.cdr_written = true;
  auto& c = st.cdr;
  c.end_ms = now_ms();
  c.end_reason = reason;
  c.sip_code = code;
  c.status = c.answer_ms ? "answered" : (reason == "no answer" || reason == "cancel")
                                           ? "noanswer" : "fail";
  storage::batch b;
  b.put(c);
  st.ctx->store->submit(std::move(b), [](const std::string& err) {
    if (!err.empty())
      log::error("cdr write failed: ", err);
  });
}

void end(self_ptr self, const std::string& reason, std::uint16_t code) {
  auto& st = self->state;
  write_cdr(self, reason, code);
  st.now = phase::ended;
  st.ctx->dir->unregister(call_key(st.cdr.call_id), caf::actor_cast<caf::actor>(self));
  self->quit();
}

// Ends every B leg but `keep`; code 200 adds "call completed elsewhere".
void drop_b_legs(self_ptr self, std::uint64_t keep, std::uint16_t code) {
  for (auto& [leg, contact] : self->state.ringing)
    if (leg != keep) {
      command(self, leg_command::op::hangup, leg, code);
      device_result(self, leg, 487);
    }
  self->state.ringing.clear();
}

void fail_call(self_ptr self, std::uint16_t code, const char* reason, const std::string& why) {
  drop_b_legs(self, 0, 0);
  command(self, leg_command::op::reject, self->state.offer.leg, code, reason);
  end(self, why, code);
}

void dial(self_ptr self, const callee_targets& t) {
  auto& st = self->state;
  if (t.code != 200 || t.targets.empty()) {
    if (t.code == 404)
      fail_call(self, 404, "Not Found", "unknown number");
    else
      fail_call(self, 480, "Temporarily Unavailable", "not registered");
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
    st.ringing.emplace(c.leg, target.contact);
    st.devices.emplace(c.leg, target.contact);
    st.cdr.devices.push_back(storage::cdr_device{target.contact, 0});
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
        if (st.cdr.ring_ms == 0)
          st.cdr.ring_ms = now_ms();
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
      st.cdr.answer_ms = now_ms();
      device_result(self, e.leg, 200);
      drop_b_legs(self, e.leg, 200);
      command(self, leg_command::op::answer, st.offer.leg, 200, "OK", e.sdp);
      return;
    case leg_event_kind::closed:
      if (e.leg == st.winner) { // the callee hung up
        command(self, leg_command::op::hangup, st.offer.leg);
        end(self, "callee hangup", 200);
        return;
      }
      if (st.ringing.erase(e.leg) > 0)
        device_result(self, e.leg, e.code ? e.code : 408);
      if (st.now != phase::ringing)
        return;
      if (e.code == 486 || e.code == 600 || e.code == 603) {
        // Like PortSIP since v16.2: one device declining stops the others.
        fail_call(self, 486, "Busy Here", "busy");
        return;
      }
      if (st.ringing.empty())
        fail_call(self, 480, "Temporarily Unavailable", "no device answered");
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
  st.cdr.domain = st.offer.domain;
  st.cdr.call_id = std::to_string(st.offer.leg);
  st.cdr.caller = st.offer.caller;
  st.cdr.callee = st.offer.callee;
  st.cdr.start_ms = now_ms();
  ctx->dir->register_first_wins(call_key(st.cdr.call_id), caf::actor_cast<caf::actor>(self));
  command(self, leg_command::op::accept, st.offer.leg); // A-leg events come here
  // The node going down ends its calls; the CDR says so.
  self->set_exit_handler([=](caf::exit_msg& m) {
    if (m.reason == caf::exit_reason::normal)
      return;
    drop_b_legs(self, 0, 0);
    if (self->state.winner != 0)
      command(self, leg_command::op::hangup, self->state.winner);
    command(self, leg_command::op::hangup, self->state.offer.leg, 503, "Service Unavailable");
    end(self, "node shutdown", 503);
  });
  if (st.offer.max_forwards == 0) {
    fail_call(self, 483, "Too Many Hops", "too many hops");
    return {};
  }
  self->request(tenant, std::chrono::seconds(10), callee_query{st.offer.callee})
    .then([=](callee_targets& t) { dial(self, t); },
          [=](caf::error&) {
            fail_call(self, 500, "Server Internal Error", "callee lookup failed");
          });
  return {
    [=](leg_event& e) {
      auto& st = self->state;
      if (e.leg != st.offer.leg) {
        on_b_event(self, e);
        return;
      }
      if (e.kind == leg_event_kind::closed) {
        // Caller's BYE, or CANCEL before the answer (libre sent the 487).
        bool answered = st.winner != 0;
        drop_b_legs(self, 0, 0);
        if (answered)
          command(self, leg_command::op::hangup, st.winner);
        end(self, answered ? "caller hangup" : "cancel", answered ? 200 : 487);
      }
    },
    [=](no_answer_atom) {
      if (self->state.now == phase::ringing)
        fail_call(self, 480, "Temporarily Unavailable", "no answer");
    },
    [=](call_info_atom) -> std::vector<std::string> {
      auto& st = self->state;
      std::vector<std::string> legs;
      legs.push_back("A:" + std::to_string(st.offer.leg));
      for (auto& [leg, contact] : st.devices)
        legs.push_back((leg == st.winner ? "B*:" : "B:") + contact);
      return {st.cdr.call_id, st.cdr.domain, st.cdr.caller, st.cdr.callee,
              phase_name(st.now), std::to_string((now_ms() - st.cdr.start_ms) / 1000),
              [&] {
                std::string s;
                for (auto& l : legs)
                  s += (s.empty() ? "" : ",") + l;
                return s;
              }()};
    },
    [=](hangup_atom) {
      auto& st = self->state;
      bool answered = st.winner != 0;
      drop_b_legs(self, 0, 0);
      if (answered) {
        command(self, leg_command::op::hangup, st.winner);
        command(self, leg_command::op::hangup, st.offer.leg);
      } else {
        command(self, leg_command::op::reject, st.offer.leg, 480, "Call Terminated");
      }
      end(self, "admin hangup", answered ? 200 : 480);
    },
  };
}

} // namespace pbx
