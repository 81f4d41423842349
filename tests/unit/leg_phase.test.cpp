#include <catch2/catch.hpp>

#include <string>

#include "engine/leg_phase.hpp"

using namespace pbx;

namespace {

using op = leg_command::op;
using ev = leg_event_kind;

const leg_phase all_phases[] = {leg_phase::offered, leg_phase::ringing, leg_phase::answered,
                                leg_phase::ended};

const op all_ops[] = {op::challenge, op::reject,         op::accept,     op::progress,
                      op::answer,    op::dial,           op::hangup,     op::reinvite,
                      op::info,      op::reinvite_reply, op::info_reply, op::adopt,
                      op::owner_gone};

const ev all_events[] = {ev::progress, ev::answered, ev::closed,     ev::reinvite,
                         ev::info,     ev::info_result, ev::reinvite_result};

} // namespace

TEST_CASE("a B leg: 18x rings, 2xx answers, BYE ends") {
  auto p = leg_phase::offered;
  p = next_phase(p, ev::progress, 180);
  CHECK(p == leg_phase::ringing);
  p = next_phase(p, ev::progress, 183); // early media after ringing: still early
  CHECK(p == leg_phase::ringing);
  p = next_phase(p, ev::answered, 200);
  CHECK(p == leg_phase::answered);
  p = next_phase(p, ev::progress, 180); // a stray 18x does not undo the answer
  CHECK(p == leg_phase::answered);
  p = next_phase(p, ev::closed, 0); // the peer's BYE
  CHECK(p == leg_phase::ended);
}

TEST_CASE("a 2xx without a provisional answers at once; 100 does not ring") {
  CHECK(next_phase(leg_phase::offered, ev::answered, 200) == leg_phase::answered);
  CHECK(next_phase(leg_phase::offered, ev::progress, 183) == leg_phase::ringing);
  CHECK(next_phase(leg_phase::offered, ev::progress, 100) == leg_phase::offered);
}

TEST_CASE("closed ends a dialog from any phase, whatever its code") {
  for (auto p : all_phases) {
    CHECK(next_phase(p, ev::closed, 0) == leg_phase::ended);
    CHECK(next_phase(p, ev::closed, 487) == leg_phase::ended);
    CHECK(next_phase(p, ev::closed, 486) == leg_phase::ended);
  }
}

TEST_CASE("nothing leaves ended: a late 2xx or 18x stays ended") {
  for (auto e : all_events) {
    CHECK(next_phase(leg_phase::ended, e, 200) == leg_phase::ended);
    CHECK(next_phase(leg_phase::ended, e, 180) == leg_phase::ended);
  }
  for (auto o : all_ops) {
    CHECK(next_phase(leg_phase::ended, o, 200) == leg_phase::ended);
    CHECK(!allowed(leg_phase::ended, o));
  }
}

TEST_CASE("in-dialog requests and their results leave the phase alone") {
  for (auto e : {ev::reinvite, ev::reinvite_result, ev::info, ev::info_result})
    CHECK(next_phase(leg_phase::answered, e, 200) == leg_phase::answered);
  for (auto o : {op::reinvite, op::reinvite_reply, op::info, op::info_reply})
    CHECK(next_phase(leg_phase::answered, o, 200) == leg_phase::answered);
}

TEST_CASE("an A leg moves with what we send it") {
  auto p = leg_phase::offered;
  REQUIRE(allowed(p, op::accept));
  p = next_phase(p, op::accept, 0);
  CHECK(p == leg_phase::offered);
  REQUIRE(allowed(p, op::progress));
  p = next_phase(p, op::progress, 180);
  CHECK(p == leg_phase::ringing);
  REQUIRE(allowed(p, op::answer));
  p = next_phase(p, op::answer, 200);
  CHECK(p == leg_phase::answered);
  CHECK(!allowed(p, op::answer));   // one final response
  CHECK(!allowed(p, op::reject));   // too late to reject: hang up instead
  CHECK(!allowed(p, op::progress));
  REQUIRE(allowed(p, op::hangup));
  p = next_phase(p, op::hangup, 0); // BYE; the SIP thread reports no closed after it
  CHECK(p == leg_phase::ended);
  CHECK(!allowed(p, op::hangup));   // a second hangup is refused
}

TEST_CASE("reject, hangup and challenge end an unanswered dialog") {
  for (auto o : {op::reject, op::hangup}) {
    CHECK(allowed(leg_phase::offered, o));
    CHECK(allowed(leg_phase::ringing, o));
    CHECK(next_phase(leg_phase::offered, o, 480) == leg_phase::ended);
    CHECK(next_phase(leg_phase::ringing, o, 0) == leg_phase::ended);
  }
  CHECK(allowed(leg_phase::offered, op::challenge));
  CHECK(!allowed(leg_phase::ringing, op::challenge));
  CHECK(next_phase(leg_phase::offered, op::challenge, 407) == leg_phase::ended);
}

TEST_CASE("a non-2xx answer does not answer") {
  CHECK(next_phase(leg_phase::ringing, op::answer, 0) == leg_phase::ringing);
}

TEST_CASE("accept and dial only start a dialog") {
  CHECK(allowed(leg_phase::offered, op::accept));
  CHECK(allowed(leg_phase::offered, op::dial));
  for (auto p : {leg_phase::ringing, leg_phase::answered, leg_phase::ended}) {
    CHECK(!allowed(p, op::accept));
    CHECK(!allowed(p, op::dial));
  }
}

TEST_CASE("re-INVITE and INFO only in an answered dialog") {
  for (auto o : {op::reinvite, op::reinvite_reply, op::info, op::info_reply}) {
    CHECK(!allowed(leg_phase::offered, o));
    CHECK(!allowed(leg_phase::ringing, o));
    CHECK(allowed(leg_phase::answered, o));
    CHECK(!allowed(leg_phase::ended, o));
  }
}

TEST_CASE("a live dialog changes owner without changing phase") {
  for (auto p : {leg_phase::offered, leg_phase::ringing, leg_phase::answered}) {
    CHECK(allowed(p, op::adopt));
    CHECK(next_phase(p, op::adopt, 0) == p);
  }
}

TEST_CASE("a dialog whose owner is gone ends, from any live phase") {
  for (auto p : {leg_phase::offered, leg_phase::ringing, leg_phase::answered}) {
    CHECK(allowed(p, op::owner_gone));
    CHECK(next_phase(p, op::owner_gone, 0) == leg_phase::ended);
  }
}

TEST_CASE("phase names match the call's words") {
  CHECK(std::string(leg_phase_name(leg_phase::offered)) == "offered");
  CHECK(std::string(leg_phase_name(leg_phase::ringing)) == "ringing");
  CHECK(std::string(leg_phase_name(leg_phase::answered)) == "answered");
  CHECK(std::string(leg_phase_name(leg_phase::ended)) == "ended");
}
