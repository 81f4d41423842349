#include <catch2/catch.hpp>

#include "engine/cidr.hpp"
#include "net/guard.hpp"

using namespace pbx;
using namespace pbx::net;
using verdict = ingress_guard::verdict;

namespace {

ip_addr ip(const char* text) {
  auto a = ip_addr::parse(text);
  REQUIRE(a);
  return *a;
}

guard_settings limits(std::uint32_t packets, std::uint32_t unauth) {
  guard_settings s;
  s.packet_rate = packets;
  s.unauth_rate = unauth;
  s.ban_time = 60;
  s.ua_block = {"friendly-scanner", "SIPVicious"};
  s.tcp_max_per_source = 2;
  s.tcp_max_connections = 3;
  return s;
}

} // namespace

TEST_CASE("addresses and ranges parse, print and match") {
  CHECK(ip("192.0.2.1").to_string() == "192.0.2.1");
  CHECK(ip("2001:db8::1").to_string() == "2001:db8::1");
  CHECK(ip("192.0.2.1").is_v4());
  CHECK_FALSE(ip_addr::parse("192.0.2.256"));
  CHECK_FALSE(ip_addr::parse("example.com"));
  CHECK_FALSE(ip_addr::parse(""));
  auto net = cidr::parse("192.0.2.77/24");
  REQUIRE(net);
  CHECK(net->to_string() == "192.0.2.0/24");
  CHECK(net->contains(ip("192.0.2.200")));
  CHECK_FALSE(net->contains(ip("192.0.3.1")));
  CHECK_FALSE(net->contains(ip("2001:db8::1")));
  CHECK(cidr::parse("10.0.0.1")->to_string() == "10.0.0.1");
  CHECK(cidr::parse("0.0.0.0/0")->contains(ip("203.0.113.9")));
  CHECK_FALSE(cidr::parse("0.0.0.0/0")->contains(ip("::1")));
  CHECK(cidr::parse("2001:db8::/33")->contains(ip("2001:db8:7fff::1")));
  CHECK_FALSE(cidr::parse("2001:db8::/33")->contains(ip("2001:db8:8000::1")));
  CHECK(cidr::parse("127.0.0.0/8")->contains(ip("127.1.2.3")));
  for (auto bad : {"192.0.2.0/33", "::/129", "192.0.2.0/", "192.0.2.0/x", "/24", "1.2.3/8"})
    CHECK_FALSE(cidr::parse(bad));
}

TEST_CASE("a source over the packet rate is banned and then dropped until the ban ends") {
  ingress_guard g{limits(5, 0)};
  auto a = ip("192.0.2.9"), b = ip("192.0.2.10");
  std::int64_t t = 1'000'000;
  for (int i = 0; i < 5; ++i)
    CHECK(g.packet(a, t + i) == verdict::pass);
  CHECK(g.packet(a, t + 10) == verdict::ban); // the sixth in one second
  CHECK(g.packet(a, t + 20) == verdict::drop);
  CHECK(g.packet(b, t + 20) == verdict::pass); // others are served
  CHECK(g.banned(a, t + 59'000));
  CHECK(g.packet(a, t + 61'000) == verdict::pass); // ban_time 60 s
  CHECK(g.dropped() == 1);
}

TEST_CASE("the rate is per second: a steady source below it is never banned") {
  ingress_guard g{limits(5, 0)};
  auto a = ip("192.0.2.9");
  for (std::int64_t ms = 0; ms < 10'000; ms += 250) // 4 a second
    REQUIRE(g.packet(a, 5'000'000 + ms) == verdict::pass);
}

TEST_CASE("requests without credentials have their own, lower rate") {
  ingress_guard g{limits(100, 3)};
  auto a = ip("198.51.100.1");
  for (int i = 0; i < 3; ++i)
    CHECK(g.unauthenticated(a, 1000 + i) == verdict::pass);
  CHECK(g.unauthenticated(a, 1005) == verdict::ban);
  CHECK(g.packet(a, 1006) == verdict::drop);
}

TEST_CASE("the allow list is never banned, the security actor's bans are kept") {
  ingress_guard g{limits(2, 2)};
  g.set_allow({*cidr::parse("127.0.0.0/8")});
  auto local = ip("127.0.0.1");
  for (int i = 0; i < 100; ++i) {
    REQUIRE(g.packet(local, 1000 + i) == verdict::pass);
    REQUIRE(g.unauthenticated(local, 1000 + i) == verdict::pass);
  }
  auto evil = ip("203.0.113.5");
  g.ban(evil, 5000);
  CHECK(g.packet(evil, 4999) == verdict::drop);
  CHECK(g.packet(evil, 5000) == verdict::pass);
  g.ban(evil, 9000);
  g.unban(evil);
  CHECK(g.packet(evil, 6000) == verdict::pass);
}

TEST_CASE("scanners' User-Agents match in any case; their reports come once a minute") {
  ingress_guard g{limits(0, 0)};
  CHECK(g.ua_blocked("friendly-scanner"));
  CHECK(g.ua_blocked("sipvicious 0.3.3"));
  CHECK(g.ua_blocked("X FRIENDLY-SCANNER X"));
  CHECK_FALSE(g.ua_blocked("Yealink SIP-T46S"));
  CHECK_FALSE(g.ua_blocked(""));
  auto a = ip("192.0.2.1");
  std::uint32_t dropped = 0;
  CHECK(g.ua_report_due(a, 1000, dropped));
  CHECK(dropped == 1);
  CHECK_FALSE(g.ua_report_due(a, 2000, dropped));
  CHECK_FALSE(g.ua_report_due(a, 30'000, dropped));
  CHECK(g.ua_report_due(a, 61'001, dropped));
  CHECK(dropped == 3);
}

TEST_CASE("TCP connections are capped per source and in all") {
  ingress_guard g{limits(0, 0)};
  auto a = ip("192.0.2.1"), b = ip("192.0.2.2"), c = ip("192.0.2.3");
  CHECK(g.tcp_admit(a));
  g.tcp_opened(a);
  g.tcp_opened(a);
  CHECK_FALSE(g.tcp_admit(a)); // 2 per source
  CHECK(g.tcp_admit(b));
  g.tcp_opened(b);
  CHECK_FALSE(g.tcp_admit(c)); // 3 in all
  g.tcp_closed(a);
  CHECK(g.tcp_admit(a));
  CHECK(g.tcp_admit(c));
  CHECK(g.tcp_count() == 2);
}

TEST_CASE("a flood from many addresses keeps the counters bounded") {
  auto s = limits(1000, 1000);
  s.max_sources = 1000;
  ingress_guard g{s};
  std::int64_t t = 0;
  for (std::uint32_t i = 0; i < 50'000; ++i) {
    std::uint8_t raw[4] = {10, static_cast<std::uint8_t>(i >> 16), static_cast<std::uint8_t>(i >> 8),
                           static_cast<std::uint8_t>(i)};
    g.packet(ip_addr::from_v4(raw), t);
    t += 1; // 1,000 packets a second, each from a new address
  }
  CHECK(g.tracked_sources() <= 3000);
}
