// net/answered_requests: requests an A leg answered without a libre server
// transaction, remembered by key for one lifetime (64*T1), with a fixed clock.
#include <catch2/catch.hpp>

#include "net/answered_requests.hpp"

using pbx::net::answered_requests;

TEST_CASE("an answered request is known for its lifetime, to the millisecond", "[answered]") {
  answered_requests a(32000);
  a.add("INVITE", "z9hG4bK1", "10.0.0.1:5060", 1000);
  CHECK(a.contains("INVITE", "z9hG4bK1", "10.0.0.1:5060", 1000));
  CHECK(a.contains("INVITE", "z9hG4bK1", "10.0.0.1:5060", 32999));
  CHECK_FALSE(a.contains("INVITE", "z9hG4bK1", "10.0.0.1:5060", 33000));
  CHECK(a.size() == 0);
}

TEST_CASE("method, branch and sent-by each tell requests apart", "[answered]") {
  answered_requests a(32000);
  a.add("BYE", "z9hG4bK1", "10.0.0.1:5060", 0);
  CHECK(a.contains("BYE", "z9hG4bK1", "10.0.0.1:5060", 1));
  CHECK_FALSE(a.contains("INVITE", "z9hG4bK1", "10.0.0.1:5060", 1));
  CHECK_FALSE(a.contains("BYE", "z9hG4bK2", "10.0.0.1:5060", 1));
  CHECK_FALSE(a.contains("BYE", "z9hG4bK1", "10.0.0.2:5060", 1));
  // The separator keeps shifted fields apart.
  CHECK_FALSE(a.contains("BY", "Ez9hG4bK1", "10.0.0.1:5060", 1));
}

TEST_CASE("entries expire in the order they came, each after its own lifetime", "[answered]") {
  answered_requests a(1000);
  for (int i = 0; i < 50; ++i)
    a.add("BYE", "b" + std::to_string(i), "h", static_cast<std::uint64_t>(i) * 10);
  CHECK(a.size() == 50);
  // At 1,200 ms those added at or before 200 ms are gone: 0..20.
  CHECK_FALSE(a.contains("BYE", "b20", "h", 1200));
  CHECK(a.contains("BYE", "b21", "h", 1200));
  CHECK(a.contains("BYE", "b49", "h", 1200));
  CHECK(a.size() == 29);
  CHECK(a.contains("BYE", "b49", "h", 1489));
  CHECK_FALSE(a.contains("BYE", "b49", "h", 1490));
  CHECK(a.size() == 0);
}

TEST_CASE("the same request answered twice is known until its later expiry", "[answered]") {
  answered_requests a(100);
  a.add("BYE", "b", "h", 0);
  a.add("BYE", "b", "h", 50);
  CHECK(a.contains("BYE", "b", "h", 120)); // the first copy expired at 100
  CHECK(a.size() == 1);
  CHECK_FALSE(a.contains("BYE", "b", "h", 150));
}
