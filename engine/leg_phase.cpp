#include "engine/leg_phase.hpp"

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
    case op::owner_gone: // ended as its phase needs: 503, CANCEL or BYE
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
    case op::adopt:
    case op::owner_gone:
      return now != leg_phase::ended;
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

} // namespace pbx
