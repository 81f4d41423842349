#include <catch2/catch.hpp>

#include <caf/all.hpp>

#include "engine/directory.hpp"

using namespace pbx;

namespace {

// Two idle actors to own keys; stopped with the test.
struct two_actors {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  caf::actor a = sys.spawn([] { return caf::behavior{[](int) {}}; });
  caf::actor b = sys.spawn([] { return caf::behavior{[](int) {}}; });
  ~two_actors() {
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(b, caf::exit_reason::user_shutdown);
  }
};

} // namespace

TEST_CASE("directory: first registration wins, unregister only by the owner") {
  two_actors f;
  auto &a = f.a, &b = f.b;
  local_directory dir;
  auto key = extension_key("a.test", "101");
  CHECK(!dir.lookup(key));
  CHECK(dir.register_first_wins(key, a) == a);
  CHECK(dir.register_first_wins(key, b) == a);
  dir.unregister(key, b);
  CHECK(dir.lookup(key) == a);
  dir.unregister(key, a);
  CHECK(!dir.lookup(key));
  CHECK(tenant_key("a.test") != extension_key("a.test", ""));
  CHECK(dir.register_first_wins(tenant_key("a.test"), b) == b);
  CHECK(dir.register_first_wins(key, a) == a);
  CHECK(dir.count("t/") == 1);
  CHECK(dir.count("e/") == 1);
}

TEST_CASE("directory: watchers see each change of their prefix, in order; kinds are counted") {
  two_actors f;
  auto &a = f.a, &b = f.b;
  local_directory dir;
  std::vector<std::pair<std::string, caf::actor>> seen;
  dir.watch("t/", [&](const std::string& k, const caf::actor& o) { seen.emplace_back(k, o); });
  dir.watch("ks/", [&](const std::string& k, const caf::actor& o) { seen.emplace_back(k, o); });
  CHECK(dir.register_first_wins(tenant_key("a.test"), a) == a);
  CHECK(dir.register_first_wins(tenant_key("a.test"), b) == a); // lost: no change
  CHECK(dir.register_first_wins(extension_key("a.test", "101"), b) == b); // not watched
  CHECK(dir.register_first_wins(trunk_source_key("192.0.2.1"), b) == b);
  dir.unregister(tenant_key("a.test"), b); // not the owner: no change
  dir.unregister(tenant_key("a.test"), a);
  REQUIRE(seen.size() == 3);
  CHECK(seen[0] == std::make_pair(tenant_key("a.test"), a));
  CHECK(seen[1] == std::make_pair(trunk_source_key("192.0.2.1"), b));
  CHECK(seen[2].first == tenant_key("a.test"));
  CHECK(!seen[2].second);
  CHECK(dir.count("t/") == 0);
  CHECK(dir.count("e/") == 1);
  CHECK(dir.count("ks/") == 1);
  CHECK(dir.count("k") == 1); // not a kind: counted by a scan ("ks/...")
  CHECK(dir.count("e/a.test/") == 1);
  dir.unregister(extension_key("a.test", "101"), b);
  CHECK(dir.count("e/") == 0);
}
