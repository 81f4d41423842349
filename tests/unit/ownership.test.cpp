#include <catch2/catch.hpp>

#include <set>
#include <string>

#include "engine/ownership.hpp"

using namespace pbx;

namespace {

const std::vector<placed_member> abc{{"a", 1}, {"b", 2}, {"c", 3}};

// A domain whose preferred member among abc is `want`.
std::string domain_preferring(const std::string& want) {
  ownership o{abc, {}};
  for (int i = 0;; ++i) {
    auto d = "t" + std::to_string(i) + ".test";
    if (o.preferred(d) == want)
      return d;
  }
}

etcd::key_value claim_kv(const std::string& domain, const std::string& node, std::int64_t rev) {
  etcd::key_value kv;
  kv.key = owners_prefix + domain;
  kv.value = node;
  kv.mod_revision = rev;
  kv.create_revision = rev;
  kv.lease = 100 + rev;
  return kv;
}

} // namespace

TEST_CASE("ownership: only the preferred member claims an unclaimed tenant") {
  auto d = domain_preferring("b");
  ownership o{abc, {}};
  CHECK(o.claimant(d).empty());
  CHECK(o.owner(d) == 2); // routed to the preferred member before its claim lands
  for (auto self : {"a", "c"}) {
    auto p = o.decide(self, {d}, {"a", "b", "c"});
    CHECK(p.claim.empty());
    CHECK(p.release.empty());
  }
  auto p = o.decide("b", {d}, {"a", "b", "c"});
  CHECK(p.claim == std::vector<std::string>{d});
  CHECK(p.release.empty());
}

TEST_CASE("ownership: a claim wins over preference until its member is gone") {
  auto d = domain_preferring("b");
  ownership o{abc, {}};
  o.set_claims({claim_kv(d, "c", 7)});
  CHECK(o.claimant(d) == "c");
  CHECK(o.owner(d) == 3);
  CHECK(o.owned_by("c") == std::vector<std::string>{d});
  CHECK(o.decide("b", {d}, {"a", "b", "c"}).claim.empty()); // taken: no second owner

  // c's lease ends: its member key goes first in our view, the claim is void at once.
  o.set_members({{"a", 1}, {"b", 2}});
  CHECK(o.claimant(d).empty());
  CHECK(o.owner(d) == 2);
  CHECK(o.decide("b", {d}, {"a", "b"}).claim == std::vector<std::string>{d});
  CHECK(o.decide("a", {d}, {"a", "b"}).claim.empty());
}

TEST_CASE("ownership: the next member in rendezvous order takes over from a lost owner") {
  auto d = domain_preferring("b");
  ownership o{abc, {}};
  o.set_claims({claim_kv(d, "b", 5)});
  auto order = o.order(d);
  REQUIRE(order.size() == 3);
  CHECK(order[0] == 2);
  auto next = o.name_of(order[1]);
  o.set_members({{"a", 1}, {"c", 3}});
  CHECK(o.preferred(d) == next);
  CHECK(o.decide(next, {d}, {"a", "c"}).claim == std::vector<std::string>{d});
}

TEST_CASE("ownership: an owner gives a tenant back to its preferred member once that one is ready") {
  auto d = domain_preferring("b");
  ownership o{{{"a", 1}, {"c", 3}}, {}};
  auto holder = o.preferred(d); // b is away: a or c holds it
  o.set_claims({claim_kv(d, holder, 9)});
  o.set_members(abc); // b is back
  CHECK(o.owner(d) == (holder == "a" ? 1 : 3)); // still the holder's
  CHECK(o.decide(holder, {d}, {"a", "c"}).release.empty()); // b not reachable yet
  auto p = o.decide(holder, {d}, {"a", "b", "c"});
  REQUIRE(p.release.size() == 1);
  CHECK(p.release[0].first == d);
  CHECK(p.release[0].second == 9); // fenced by the claim's revision
  CHECK(o.decide("b", {d}, {"a", "b", "c"}).claim.empty()); // not before the release lands

  // The release lands (a delete in the watch); b claims.
  etcd::watch_event del;
  del.deleted = true;
  del.kv.key = owners_prefix + d;
  o.apply({del});
  CHECK(o.decide("b", {d}, {"a", "b", "c"}).claim == std::vector<std::string>{d});
  etcd::watch_event put;
  put.kv = claim_kv(d, "b", 12);
  o.apply({put});
  CHECK(o.claimant(d) == "b");
  CHECK(o.decide("b", {d}, {"a", "b", "c"}).claim.empty());
}

TEST_CASE("ownership: a claim on a tenant that is gone is released; other keys are ignored") {
  ownership o{abc, {}};
  etcd::key_value other;
  other.key = "/actorpbx/v1/nodes/a";
  other.value = "{}";
  o.set_claims({claim_kv("old.test", "a", 3), other});
  CHECK(o.claims().size() == 1);
  auto p = o.decide("a", {}, {"a", "b", "c"});
  REQUIRE(p.release.size() == 1);
  CHECK(p.release[0].first == "old.test");
  CHECK(o.decide("b", {}, {"a", "b", "c"}).release.empty()); // not b's
}

TEST_CASE("ownership: with no member nothing is placed") {
  ownership o;
  CHECK(o.owner("x.test") == 0);
  CHECK(o.preferred("x.test").empty());
  CHECK(o.decide("a", {"x.test"}, {}).claim.empty());
}
