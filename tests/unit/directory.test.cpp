#include <catch2/catch.hpp>

#include <caf/all.hpp>

#include "engine/directory.hpp"

using namespace pbx;

TEST_CASE("directory: first registration wins, unregister only by the owner") {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto idle = [] { return caf::behavior{[](int) {}}; };
  auto a = sys.spawn(idle);
  auto b = sys.spawn(idle);
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
  caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(b, caf::exit_reason::user_shutdown);
}
