// The tenant answers a register_batch (the REGISTERs the SIP thread read in
// one pass) as it answers each alone, and commits their bindings together.
#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <condition_variable>
#include <mutex>

#include <caf/all.hpp>

#include "actors/digest.hpp"
#include "actors/messages/registration.hpp"
#include "actors/tenant.hpp"
#include "engine/directory.hpp"
#include "engine/node_id.hpp"
#include "engine/sip_port.hpp"
#include "storage/store.hpp"
#include "storage/test_support.hpp"
#include "tests/unit/no_sip.hpp"

using namespace pbx;
using storage::test::make_ext;
using storage::test::temp_dir;

namespace {

constexpr std::int64_t now_s = 1'800'000'000;
constexpr const char* domain = "b.test";

struct recording_sip final : test::no_sip {
  std::mutex m;
  std::condition_variable cv;
  std::vector<sip_reply> got;
  void reply(sip_reply r) override {
    std::lock_guard<std::mutex> l{m};
    got.push_back(std::move(r));
    cv.notify_all();
  }
  std::vector<sip_reply> wait_for(std::size_t n) {
    std::unique_lock<std::mutex> l{m};
    cv.wait_for(l, std::chrono::seconds(10), [&] { return got.size() >= n; });
    return got;
  }
};

std::string password_of(const std::string& number) {
  return "pw-" + number;
}

register_request authenticated(std::uint64_t txn, const std::string& number,
                               const std::string& password, const std::string& secret) {
  register_request r;
  r.txn = txn;
  r.domain = domain;
  r.user = number;
  r.contacts.push_back(contact_entry{"sip:" + number + "@10.0.0.1:5060", "", -1});
  r.expires = 600;
  r.call_id = "cid-" + number;
  r.cseq = 2;
  r.source = flow_info{"10.0.0.1", 5060, "udp", 0};
  auto& a = r.auth;
  a.present = true;
  a.scheme = "Digest";
  a.username = number;
  a.realm = domain;
  a.nonce = digest::make_nonce(secret, domain, now_s);
  a.uri = std::string{"sip:"} + domain;
  a.algorithm = "MD5";
  a.qop = "auth";
  a.nc = "00000001";
  a.cnonce = "c" + number;
  a.response =
    digest::expected_response(digest::ha1(number, domain, password), "REGISTER", a);
  return r;
}

} // namespace

TEST_CASE("register_batch: each REGISTER answered as alone, the bindings committed together",
          "[registrar]") {
  temp_dir dir;
  auto store = storage::store::open(dir.path, {}, nullptr);
  REQUIRE(store);
  storage::tenant_record t;
  t.domain = domain;
  t.name = "b";
  storage::batch b;
  b.put(t);
  for (auto number : {"101", "102", "103"}) {
    auto e = make_ext(domain, number);
    e.enabled = true;
    e.sip_ha1 = digest::ha1(number, domain, password_of(number));
    b.put(e);
  }
  REQUIRE(store->write(std::move(b)).empty());
  local_directory directory;
  recording_sip sip;
  node_context ctx;
  ctx.store = store.get();
  ctx.dir = &directory;
  ctx.sip = &sip;
  ctx.now = [] { return now_s; };
  ctx.nonce_secret = "batch-secret";
  ctx.idle_passivation = std::chrono::seconds(600);
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto tenant = sys.spawn(tenant_actor, &ctx, t);
  struct stop_at_end { // a failed REQUIRE must not leave the system waiting for the tenant
    caf::actor a;
    ~stop_at_end() { caf::anon_send_exit(a, caf::exit_reason::user_shutdown); }
  } stop{tenant};

  register_batch batch;
  batch.requests.push_back(authenticated(qualify(ctx.node, 1), "101", password_of("101"), ctx.nonce_secret));
  batch.requests.push_back(authenticated(qualify(ctx.node, 2), "102", "wrong", ctx.nonce_secret));
  batch.requests.push_back(authenticated(qualify(ctx.node, 3), "103", password_of("103"), ctx.nonce_secret));
  auto unknown = authenticated(qualify(ctx.node, 4), "999", "whatever", ctx.nonce_secret);
  batch.requests.push_back(unknown);
  caf::anon_send(tenant, std::move(batch));

  auto got = sip.wait_for(4);
  REQUIRE(got.size() == 4);
  std::map<std::uint64_t, sip_reply> by_txn;
  for (auto& r : got)
    by_txn[local_id_mask & r.txn] = r;
  CHECK(by_txn[1].code == 200);
  REQUIRE(by_txn[1].contacts.size() == 1);
  CHECK(by_txn[1].contacts[0].uri == "sip:101@10.0.0.1:5060");
  CHECK(by_txn[1].contacts[0].expires == 600);
  CHECK(by_txn[2].code == 403);
  CHECK(by_txn[3].code == 200);
  CHECK(by_txn[4].code == 403); // an unknown user is told what a wrong password is
  // The 200s follow the commit: both bindings are in storage, 102's is not.
  CHECK(store->bindings(domain, "101").size() == 1);
  CHECK(store->bindings(domain, "102").empty());
  CHECK(store->bindings(domain, "103").size() == 1);
}
