#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <thread>

#include <caf/all.hpp>

#include "actors/messages/registration.hpp"
#include "engine/context.hpp"
#include "engine/directory.hpp"
#include "engine/placement.hpp"
#include "engine/router.hpp"
#include "storage/store.hpp"
#include "storage/test_support.hpp"
#include "tests/unit/no_sip.hpp"

using namespace pbx;
using storage::test::temp_dir;

namespace {

// A domain that rendezvous places on `want` among members a (1) and b (2).
std::string domain_on(const rendezvous& p, node_number want) {
  for (int i = 0;; ++i) {
    auto d = "t" + std::to_string(i) + ".test";
    if (p.owner(d) == want)
      return d;
  }
}

} // namespace

TEST_CASE("router: a tenant placed on another node goes to that node's router", "[placement]") {
  temp_dir dir;
  auto store = storage::store::open(dir.path, {}, nullptr);
  REQUIRE(store);
  local_directory directory;
  test::no_sip sip;
  rendezvous placed{{{"a", 1}, {"b", 2}}};
  auto here = domain_on(placed, 1);
  auto there = domain_on(placed, 2);
  {
    storage::tenant_record t;
    t.domain = here;
    t.name = here;
    storage::batch b;
    b.put(t);
    t.domain = there; // stored on every node; placed on b
    t.name = there;
    b.put(t);
    REQUIRE(store->write(std::move(b)).empty());
  }
  node_context ctx;
  ctx.store = store.get();
  ctx.dir = &directory;
  ctx.sip = &sip;
  ctx.node = 1;
  ctx.placed = &placed;
  ctx.now = [] { return std::int64_t{1800000000}; };
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  std::promise<std::string> got;
  auto other_router = sys.spawn([&got](caf::event_based_actor*) -> caf::behavior {
    return {[&got](const register_request& r) { got.set_value(r.domain); }};
  });
  ctx.remote_router = [&](node_number n) { return n == 2 ? other_router : caf::actor{}; };
  auto router = sys.spawn(router_actor, &ctx);
  register_request r;
  r.domain = there;
  r.user = "101";
  r.txn = qualify(1, 1);
  caf::anon_send(router, r);
  auto f = got.get_future();
  REQUIRE(f.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  CHECK(f.get() == there);
  CHECK(!directory.lookup(tenant_key(there))); // not activated here
  // Its own tenant is activated here.
  r.domain = here;
  caf::anon_send(router, r);
  for (int i = 0; i < 250 && !directory.lookup(tenant_key(here)); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(directory.lookup(tenant_key(here)));
  CHECK(!directory.lookup(tenant_key(there)));
  caf::anon_send_exit(router, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(other_router, caf::exit_reason::user_shutdown);
}
