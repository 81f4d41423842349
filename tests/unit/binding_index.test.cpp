#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "actors/binding_index.hpp"
#include "actors/timer_wheel.hpp"

using namespace pbx;

namespace {

constexpr std::int64_t t0 = 1'800'000'000; // a fixed clock

storage::binding_record rec(const std::string& number, const std::string& contact,
                            std::int64_t expires_at) {
  storage::binding_record r;
  r.domain = "example.test";
  r.number = number;
  r.contact = contact;
  r.call_id = "cid-" + contact;
  r.cseq = 7;
  r.expires_at = expires_at;
  r.registered_at = t0 - 5;
  r.received_ip = "127.0.0.9";
  r.received_port = 5070;
  r.transport = "udp";
  r.user_agent = "phone/1.0";
  r.params = ";+sip.instance=\"<urn:x>\"";
  return r;
}

std::vector<std::int64_t> fired(timer_wheel& w, std::int64_t now) {
  std::vector<std::int64_t> out;
  w.advance(now, [&](const timer_wheel::entry& e) { out.push_back(e.at); });
  std::sort(out.begin(), out.end());
  return out;
}

std::set<std::string> contacts(const std::vector<storage::binding_record>& v) {
  std::set<std::string> out;
  for (auto& r : v)
    out.insert(r.number + " " + r.contact);
  return out;
}

} // namespace

TEST_CASE("timer wheel fires each entry at its second, not before", "[timer_wheel]") {
  timer_wheel w(t0, 64);
  w.schedule(1, 1, t0 + 10);
  w.schedule(2, 1, t0 + 11);
  CHECK(fired(w, t0 + 9).empty());
  CHECK(fired(w, t0 + 10) == std::vector<std::int64_t>{t0 + 10});
  CHECK(fired(w, t0 + 10).empty()); // once
  CHECK(fired(w, t0 + 11) == std::vector<std::int64_t>{t0 + 11});
  CHECK(w.size() == 0);
}

TEST_CASE("timer wheel keeps entries beyond one lap for their own lap", "[timer_wheel]") {
  timer_wheel w(t0, 64); // 64 one-second slots
  w.schedule(1, 1, t0 + 5);
  w.schedule(2, 1, t0 + 5 + 64);      // same slot, next lap
  w.schedule(3, 1, t0 + 5 + 3 * 64);  // same slot, three laps on
  CHECK(fired(w, t0 + 5) == std::vector<std::int64_t>{t0 + 5});
  for (std::int64_t t = t0 + 6; t < t0 + 5 + 64; ++t)
    REQUIRE(fired(w, t).empty());
  CHECK(fired(w, t0 + 5 + 64) == std::vector<std::int64_t>{t0 + 5 + 64});
  CHECK(fired(w, t0 + 5 + 3 * 64 - 1).empty());
  CHECK(fired(w, t0 + 5 + 3 * 64) == std::vector<std::int64_t>{t0 + 5 + 3 * 64});
}

TEST_CASE("timer wheel catches up after a clock jump and fires past entries", "[timer_wheel]") {
  timer_wheel w(t0, 16);
  for (std::uint32_t i = 0; i < 100; ++i)
    w.schedule(i, 1, t0 + i);
  // A jump of several laps: everything due fires once, nothing later does.
  auto f = fired(w, t0 + 70);
  CHECK(f.size() == 71);
  CHECK(f.front() == t0);
  CHECK(f.back() == t0 + 70);
  CHECK(w.size() == 29);
  w.schedule(500, 1, t0 - 100); // in the past: due at the next advance
  CHECK(fired(w, t0 + 71) == std::vector<std::int64_t>{t0 - 100, t0 + 71});
}

TEST_CASE("binding index keeps every field of a binding", "[binding_index]") {
  binding_index ix("example.test", t0);
  auto a = rec("1001", "sip:1001@10.0.0.1:5060", t0 + 60);
  auto b = rec("1001", "sip:1001@10.0.0.2:5062;transport=tcp", t0 + 90);
  b.transport = "sctp"; // not in the packed table: kept spelled out
  b.user_agent.clear();
  b.params.clear();
  b.via_node = 9; // registered through another node's SIP stack
  ix.set("1001", {a, b});
  auto got = ix.get("1001");
  REQUIRE(got.size() == 2);
  for (auto& [want, have] : {std::pair{a, got[0]}, std::pair{b, got[1]}}) {
    CHECK(have.domain == want.domain);
    CHECK(have.number == want.number);
    CHECK(have.contact == want.contact);
    CHECK(have.params == want.params);
    CHECK(have.call_id == want.call_id);
    CHECK(have.cseq == want.cseq);
    CHECK(have.expires_at == want.expires_at);
    CHECK(have.registered_at == want.registered_at);
    CHECK(have.received_ip == want.received_ip);
    CHECK(have.received_port == want.received_port);
    CHECK(have.transport == want.transport);
    CHECK(have.user_agent == want.user_agent);
    CHECK(have.via_node == want.via_node);
  }
  CHECK(ix.size() == 2);
  CHECK(ix.extensions() == 1);
  CHECK(ix.get("1002").empty());
}

TEST_CASE("binding index expires bindings exactly at their second", "[binding_index]") {
  binding_index ix("example.test", t0);
  ix.set("1001", {rec("1001", "sip:a", t0 + 60), rec("1001", "sip:b", t0 + 120)});
  ix.set("1002", {rec("1002", "sip:c", t0 + 60)});
  CHECK(ix.expire(t0 + 59).empty());
  CHECK(ix.live("1001", t0 + 59) == 2);
  auto gone = ix.expire(t0 + 60);
  CHECK(contacts(gone) == std::set<std::string>{"1001 sip:a", "1002 sip:c"});
  CHECK(ix.live("1001", t0 + 60) == 1);
  CHECK(ix.get("1002").empty());
  CHECK(ix.extensions() == 1);
  CHECK(ix.expire(t0 + 119).empty());
  CHECK(contacts(ix.expire(t0 + 120)) == std::set<std::string>{"1001 sip:b"});
  CHECK(ix.size() == 0);
  CHECK(ix.extensions() == 0);
  CHECK(ix.wheel_entries() == 0);
}

TEST_CASE("binding index: a refresh moves the expiry, later or earlier", "[binding_index]") {
  binding_index ix("example.test", t0);
  ix.set("1001", {rec("1001", "sip:a", t0 + 60)});
  // Refreshed at t0+30 for 3600 s: the entry at t0+60 re-arms, nothing expires.
  ix.set("1001", {rec("1001", "sip:a", t0 + 3630)});
  CHECK(ix.expire(t0 + 60).empty());
  CHECK(ix.expire(t0 + 3629).empty());
  CHECK(ix.wheel_entries() == 1); // one entry per extension, not per refresh
  // Refreshed with a shorter lifetime: the earlier expiry counts.
  ix.set("1001", {rec("1001", "sip:a", t0 + 3700)});
  ix.set("1001", {rec("1001", "sip:a", t0 + 3640)});
  CHECK(ix.expire(t0 + 3639).empty());
  CHECK(contacts(ix.expire(t0 + 3640)) == std::set<std::string>{"1001 sip:a"});
  CHECK(ix.expire(t0 + 4000).empty()); // the superseded entries fire as nothing
  CHECK(ix.wheel_entries() == 0);
}

TEST_CASE("binding index: removal and re-registration", "[binding_index]") {
  binding_index ix("example.test", t0);
  ix.set("1001", {rec("1001", "sip:a", t0 + 60)});
  ix.erase("1001");
  CHECK(ix.size() == 0);
  CHECK(ix.get("1001").empty());
  CHECK(ix.expire(t0 + 60).empty()); // the removed binding does not come back
  // The freed slot is reused by another extension without inheriting the old entry.
  ix.set("1002", {rec("1002", "sip:b", t0 + 200)});
  ix.set("1001", {rec("1001", "sip:a2", t0 + 100)});
  CHECK(ix.expire(t0 + 99).empty());
  CHECK(contacts(ix.expire(t0 + 100)) == std::set<std::string>{"1001 sip:a2"});
  CHECK(contacts(ix.expire(t0 + 200)) == std::set<std::string>{"1002 sip:b"});
  CHECK(ix.numbers().empty());
}

TEST_CASE("binding index: expiries beyond the wheel's lap (wrap-around)", "[binding_index]") {
  binding_index ix("example.test", t0);
  // The wheel has 4096 one-second slots; these land in the same slot laps apart.
  ix.set("1001", {rec("1001", "sip:a", t0 + 10)});
  ix.set("1002", {rec("1002", "sip:b", t0 + 10 + 4096)});
  ix.set("1003", {rec("1003", "sip:c", t0 + 10 + 2 * 4096)});
  CHECK(contacts(ix.expire(t0 + 10)) == std::set<std::string>{"1001 sip:a"});
  std::size_t early = 0;
  for (std::int64_t t = t0 + 11; t < t0 + 10 + 4096; t += 7)
    early += ix.expire(t).size();
  CHECK(early == 0);
  CHECK(contacts(ix.expire(t0 + 10 + 4096)) == std::set<std::string>{"1002 sip:b"});
  CHECK(ix.expire(t0 + 9 + 2 * 4096).empty());
  CHECK(contacts(ix.expire(t0 + 10 + 2 * 4096)) == std::set<std::string>{"1003 sip:c"});
}

TEST_CASE("binding index: many extensions, sorted numbers, counts", "[binding_index]") {
  binding_index ix("example.test", t0);
  for (int i = 0; i < 5000; ++i) {
    auto n = std::to_string(100000 + i);
    ix.set(n, {rec(n, "sip:" + n + "@h", t0 + 1 + i % 300)});
  }
  CHECK(ix.size() == 5000);
  auto numbers = ix.numbers();
  CHECK(numbers.size() == 5000);
  CHECK(std::is_sorted(numbers.begin(), numbers.end()));
  std::size_t gone = 0;
  for (std::int64_t t = t0; t <= t0 + 300; ++t) {
    auto g = ix.expire(t);
    for (auto& r : g)
      REQUIRE(r.expires_at == t); // exact to the second
    gone += g.size();
  }
  CHECK(gone == 5000);
  CHECK(ix.size() == 0);
}

TEST_CASE("binding index: the cached HA1 lives and goes with the bindings", "[binding_index]") {
  binding_index ix("example.test", t0);
  const std::string ha1a = "0123456789abcdef0123456789abcdef";
  const std::string ha1b = "fedcba9876543210fedcba9876543210";
  ix.cache_auth("1001", {ha1a, true}); // no bindings: nothing to keep it with
  CHECK(!ix.cached_auth("1001"));
  ix.set("1001", {rec("1001", "sip:a", t0 + 60)});
  ix.cache_auth("1001", {ha1a, true});
  REQUIRE(ix.cached_auth("1001"));
  CHECK(ix.cached_auth("1001")->ha1 == ha1a);
  CHECK(ix.cached_auth("1001")->enabled);
  ix.set("1001", {rec("1001", "sip:a", t0 + 120)}); // a refresh keeps it
  REQUIRE(ix.cached_auth("1001"));
  ix.forget_auth("1001"); // the record changed
  CHECK(!ix.cached_auth("1001"));
  ix.cache_auth("1001", {ha1b, false});
  REQUIRE(ix.cached_auth("1001"));
  CHECK(ix.cached_auth("1001")->ha1 == ha1b);
  CHECK(!ix.cached_auth("1001")->enabled);
  ix.expire(t0 + 120); // the last binding expired: the slot is reused clean
  CHECK(!ix.cached_auth("1001"));
  ix.set("1002", {rec("1002", "sip:b", t0 + 500)});
  CHECK(!ix.cached_auth("1002"));
}

TEST_CASE("binding index: an HA1 it cannot keep exactly is not cached", "[binding_index]") {
  binding_index ix("example.test", t0);
  ix.set("1001", {rec("1001", "sip:a", t0 + 60)});
  for (std::string bad : std::vector<std::string>{"aa", "0123456789ABCDEF0123456789ABCDEF",
                          "0123456789abcdef0123456789abcdeg", std::string(64, 'a')}) {
    ix.cache_auth("1001", {bad, true});
    CHECK(!ix.cached_auth("1001")); // read from storage each time instead
  }
}

TEST_CASE("binding index: numbers come and go in any order and are all found", "[binding_index]") {
  // Removal shifts entries of the open-addressing table back; every number
  // still in must stay findable, every removed one must not be.
  binding_index ix("example.test", t0);
  std::map<std::string, std::string> want; // number -> contact
  std::mt19937 rng(42);
  for (int round = 0; round < 20000; ++round) {
    auto n = std::to_string(rng() % 3000);
    if (rng() % 3 == 0) {
      ix.erase(n);
      want.erase(n);
    } else {
      auto c = "sip:" + n + "@h" + std::to_string(round);
      ix.set(n, {rec(n, c, t0 + 60)});
      want[n] = c;
    }
  }
  CHECK(ix.extensions() == want.size());
  CHECK(ix.size() == want.size());
  for (int i = 0; i < 3000; ++i) {
    auto n = std::to_string(i);
    auto got = ix.get(n);
    auto w = want.find(n);
    if (w == want.end()) {
      REQUIRE(got.empty());
    } else {
      REQUIRE(got.size() == 1);
      REQUIRE(got[0].number == n);
      REQUIRE(got[0].contact == w->second);
    }
  }
  auto numbers = ix.numbers();
  CHECK(numbers.size() == want.size());
  CHECK(std::equal(numbers.begin(), numbers.end(), want.begin(), want.end(),
                   [](auto& a, auto& b) { return a == b.first; }));
}

TEST_CASE("binding index keeps a transport it has no short form for", "[binding_index]") {
  binding_index ix("example.test", t0);
  auto r = rec("1001", "sip:1001@10.0.0.1", t0 + 60);
  r.transport = "sctp";
  ix.set("1001", {r});
  auto got = ix.get("1001");
  REQUIRE(got.size() == 1);
  CHECK(got[0].transport == "sctp");
  CHECK(got[0].user_agent == "phone/1.0");
  CHECK(got[0].params == r.params);
}
