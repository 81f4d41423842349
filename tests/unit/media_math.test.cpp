#include <catch2/catch.hpp>

#include <cmath>
#include <set>

#include "net/media_math.hpp"

using namespace pbx::net::media;

namespace {

std::vector<std::int16_t> tone(std::size_t n, double amplitude = 8000) {
  std::vector<std::int16_t> v(n);
  for (std::size_t i = 0; i < n; ++i)
    v[i] = static_cast<std::int16_t>(amplitude * std::sin(2 * M_PI * 440 * i / 8000.0));
  return v;
}

} // namespace

TEST_CASE("port ranges parse") {
  auto r = parse_port_range("10000-20000");
  REQUIRE(r);
  CHECK(r->lo == 10000);
  CHECK(r->hi == 20000);
  r = parse_port_range("10001-10002"); // the odd start rounds up
  REQUIRE(r);
  CHECK(r->lo == 10002);
  CHECK_FALSE(parse_port_range("10001-10001")); // no even port
  CHECK_FALSE(parse_port_range("20000-10000"));
  CHECK_FALSE(parse_port_range("10000"));
  CHECK_FALSE(parse_port_range("0-100"));
  CHECK_FALSE(parse_port_range("10000-70000"));
  CHECK_FALSE(parse_port_range("a-b"));
}

TEST_CASE("the port pool hands out even ports round-robin and takes them back") {
  port_pool pool{{10001, 10008}}; // 10002, 10004, 10006, 10008
  CHECK(pool.size() == 4);
  std::set<std::uint16_t> got;
  for (int i = 0; i < 4; ++i) {
    auto p = pool.take();
    REQUIRE(p);
    CHECK(*p % 2 == 0);
    CHECK(*p >= 10002);
    CHECK(*p <= 10008);
    got.insert(*p);
  }
  CHECK(got.size() == 4);
  CHECK(pool.in_use() == 4);
  CHECK_FALSE(pool.take()); // exhausted
  pool.release(10004);
  pool.release(10004); // twice: no effect
  pool.release(10005); // odd: not ours
  CHECK(pool.in_use() == 3);
  CHECK(pool.take() == std::optional<std::uint16_t>{10004});
  pool.release(10002);
  pool.release(10006);
  // Round-robin: after 10004 comes 10006, though 10002 is free too.
  CHECK(pool.take() == std::optional<std::uint16_t>{10006});
  CHECK(pool.take() == std::optional<std::uint16_t>{10002});
}

TEST_CASE("the 20 ms clock schedules from its start, without drift") {
  frame_clock c{3};
  c.start(1000);
  CHECK(c.due(1000) == 1);  // tick 0 at once
  CHECK(c.delay(1000) == 20);
  CHECK(c.due(1005) == 0);  // woken early
  CHECK(c.delay(1005) == 15);
  CHECK(c.due(1023) == 1);  // tick 1, 3 ms late
  CHECK(c.delay(1023) == 17); // tick 2 stays at 1040: lateness is not carried over
  CHECK(c.due(1040) == 1);
  // 1000 ticks later on time: exactly n * 20 ms.
  std::uint64_t ran = c.ticks();
  for (std::int64_t t = 1060; t <= 1000 + 20 * 1002; t += 20)
    ran += c.due(t);
  CHECK(ran == 1003);
  CHECK(c.skipped() == 0);
}

TEST_CASE("the clock catches up a few frames after a stall and skips the rest") {
  frame_clock c{3};
  c.start(0);
  CHECK(c.due(0) == 1);
  CHECK(c.due(45) == 2);   // ticks 1 and 2
  CHECK(c.due(200) == 3);  // ticks 3..10 owed: 3 run, 5 skipped
  CHECK(c.skipped() == 5);
  CHECK(c.ticks() == 11);
  CHECK(c.delay(200) == 20); // tick 11 at 220
}

TEST_CASE("frame energy and timestamp gaps") {
  std::vector<std::int16_t> zeros(160, 0);
  CHECK(frame_energy(zeros.data(), zeros.size()) == 0.0);
  std::vector<std::int16_t> square(160, 100);
  CHECK(frame_energy(square.data(), square.size()) == Approx(10000.0));
  CHECK(frame_energy(nullptr, 0) == 0.0);
  CHECK(timestamp_gap(1000, 1000, 40000) == 0);
  CHECK(timestamp_gap(1000, 1320, 40000) == 320);
  CHECK(timestamp_gap(1000, 900, 40000) == 0);        // older
  CHECK(timestamp_gap(1000, 1000 + 50000, 40000) == 0); // a jump, not a loss
  CHECK(timestamp_gap(0xffffff00u, 0x40u, 40000) == 0x140); // wraps
}

TEST_CASE("a recording keeps every sample until max, and counts packets") {
  recorder r{{100, 0}}; // 100 ms = 800 samples
  auto t = tone(160);
  std::vector<std::int16_t> out;
  for (int i = 0; i < 4; ++i)
    CHECK(r.feed(t.data(), t.size(), true, out) == recorder::end::none);
  CHECK(r.feed(nullptr, 100, false, out) == recorder::end::none); // a loss: silence
  CHECK(out.size() == 740);
  CHECK(r.packets() == 4);
  CHECK(r.feed(t.data(), t.size(), true, out) == recorder::end::max);
  CHECK(out.size() == 800); // cut at max
  CHECK(r.duration_ms() == 100);
  CHECK(r.packets() == 5);
  CHECK(std::equal(out.begin(), out.begin() + 160, t.begin()));
  CHECK(std::all_of(out.begin() + 640, out.begin() + 740, [](auto s) { return s == 0; }));
  CHECK(r.ended());
  CHECK(r.feed(t.data(), t.size(), true, out) == recorder::end::none);
  CHECK(out.size() == 800);
}

TEST_CASE("silence ends a recording and is left out of it") {
  recorder r{{0, 200}}; // 200 ms of silence ends it
  auto t = tone(160);
  std::vector<std::int16_t> quiet(160, 20); // noise floor, under the threshold
  std::vector<std::int16_t> out;
  for (int i = 0; i < 10; ++i)
    REQUIRE(r.feed(t.data(), t.size(), true, out) == recorder::end::none);
  // 180 ms of silence, then sound again: the pause is kept.
  for (int i = 0; i < 9; ++i)
    REQUIRE(r.feed(quiet.data(), quiet.size(), true, out) == recorder::end::none);
  CHECK(out.size() == 1600); // held back so far
  REQUIRE(r.feed(t.data(), t.size(), true, out) == recorder::end::none);
  CHECK(out.size() == 1600 + 1440 + 160);
  CHECK(r.packets() == 20);
  // Now 200 ms of silence (lost packets count as silence too): the end.
  for (int i = 0; i < 9; ++i)
    REQUIRE(r.feed(quiet.data(), quiet.size(), true, out) == recorder::end::none);
  CHECK(r.feed(nullptr, 160, false, out) == recorder::end::silence);
  CHECK(out.size() == 3200);
  CHECK(r.duration_ms() == 400);
  CHECK(r.packets() == 20);
}

TEST_CASE("stop keeps the held-back silence") {
  recorder r{{0, 1000}};
  auto t = tone(160);
  std::vector<std::int16_t> quiet(160, 0);
  std::vector<std::int16_t> out;
  r.feed(t.data(), t.size(), true, out);
  r.feed(quiet.data(), quiet.size(), true, out);
  CHECK(out.size() == 160);
  r.finish(out);
  CHECK(out.size() == 320);
  CHECK(r.duration_ms() == 40);
  CHECK(r.packets() == 2);
}

TEST_CASE("SIP INFO DTMF bodies") {
  CHECK(info_digit("application/dtmf-relay", "Signal=5\r\nDuration=160\r\n") == '5');
  CHECK(info_digit("Application/DTMF-Relay; charset=x", "signal= #\r\nDuration=100") == '#');
  CHECK(info_digit("application/dtmf-relay", "Duration=100\nSignal=*\n") == '*');
  CHECK(info_digit("application/dtmf-relay", "Signal=11\r\n") == '#');
  CHECK(info_digit("application/dtmf-relay", "Signal=10\r\n") == '*');
  CHECK(info_digit("application/dtmf-relay", "Signal=d\r\n") == 'D');
  CHECK(info_digit("application/dtmf-relay", "Signal=x\r\n") == 0);
  CHECK(info_digit("application/dtmf-relay", "Duration=160\r\n") == 0);
  CHECK(info_digit("application/dtmf", "7") == '7');
  CHECK(info_digit("application/dtmf", " 9\r\n") == '9');
  CHECK(info_digit("application/sdp", "Signal=5") == 0);
  CHECK(is_dtmf_info("application/dtmf-relay"));
  CHECK(is_dtmf_info("application/dtmf"));
  CHECK_FALSE(is_dtmf_info("application/media_control+xml"));
}
