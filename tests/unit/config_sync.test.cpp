#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "engine/config_sync.hpp"

using namespace pbx;
using json = nlohmann::json;

namespace {

etcd::key_value kv(const std::string& key, const std::string& value) {
  etcd::key_value k;
  k.key = key;
  k.value = value;
  return k;
}

const std::string ext_key = std::string("a.test\0" "100", 10); // storage's domain NUL number

} // namespace

TEST_CASE("config sync: a batch's changes become one fenced txn in etcd") {
  storage::batch b;
  b.put(storage::tenant_record{"a.test", "Alpha", "UTC"});
  b.erase_tenant("old.test"); // erase + erase_prefix of the config tables; data stays out
  auto changes = b.config_changes();
  REQUIRE(changes.size() == 6); // tenant put, tenant erase, extensions, trunks, 2 rules
  auto bodies = config_sync::txn_bodies(
    changes, {{"/actorpbx/v1/owner/a.test", etcd::txn_compare::target::mod, 41}});
  REQUIRE(bodies.size() == 1);
  auto t = json::parse(bodies[0]);
  REQUIRE(t["compare"].size() == 1);
  CHECK(t["compare"][0]["target"] == "MOD");
  CHECK(t["compare"][0]["mod_revision"] == "41");
  REQUIRE(t["success"].size() == 6);
  auto& put = t["success"][0]["request_put"];
  CHECK(etcd::base64_decode(put["key"]) == std::optional<std::string>{"/actorpbx/v1/config/tenants/a.test"});
  CHECK(put.count("lease") == 0); // configuration outlives every node
  auto& all = t["success"][2]["request_delete_range"];
  auto key = etcd::base64_decode(all["key"]).value();
  CHECK(key.rfind("/actorpbx/v1/config/extensions/old.test", 0) == 0);
  CHECK(etcd::base64_decode(all["range_end"]) == std::optional<std::string>{etcd::prefix_end(key)});

  // More writes than one txn takes: several txns, each fenced.
  storage::batch big;
  for (int i = 0; i < 250; ++i) {
    storage::extension_record e;
    e.domain = "a.test";
    e.number = std::to_string(1000 + i);
    big.put(e);
  }
  auto parts = config_sync::txn_bodies(
    big.config_changes(), {{"/actorpbx/v1/owner/a.test", etcd::txn_compare::target::mod, 7}});
  REQUIRE(parts.size() == 3);
  CHECK(json::parse(parts[0])["success"].size() == 120);
  CHECK(json::parse(parts[2])["success"].size() == 10);
  for (auto& p : parts)
    CHECK(json::parse(p)["compare"].size() == 1);

  CHECK(config_sync::creates_tenant(
    storage::batch{[] { storage::batch x; x.put(storage::tenant_record{"n.test", "N", "UTC"}); return x; }()}
      .config_changes()));
  CHECK_FALSE(config_sync::creates_tenant(changes));
  CHECK_FALSE(config_sync::creates_tenant({}));
}

TEST_CASE("config sync: watch events and reads become changes of known tables only") {
  auto c = config_sync::change_of(kv("/actorpbx/v1/config/extensions/" + ext_key, "REC"), false);
  REQUIRE(c);
  CHECK(c->table == "extensions");
  CHECK(c->key == ext_key);
  CHECK(c->value == "REC");
  CHECK(c->what == storage::config_change::kind::put);
  auto d = config_sync::change_of(kv("/actorpbx/v1/config/tenants/a.test", ""), true);
  REQUIRE(d);
  CHECK(d->what == storage::config_change::kind::erase);
  CHECK_FALSE(config_sync::change_of(kv("/actorpbx/v1/config/bindings/x", "v"), false));
  CHECK_FALSE(config_sync::change_of(kv("/actorpbx/v1/owner/a.test", "n1"), false));
  CHECK_FALSE(config_sync::change_of(kv("/actorpbx/v1/config/tenants", "v"), false));
}

TEST_CASE("config sync: a snapshot puts what etcd has and erases what it has not") {
  std::vector<etcd::key_value> read{kv("/actorpbx/v1/config/tenants/a.test", "T"),
                                    kv("/actorpbx/v1/nodes/n1", "{}")};
  std::size_t erased = 99;
  auto b = config_sync::snapshot(read, {{"tenants", "a.test"}, {"tenants", "gone.test"},
                                        {"extensions", ext_key}}, &erased);
  CHECK(erased == 2);
  CHECK(b.replicated());
  auto changes = b.config_changes();
  REQUIRE(changes.size() >= 3);
  CHECK(changes[0].what == storage::config_change::kind::put);
  CHECK(changes[0].key == "a.test");
  CHECK(changes[1].what == storage::config_change::kind::erase);
  CHECK(changes[1].key == "gone.test");
  bool extension_erased = false;
  for (auto& c : changes)
    extension_erased |= c.table == "extensions" && c.key == ext_key
                        && c.what == storage::config_change::kind::erase;
  CHECK(extension_erased);
}
