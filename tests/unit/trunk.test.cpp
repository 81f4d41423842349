// The trunk actor against a recording SIP port: what it asks the SIP thread
// to do, how it reads the answers, and how it hands out channels.

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include <caf/all.hpp>

#include "actors/messages/admin.hpp"
#include "actors/messages/directory.hpp"
#include "actors/messages/trunk.hpp"
#include "actors/trunk.hpp"
#include "engine/directory.hpp"
#include "engine/sip_port.hpp"

using namespace pbx;
using namespace std::chrono_literals;

namespace {

std::atomic<std::int64_t> test_now{1'800'000'000}; // 2027-01-15T08:00:00Z

// Keeps every trunk and leg command; waits for them with a bound.
struct recording_port final : sip_port {
  std::mutex mtx;
  std::condition_variable cv;
  std::vector<trunk_command> trunks;
  std::vector<leg_command> legs;
  void reply(sip_reply) override {}
  void leg(leg_command c) override {
    std::lock_guard<std::mutex> g{mtx};
    legs.push_back(std::move(c));
    cv.notify_all();
  }
  void shell_write(shell_output) override {}
  void guard(guard_command) override {}
  void media(media_command) override {}
  void mwi(mwi_command) override {}
  void trunk(trunk_command c) override {
    std::lock_guard<std::mutex> g{mtx};
    trunks.push_back(std::move(c));
    cv.notify_all();
  }
  // The n-th (0-based) trunk command of kind `what`, waiting up to 5 s.
  std::optional<trunk_command> nth(trunk_command::op what, std::size_t n,
                                   std::chrono::milliseconds wait = 5000ms) {
    std::unique_lock<std::mutex> g{mtx};
    std::optional<trunk_command> found;
    cv.wait_for(g, wait, [&] {
      std::size_t seen = 0;
      for (auto& c : trunks)
        if (c.what == what && seen++ == n) {
          found = c;
          return true;
        }
      return false;
    });
    return found;
  }
  std::size_t count(trunk_command::op what) {
    std::lock_guard<std::mutex> g{mtx};
    std::size_t n = 0;
    for (auto& c : trunks)
      n += c.what == what;
    return n;
  }
  std::optional<leg_command> first_leg(std::chrono::milliseconds wait = 5000ms) {
    std::unique_lock<std::mutex> g{mtx};
    cv.wait_for(g, wait, [&] { return !legs.empty(); });
    return legs.empty() ? std::nullopt : std::optional<leg_command>{legs.front()};
  }
};

// The tenant: records what its trunk hands it.
struct tenant_log {
  std::mutex mtx;
  std::vector<trunk_call> calls;
};

caf::behavior tenant_double(caf::event_based_actor*, tenant_log* log) {
  return {
    [=](trunk_call& c) {
      std::lock_guard<std::mutex> g{log->mtx};
      log->calls.push_back(std::move(c));
    },
  };
}

storage::trunk_record register_trunk() {
  storage::trunk_record r;
  r.domain = "t.test";
  r.name = "carrier";
  r.auth_mode = "REGISTER_AUTH";
  r.host = "192.0.2.10";
  r.port = 5080;
  r.username = "4420";
  r.password = "s3cret";
  r.register_interval = 300;
  r.keep_alive_interval = 3600; // one OPTIONS in a test: the first
  return r;
}

struct fixture {
  recording_port port;
  local_directory dir;
  node_context ctx;
  tenant_log tlog;
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  caf::actor tenant;
  std::shared_ptr<trunk_channels> channels = std::make_shared<trunk_channels>();
  std::vector<caf::actor> spawned;

  fixture() {
    ctx.dir = &dir;
    ctx.sip = &port;
    ctx.now = [] { return test_now.load(); };
    tenant = sys.spawn(tenant_double, &tlog);
  }
  ~fixture() {
    for (auto& a : spawned)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(tenant, caf::exit_reason::user_shutdown);
  }
  caf::actor spawn(storage::trunk_record rec, trunk_timing t = {50ms, 200ms}) {
    auto a = sys.spawn(trunk_actor, &ctx, tenant, std::move(rec), channels, t);
    spawned.push_back(a);
    return a;
  }
  field_list status(const caf::actor& trunk) {
    caf::scoped_actor me{sys};
    field_list out;
    me->request(trunk, 5s, trunk_status_atom::value)
      .receive([&](field_list& f) { out = std::move(f); },
               [&](caf::error&) { FAIL("no status"); });
    return out;
  }
  trunk_grant seize(const caf::actor& trunk, std::string call_id, caf::actor call = {}) {
    caf::scoped_actor me{sys};
    trunk_grant out;
    out.code = 0;
    me->request(trunk, 5s, trunk_seize{std::move(call_id), std::move(call)})
      .receive([&](trunk_grant& g) { out = std::move(g); },
               [&](caf::error&) { FAIL("no grant"); });
    return out;
  }
};

std::string field(const field_list& f, const std::string& key) {
  for (auto& [k, v] : f)
    if (k == key)
      return v;
  return "<none>";
}

// Polls the trunk's status until `key` reads `want` (bounded).
bool status_becomes(fixture& f, const caf::actor& trunk, const std::string& key,
                    const std::string& want) {
  for (int i = 0; i < 100; ++i) {
    if (field(f.status(trunk), key) == want)
      return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

trunk_event event(const std::string& key, trunk_event::kind what, std::uint16_t code,
                  std::uint32_t expires = 0) {
  trunk_event e;
  e.what = what;
  e.key = key;
  e.code = code;
  e.reason = code == 200 ? "OK" : "Something";
  e.expires = expires;
  return e;
}

} // namespace

TEST_CASE("registration backoff doubles from 30 s up to 10 min", "[trunk]") {
  trunk_timing t;
  CHECK(trunk_backoff(t, 1) == 30s);
  CHECK(trunk_backoff(t, 2) == 60s);
  CHECK(trunk_backoff(t, 3) == 120s);
  CHECK(trunk_backoff(t, 5) == 480s);
  CHECK(trunk_backoff(t, 6) == 600s);
  CHECK(trunk_backoff(t, 40) == 600s);
}

TEST_CASE("a trunk's source addresses: its host when an IP, and its extra ones", "[trunk]") {
  auto r = register_trunk();
  r.source_ips = {"198.51.100.7", "2001:DB8::0:1", "not-an-ip", "192.0.2.10"};
  CHECK(trunk_source_ips(r) == std::vector<std::string>{"192.0.2.10", "198.51.100.7", "2001:db8::1"});
  r.host = "sip.carrier.example"; // a name: only the listed addresses
  CHECK(trunk_source_ips(r)
        == std::vector<std::string>{"198.51.100.7", "2001:db8::1", "192.0.2.10"});
  r.auth_mode = "ACCEPT_REGISTER"; // the gateway's address is its registration's
  CHECK(trunk_source_ips(r).empty());
}

TEST_CASE("a REGISTER_AUTH trunk registers at start and shows the grant", "[trunk]") {
  fixture f;
  auto rec = register_trunk();
  rec.auth_username = "auth4420";
  rec.outbound_proxy = "198.51.100.1:5070";
  auto trunk = f.spawn(rec);
  auto reg = f.port.nth(trunk_command::op::register_start, 0);
  REQUIRE(reg);
  CHECK(reg->registrar == "sip:192.0.2.10:5080;transport=udp");
  CHECK(reg->aor == "sip:4420@192.0.2.10");
  CHECK(reg->contact_user == "4420");
  CHECK(reg->outbound_proxy == "sip:198.51.100.1:5070");
  CHECK(reg->auth_user == "auth4420");
  CHECK(reg->password == "s3cret");
  CHECK(reg->expires == 300);
  CHECK(reg->owner == trunk);
  // The keep-alive's first OPTIONS goes out at start too, to the same place.
  auto opt = f.port.nth(trunk_command::op::options, 0);
  REQUIRE(opt);
  CHECK(opt->registrar == reg->registrar);
  CHECK(field(f.status(trunk), "state") == "registering");
  // The directory knows it by name and by its provider's address.
  CHECK(f.dir.lookup(trunk_key("t.test", "carrier")) == trunk);
  CHECK(f.dir.lookup(trunk_source_key("192.0.2.10")) == trunk);
  caf::anon_send(trunk, event(reg->key, trunk_event::kind::registered, 200, 120));
  REQUIRE(status_becomes(f, trunk, "state", "registered"));
  auto st = f.status(trunk);
  CHECK(field(st, "registered_until") == "2027-01-15T08:02:00.000Z"); // now + 120 s granted
  CHECK(field(st, "last_register_code") == "200");
  CHECK(field(st, "name") == "carrier");
  CHECK(field(st, "auth_mode") == "REGISTER_AUTH");
  // An event for another client (an older actor's) changes nothing.
  caf::anon_send(trunk, event("t.test/carrier/1", trunk_event::kind::register_failed, 403));
  CHECK(field(f.status(trunk), "state") == "registered");
}

TEST_CASE("a failed registration is retried with a growing backoff and means offline",
          "[trunk]") {
  fixture f;
  auto trunk = f.spawn(register_trunk(), trunk_timing{100ms, 400ms});
  auto first = f.port.nth(trunk_command::op::register_start, 0);
  REQUIRE(first);
  caf::anon_send(trunk, event(first->key, trunk_event::kind::options_answer, 200));
  REQUIRE(status_becomes(f, trunk, "options", "online"));
  auto t0 = std::chrono::steady_clock::now();
  caf::anon_send(trunk, event(first->key, trunk_event::kind::register_failed, 403));
  REQUIRE(status_becomes(f, trunk, "last_register_code", "403"));
  auto st = f.status(trunk);
  CHECK(field(st, "state") == "failed");
  CHECK(field(st, "online") == "false");
  // A provider refusing us takes no calls from us either.
  auto g = f.seize(trunk, "call-1");
  CHECK(g.code == 503);
  CHECK(g.reason == "Trunk Offline");
  // Retried after the first backoff step...
  auto second = f.port.nth(trunk_command::op::register_start, 1);
  REQUIRE(second);
  auto first_wait = std::chrono::steady_clock::now() - t0;
  CHECK(first_wait >= 90ms);
  CHECK(second->registrar == first->registrar);
  // ...and after twice that the next time.
  auto t1 = std::chrono::steady_clock::now();
  caf::anon_send(trunk, event(first->key, trunk_event::kind::register_failed, 408));
  REQUIRE(f.port.nth(trunk_command::op::register_start, 2));
  CHECK(std::chrono::steady_clock::now() - t1 >= 190ms);
  CHECK(field(f.status(trunk), "last_register_code") == "408");
  // A success clears it: online and seizable again.
  caf::anon_send(trunk, event(first->key, trunk_event::kind::registered, 200, 300));
  REQUIRE(status_becomes(f, trunk, "state", "registered"));
  CHECK(field(f.status(trunk), "online") == "true");
  CHECK(f.seize(trunk, "call-2").code == 200);
}

TEST_CASE("OPTIONS answers mark the trunk online or offline", "[trunk]") {
  fixture f;
  auto rec = register_trunk();
  rec.auth_mode = "IP_AUTH";
  rec.username.clear();
  auto trunk = f.spawn(rec);
  auto opt = f.port.nth(trunk_command::op::options, 0);
  REQUIRE(opt);
  CHECK(opt->aor == "sip:192.0.2.10");
  CHECK(f.port.count(trunk_command::op::register_start) == 0); // IP_AUTH never registers
  CHECK(field(f.status(trunk), "state") == "not registering");
  CHECK(field(f.status(trunk), "options") == "pending");
  CHECK(f.seize(trunk, "before-any-answer").code == 200); // not known offline yet
  struct step {
    std::uint16_t code;
    const char* options;
  };
  for (auto s : {step{200, "online"}, step{408, "offline"}, step{404, "online"},
                 step{503, "offline"}, step{405, "online"}}) {
    CAPTURE(s.code);
    caf::anon_send(trunk, event(opt->key, trunk_event::kind::options_answer, s.code));
    REQUIRE(status_becomes(f, trunk, "last_options_code", std::to_string(s.code)));
    auto st = f.status(trunk);
    CHECK(field(st, "options") == s.options);
    CHECK(field(st, "last_options_at") == "2027-01-15T08:00:00.000Z");
    auto g = f.seize(trunk, "call-" + std::to_string(s.code));
    CHECK(g.code == (std::string{s.options} == "online" ? 200 : 503));
  }
}

TEST_CASE("channels: up to max_calls, 503 past it, back on release or when the call ends",
          "[trunk]") {
  fixture f;
  auto rec = register_trunk();
  rec.auth_mode = "IP_AUTH";
  rec.max_calls = 2;
  rec.keep_alive = false;
  rec.caller_id = "15557000001";
  rec.diversion = true;
  rec.transport = "tcp";
  auto trunk = f.spawn(rec);
  CHECK(field(f.status(trunk), "options") == "off");
  auto g1 = f.seize(trunk, "call-1");
  REQUIRE(g1.code == 200);
  CHECK(g1.target_host == "192.0.2.10:5080");
  CHECK(g1.route.ip == "192.0.2.10");
  CHECK(g1.route.port == 5080);
  CHECK(g1.route.transport == "tcp");
  CHECK(g1.from_host == "192.0.2.10");
  CHECK(g1.auth_user == "4420");
  CHECK(g1.password == "s3cret");
  CHECK(g1.caller_id == "15557000001");
  CHECK(g1.diversion);
  CHECK(f.seize(trunk, "call-1").code == 200); // the same call again: the same channel
  // A call actor holds the second one; its end gives it back.
  auto call = f.sys.spawn([]() -> caf::behavior { return {[](int) {}}; });
  CHECK(f.seize(trunk, "call-2", call).code == 200);
  auto full = f.seize(trunk, "call-3");
  CHECK(full.code == 503);
  CHECK(full.reason == "Trunk Full");
  CHECK(field(f.status(trunk), "calls") == "2");
  CHECK(f.channels->calls == 2);
  caf::anon_send(trunk, trunk_release{"call-1"});
  CHECK(status_becomes(f, trunk, "calls", "1"));
  CHECK(f.seize(trunk, "call-3").code == 200);
  caf::anon_send_exit(call, caf::exit_reason::user_shutdown);
  CHECK(status_becomes(f, trunk, "calls", "1"));
  CHECK(f.channels->calls == 1);
}

TEST_CASE("the tenant's max_trunk_calls counts the channels of all its trunks", "[trunk]") {
  fixture f;
  f.channels->max = 2;
  auto a = register_trunk();
  a.auth_mode = "IP_AUTH";
  a.keep_alive = false;
  auto b = a;
  b.name = "other";
  b.host = "192.0.2.20";
  auto ta = f.spawn(a);
  auto tb = f.spawn(b);
  CHECK(f.seize(ta, "x1").code == 200);
  CHECK(f.seize(tb, "x2").code == 200);
  auto g = f.seize(tb, "x3");
  CHECK(g.code == 503);
  CHECK(g.reason == "Tenant Trunk Calls Full");
  CHECK(f.seize(ta, "x3").code == 503);
  caf::anon_send(ta, trunk_release{"x1"});
  CHECK(status_becomes(f, ta, "calls", "0"));
  CHECK(f.seize(tb, "x3").code == 200);
  // A stopped trunk gives its channels back to the tenant.
  caf::anon_send(tb, stop_atom::value);
  for (int i = 0; i < 100 && f.channels->calls != 0; ++i)
    std::this_thread::sleep_for(20ms);
  CHECK(f.channels->calls == 0);
}

TEST_CASE("an INVITE from the provider goes to the tenant with its DID", "[trunk]") {
  fixture f;
  auto rec = register_trunk();
  rec.keep_alive = false;
  rec.max_calls = 1;
  auto trunk = f.spawn(rec);
  call_offer offer;
  offer.leg = qualify(1, 17); // made by this node's SIP thread
  offer.domain = "carrier.example";
  offer.caller = "15551230001";
  offer.callee = "4420";        // the registered contact user
  offer.to_user = "15557000042"; // the DID
  caf::anon_send(trunk, offer);
  for (int i = 0; i < 100; ++i) {
    {
      std::lock_guard<std::mutex> g{f.tlog.mtx};
      if (!f.tlog.calls.empty())
        break;
    }
    std::this_thread::sleep_for(20ms);
  }
  {
    std::lock_guard<std::mutex> g{f.tlog.mtx};
    REQUIRE(f.tlog.calls.size() == 1);
    auto& c = f.tlog.calls[0];
    CHECK(c.trunk == "carrier");
    CHECK(c.did == "15557000042");
    CHECK(c.offer.did == "15557000042");
    CHECK(c.offer.trunk == "carrier");
    CHECK(c.offer.domain == "t.test");
    CHECK(c.offer.leg == qualify(1, 17));
  }
  // Its channel is taken: a second INVITE is refused with 503.
  CHECK(field(f.status(trunk), "calls") == "1");
  offer.leg = qualify(1, 18);
  caf::anon_send(trunk, offer);
  auto rej = f.port.first_leg();
  REQUIRE(rej);
  CHECK(rej->what == leg_command::op::reject);
  CHECK(rej->leg == qualify(1, 18));
  CHECK(rej->code == 503);
  // The tenant gives it back (no rule took the call).
  caf::anon_send(trunk, trunk_release{"in/" + std::to_string(qualify(1, 17))});
  CHECK(status_becomes(f, trunk, "calls", "0"));
}

TEST_CASE("the DID is the Request-URI user when the trunk says so", "[trunk]") {
  fixture f;
  auto rec = register_trunk();
  rec.keep_alive = false;
  rec.did_in_request_uri = true;
  auto trunk = f.spawn(rec);
  call_offer offer;
  offer.leg = qualify(1, 5);
  offer.callee = "15557000007";
  offer.to_user = "4420";
  caf::anon_send(trunk, offer);
  for (int i = 0; i < 100; ++i) {
    {
      std::lock_guard<std::mutex> g{f.tlog.mtx};
      if (!f.tlog.calls.empty())
        break;
    }
    std::this_thread::sleep_for(20ms);
  }
  std::lock_guard<std::mutex> g{f.tlog.mtx};
  REQUIRE(f.tlog.calls.size() == 1);
  CHECK(f.tlog.calls[0].did == "15557000007");
}

TEST_CASE("a disabled trunk neither registers nor pings, and refuses its INVITEs", "[trunk]") {
  fixture f;
  auto rec = register_trunk();
  rec.enabled = false;
  auto trunk = f.spawn(rec);
  call_offer offer;
  offer.leg = qualify(1, 9);
  caf::anon_send(trunk, offer);
  auto rej = f.port.first_leg();
  REQUIRE(rej);
  CHECK(rej->code == 503);
  CHECK(rej->leg == qualify(1, 9));
  CHECK(f.port.count(trunk_command::op::register_start) == 0);
  CHECK(f.port.count(trunk_command::op::options) == 0);
  CHECK(f.seize(trunk, "c").code == 503);
  // It still owns its provider's address: those INVITEs must not be challenged.
  CHECK(f.dir.lookup(trunk_source_key("192.0.2.10")) == trunk);
}

TEST_CASE("a stopped trunk un-registers and leaves the directory, the first claim wins",
          "[trunk]") {
  fixture f;
  auto first = f.spawn(register_trunk());
  auto reg = f.port.nth(trunk_command::op::register_start, 0);
  REQUIRE(reg);
  // Another trunk of the same provider address: the address stays the first's.
  auto rec2 = register_trunk();
  rec2.name = "second";
  rec2.keep_alive = false;
  auto second = f.spawn(rec2);
  REQUIRE(f.port.nth(trunk_command::op::register_start, 1));
  CHECK(f.dir.lookup(trunk_source_key("192.0.2.10")) == first);
  CHECK(f.dir.lookup(trunk_key("t.test", "second")) == second);
  // The tenant stops it: keys and registration go before its successor starts.
  std::promise<void> stopped;
  f.sys.spawn([&](caf::event_based_actor* self) {
    stop_trunk(self, &f.ctx, first, "t.test", "carrier");
    stopped.set_value();
  });
  REQUIRE(stopped.get_future().wait_for(5s) == std::future_status::ready);
  auto stop = f.port.nth(trunk_command::op::register_stop, 0, 0ms);
  REQUIRE(stop);
  CHECK(stop->key == reg->key);
  CHECK_FALSE(f.dir.lookup(trunk_key("t.test", "carrier")));
  CHECK_FALSE(f.dir.lookup(trunk_source_key("192.0.2.10")));
  CHECK(f.dir.lookup(trunk_key("t.test", "second")) == second);
  // ...and the actor ends (its own register_stop follows, a no-op then).
  caf::scoped_actor me{f.sys};
  me->monitor(first);
  bool down = false;
  me->receive([&](const caf::down_msg&) { down = true; }, caf::after(5s) >> [] {});
  CHECK(down);
}

TEST_CASE("a trunk stopped by its tenant's exit gives its channels back", "[trunk]") {
  fixture f;
  f.channels->max = 5;
  auto rec = register_trunk();
  rec.auth_mode = "IP_AUTH";
  rec.keep_alive = false;
  auto trunk = f.spawn(rec);
  CHECK(f.seize(trunk, "a").code == 200);
  CHECK(f.seize(trunk, "b").code == 200);
  CHECK(f.channels->calls == 2);
  caf::anon_send_exit(trunk, caf::exit_reason::user_shutdown);
  for (int i = 0; i < 100 && f.channels->calls != 0; ++i)
    std::this_thread::sleep_for(20ms);
  CHECK(f.channels->calls == 0);
}
