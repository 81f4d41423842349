#include "actors/call_leg.hpp"

#include <caf/all.hpp>

#include "engine/log.hpp"
#include "engine/sip_port.hpp"

namespace pbx {

namespace {

bool provisional(std::uint16_t code) {
  return code > 100 && code < 200;
}

bool success(std::uint16_t code) {
  return code >= 200 && code < 300;
}

} // namespace

leg_phase next_phase(leg_phase now, leg_event_kind what, std::uint16_t code) {
  if (now == leg_phase::ended)
    return now;
  switch (what) {
    case leg_event_kind::progress:
      return now == leg_phase::offered && provisional(code) ? leg_phase::ringing : now;
    case leg_event_kind::answered:
      return now != leg_phase::answered && success(code) ? leg_phase::answered : now;
    case leg_event_kind::closed:
      return leg_phase::ended;
    default: // in-dialog requests and their results leave the dialog as it is
      return now;
  }
}

leg_phase next_phase(leg_phase now, leg_command::op what, std::uint16_t code) {
  if (now == leg_phase::ended)
    return now;
  using op = leg_command::op;
  switch (what) {
    case op::progress:
      return now == leg_phase::offered && provisional(code) ? leg_phase::ringing : now;
    case op::answer:
      return now != leg_phase::answered && success(code) ? leg_phase::answered : now;
    case op::challenge:
    case op::reject:
    case op::hangup:
      return leg_phase::ended; // the SIP thread forgets the dialog: no closed event follows
    default:
      return now;
  }
}

bool allowed(leg_phase now, leg_command::op what) {
  using op = leg_command::op;
  switch (what) {
    case op::accept:
    case op::dial:
    case op::challenge:
      return now == leg_phase::offered;
    case op::progress:
    case op::answer:
    case op::reject:
      return now == leg_phase::offered || now == leg_phase::ringing;
    case op::hangup:
      return now != leg_phase::ended;
    case op::reinvite:
    case op::reinvite_reply:
    case op::info:
    case op::info_reply:
      return now == leg_phase::answered;
  }
  return false;
}

const char* leg_phase_name(leg_phase p) {
  switch (p) {
    case leg_phase::offered: return "offered";
    case leg_phase::ringing: return "ringing";
    case leg_phase::answered: return "answered";
    case leg_phase::ended: return "ended";
  }
  return "?";
}

namespace {

using self_ptr = caf::stateful_actor<call_leg_state>*;

// Sends `c` to the SIP thread as this leg's own; quits once the dialog is ended.
void issue(self_ptr self, leg_command c) {
  auto& st = self->state;
  if (!allowed(st.now, c.what)) {
    log::debug("leg ", st.leg, ": ", static_cast<int>(c.what), " refused while ",
               leg_phase_name(st.now));
    return;
  }
  st.now = next_phase(st.now, c.what, c.code);
  c.leg = st.leg;
  c.owner = caf::actor_cast<caf::actor>(self);
  st.ctx->sip_of(c.leg).leg(std::move(c));
  if (st.now == leg_phase::ended)
    self->quit();
}

// The parent is gone while the dialog lives: nobody else would end it.
void end_orphan(self_ptr self) {
  auto& st = self->state;
  leg_command c;
  c.what = leg_command::op::hangup; // CANCEL or BYE
  if (st.caller_side && st.now != leg_phase::answered) {
    c.what = leg_command::op::reject;
    c.code = 503;
    c.reason = "Service Unavailable";
  }
  issue(self, std::move(c));
  self->quit();
}

} // namespace

caf::behavior call_leg_actor(caf::stateful_actor<call_leg_state>* self, node_context* ctx,
                             caf::actor parent, leg_command first) {
  auto& st = self->state;
  st.ctx = ctx;
  st.parent = std::move(parent);
  st.leg = first.leg;
  st.caller_side = first.what == leg_command::op::accept;
  self->set_exit_handler([=](caf::exit_msg& m) {
    // Links to earlier parents are gone; a stale exit from one means nothing.
    if (m.source == self->state.parent.address())
      end_orphan(self);
  });
  issue(self, std::move(first));
  return {
    [=](leg_event& e) {
      auto& st = self->state;
      st.now = next_phase(st.now, e.kind, e.code);
      self->send(st.parent, std::move(e));
      if (st.now == leg_phase::ended)
        self->quit();
    },
    [=](leg_command& c) { issue(self, std::move(c)); },
    // The node's media endpoint answers this A leg (200 with its own SDP).
    [=](media_command& c) {
      auto& st = self->state;
      if (c.what != media_command::op::answer || !st.caller_side
          || !allowed(st.now, leg_command::op::answer))
        return;
      st.now = leg_phase::answered;
      c.leg = st.leg;
      st.ctx->sip_of(c.leg).media(std::move(c));
    },
    [=](set_parent_atom, caf::actor& p) {
      auto& st = self->state;
      if (p == st.parent)
        return;
      // Linking to an actor that is already gone gets us its exit at once.
      self->link_to(p);
      self->unlink_from(st.parent);
      st.parent = std::move(p);
    },
  };
}

} // namespace pbx
