#include <catch2/catch.hpp>

#include "actors/mwi.hpp"
#include "engine/sip_port.hpp"

using namespace pbx;

namespace {

// Keeps every MWI command; nothing else is expected.
struct recording_port final : sip_port {
  std::vector<mwi_command> sent;
  void reply(sip_reply) override { FAIL("unexpected reply"); }
  void leg(leg_command) override { FAIL("unexpected leg command"); }
  void shell_write(shell_output) override {}
  void guard(guard_command) override {}
  void media(media_command) override {}
  void mwi(mwi_command c) override { sent.push_back(std::move(c)); }
  void trunk(trunk_command) override {}
};

subscribe_request sub(std::uint64_t txn) {
  subscribe_request r;
  r.txn = txn;
  r.domain = "example.test";
  r.user = "101";
  return r;
}

storage::binding_record binding(std::string contact, std::int64_t expires_at) {
  storage::binding_record b;
  b.contact = std::move(contact);
  b.expires_at = expires_at;
  b.received_ip = "192.0.2.7";
  b.received_port = 5062;
  b.transport = "tcp";
  return b;
}

} // namespace

TEST_CASE("message-summary bodies (RFC 3842)", "[mwi]") {
  auto account = mwi::account_uri("101", "example.test");
  CHECK(account == "sip:101@example.test");
  CHECK(mwi::body(account, {}) ==
        "Messages-Waiting: no\r\nMessage-Account: sip:101@example.test\r\n"
        "Voice-Message: 0/0 (0/0)\r\n");
  CHECK(mwi::body(account, {2, 5}) ==
        "Messages-Waiting: yes\r\nMessage-Account: sip:101@example.test\r\n"
        "Voice-Message: 2/5 (0/0)\r\n");
  // Saved messages alone wait for nobody.
  CHECK(mwi::body(account, {0, 3}).rfind("Messages-Waiting: no\r\n", 0) == 0);
}

TEST_CASE("unsolicited NOTIFY is off until the extension's option says so", "[mwi]") {
  CHECK_FALSE(mwi::unsolicited(storage::extension_record{}));
}

TEST_CASE("a subscription is accepted with the mailbox's current counts", "[mwi]") {
  recording_port port;
  mwi::state st;
  mwi::accept(st, sub(7), "sip:101@example.test", caf::actor{}, port);
  REQUIRE(port.sent.size() == 1);
  CHECK(port.sent[0].what == mwi_command::op::accept);
  CHECK(port.sent[0].sub == 7);
  CHECK(port.sent[0].body.find("Voice-Message: 0/0") != std::string::npos); // no counts hook: 0/0
  st.counts = [] { return mwi_counts{3, 1}; };
  mwi::accept(st, sub(8), "sip:101@example.test", caf::actor{}, port);
  REQUIRE(port.sent.size() == 2);
  CHECK(port.sent[1].body.find("Messages-Waiting: yes") != std::string::npos);
  CHECK(port.sent[1].body.find("Voice-Message: 3/1") != std::string::npos);
  CHECK(st.subs.size() == 2);
}

TEST_CASE("a change notifies every live subscription once, an ended one is forgotten", "[mwi]") {
  recording_port port;
  mwi::state st;
  for (std::uint64_t id : {1, 2, 3})
    mwi::accept(st, sub(id), "sip:101@example.test", caf::actor{}, port);
  CHECK(mwi::ended(st, mwi_ended{2, "timeout"}));
  CHECK_FALSE(mwi::ended(st, mwi_ended{2, "timeout"}));
  port.sent.clear();
  mwi::counts_changed(st, {1, 0}, "sip:101@example.test", false, {}, 100, port);
  REQUIRE(port.sent.size() == 2);
  std::vector<std::uint64_t> ids;
  for (auto& c : port.sent) {
    CHECK(c.what == mwi_command::op::notify);
    CHECK(c.body.find("Voice-Message: 1/0") != std::string::npos);
    ids.push_back(c.sub);
  }
  CHECK(ids == std::vector<std::uint64_t>{1, 3});
  // The same counts again (a greeting changed): nothing to say.
  port.sent.clear();
  mwi::counts_changed(st, {1, 0}, "sip:101@example.test", false, {}, 100, port);
  CHECK(port.sent.empty());
  mwi::counts_changed(st, {0, 1}, "sip:101@example.test", false, {}, 100, port);
  CHECK(port.sent.size() == 2);
}

TEST_CASE("unsolicited NOTIFYs go to unexpired bindings through their flow", "[mwi]") {
  recording_port port;
  mwi::state st;
  std::vector<storage::binding_record> bindings{binding("sip:101@10.0.0.5:5060", 200),
                                                binding("sip:101@10.0.0.6:5060", 50)};
  mwi::counts_changed(st, {1, 0}, "sip:101@example.test", false, bindings, 100, port);
  CHECK(port.sent.empty()); // option off, no subscription
  mwi::counts_changed(st, {2, 0}, "sip:101@example.test", true, bindings, 100, port);
  REQUIRE(port.sent.size() == 1);
  auto& c = port.sent[0];
  CHECK(c.what == mwi_command::op::notify_out);
  CHECK(c.target == "sip:101@10.0.0.5:5060");
  CHECK(c.account == "sip:101@example.test");
  CHECK((c.route.ip == "192.0.2.7" && c.route.port == 5062 && c.route.transport == "tcp"));
  CHECK(c.body.find("Voice-Message: 2/0") != std::string::npos);
}

TEST_CASE("ending all subscriptions ends each and forgets them", "[mwi]") {
  recording_port port;
  mwi::state st;
  mwi::accept(st, sub(4), "sip:101@example.test", caf::actor{}, port);
  mwi::accept(st, sub(5), "sip:101@example.test", caf::actor{}, port);
  port.sent.clear();
  mwi::end_all(st, port);
  REQUIRE(port.sent.size() == 2);
  CHECK(port.sent[0].what == mwi_command::op::end);
  CHECK(port.sent[1].what == mwi_command::op::end);
  CHECK(st.subs.empty());
  mwi::counts_changed(st, {9, 9}, "sip:101@example.test", false, {}, 0, port);
  CHECK(port.sent.size() == 2);
}
