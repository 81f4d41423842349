#include <catch2/catch.hpp>

#include "actors/registrar.hpp"

using namespace pbx;

namespace {

register_request req(std::vector<contact_entry> contacts, std::int64_t expires = -1,
                     std::string call_id = "c1", std::uint32_t cseq = 1) {
  register_request r;
  r.domain = "a.test";
  r.user = "101";
  r.contacts = std::move(contacts);
  r.expires = expires;
  r.call_id = std::move(call_id);
  r.cseq = cseq;
  r.source = {"192.0.2.7", 5062, "udp"};
  r.user_agent = "test";
  return r;
}

contact_entry contact(std::string uri, std::int64_t expires = -1) {
  return contact_entry{std::move(uri), "", expires};
}

registrar_settings cfg() {
  registrar_settings s;
  s.min_expires = 60;
  s.max_expires = 3600;
  s.default_expires = 1800;
  return s;
}

} // namespace

TEST_CASE("expiry comes from the contact parameter, then Expires, then the default") {
  auto out = registrar::apply({}, req({contact("sip:a@h", 120)}, 600), cfg(), 1000);
  REQUIRE(out.code == 200);
  REQUIRE(out.bindings.size() == 1);
  CHECK(out.bindings[0].expires_at == 1120);
  out = registrar::apply({}, req({contact("sip:a@h")}, 600), cfg(), 1000);
  CHECK(out.bindings[0].expires_at == 1600);
  out = registrar::apply({}, req({contact("sip:a@h")}), cfg(), 1000);
  CHECK(out.bindings[0].expires_at == 2800);
  out = registrar::apply({}, req({contact("sip:a@h", 99999)}), cfg(), 1000);
  CHECK(out.bindings[0].expires_at == 4600); // capped at max
  CHECK(out.bindings[0].received_ip == "192.0.2.7");
  CHECK(out.bindings[0].received_port == 5062);
}

TEST_CASE("below the minimum: 423 with Min-Expires, nothing changes") {
  auto first = registrar::apply({}, req({contact("sip:a@h", 300)}), cfg(), 1000);
  auto out = registrar::apply(first.bindings, req({contact("sip:b@h", 10)}, -1, "c1", 2),
                              cfg(), 1000);
  CHECK(out.code == 423);
  CHECK(out.min_expires == 60);
  CHECK(out.bindings.size() == 1);
  CHECK(out.upserts.empty());
}

TEST_CASE("several contacts per extension, listed with remaining expiry") {
  auto out = registrar::apply({}, req({contact("sip:desk@h", 300)}, -1, "desk", 1), cfg(), 1000);
  out = registrar::apply(out.bindings, req({contact("sip:soft@h", 600)}, -1, "soft", 1),
                         cfg(), 1100);
  REQUIRE(out.bindings.size() == 2);
  auto listed = registrar::listing(out.bindings, 1100);
  REQUIRE(listed.size() == 2);
  CHECK(listed[0].uri == "sip:desk@h");
  CHECK(listed[0].expires == 200);
  CHECK(listed[1].expires == 600);
}

TEST_CASE("expires 0 removes one binding; Contact * removes all") {
  auto out = registrar::apply({}, req({contact("sip:a@h", 300), contact("sip:b@h", 300)}),
                              cfg(), 1000);
  REQUIRE(out.bindings.size() == 2);
  auto one = registrar::apply(out.bindings, req({contact("sip:a@h", 0)}, -1, "c1", 2), cfg(), 1000);
  CHECK(one.code == 200);
  REQUIRE(one.bindings.size() == 1);
  CHECK(one.bindings[0].contact == "sip:b@h");
  CHECK(one.removed == std::vector<std::string>{"sip:a@h"});
  auto star_req = req({}, 0, "c2", 1);
  star_req.star = true;
  auto all = registrar::apply(out.bindings, star_req, cfg(), 1000);
  CHECK(all.code == 200);
  CHECK(all.bindings.empty());
  CHECK(all.removed.size() == 2);
  SECTION("Contact * needs Expires: 0") {
    auto bad = req({}, 300, "c2", 1);
    bad.star = true;
    CHECK(registrar::apply(out.bindings, bad, cfg(), 1000).code == 400);
  }
}

TEST_CASE("a fetch lists bindings and changes nothing") {
  auto out = registrar::apply({}, req({contact("sip:a@h", 300)}), cfg(), 1000);
  auto fetch = registrar::apply(out.bindings, req({}, -1, "c9", 1), cfg(), 1010);
  CHECK(fetch.code == 200);
  CHECK(fetch.upserts.empty());
  CHECK(fetch.removed.empty());
  CHECK(registrar::listing(fetch.bindings, 1010).size() == 1);
}

TEST_CASE("CSeq ordering within a Call-ID") {
  auto out = registrar::apply({}, req({contact("sip:a@h", 300)}, -1, "c1", 5), cfg(), 1000);
  SECTION("the same CSeq is a retransmission: answered, nothing changes") {
    auto again = registrar::apply(out.bindings, req({contact("sip:a@h", 900)}, -1, "c1", 5), cfg(), 1001);
    CHECK(again.code == 200);
    CHECK(again.upserts.empty());
    REQUIRE(again.bindings.size() == 1);
    CHECK(again.bindings[0].expires_at == 1300);
  }
  CHECK(registrar::apply(out.bindings, req({contact("sip:a@h", 300)}, -1, "c1", 4), cfg(), 1001).code
        == 400);
  CHECK(registrar::apply(out.bindings, req({contact("sip:a@h", 300)}, -1, "c1", 6), cfg(), 1001).code
        == 200);
  // Another Call-ID (a rebooted phone) may start low.
  CHECK(registrar::apply(out.bindings, req({contact("sip:a@h", 300)}, -1, "c2", 1), cfg(), 1001).code
        == 200);
}

TEST_CASE("an extension holds a bounded number of contacts") {
  auto s = cfg();
  s.max_bindings = 2;
  auto out = registrar::apply({}, req({contact("sip:a@h", 300), contact("sip:b@h", 300)}), s, 1000);
  REQUIRE(out.code == 200);
  auto third = registrar::apply(out.bindings, req({contact("sip:c@h", 300)}, -1, "c2", 1), s, 1000);
  CHECK(third.code == 403);
  CHECK(third.upserts.empty());
  CHECK(third.bindings.size() == 2);
  // Refreshing an existing one is fine.
  CHECK(registrar::apply(out.bindings, req({contact("sip:a@h", 300)}, -1, "c1", 2), s, 1000).code
        == 200);
}

TEST_CASE("expired bindings are dropped") {
  auto out = registrar::apply({}, req({contact("sip:a@h", 60)}), cfg(), 1000);
  auto later = registrar::apply(out.bindings, req({}, -1, "c1", 2), cfg(), 1061);
  CHECK(later.bindings.empty());
  CHECK(later.removed == std::vector<std::string>{"sip:a@h"});
}
