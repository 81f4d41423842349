// etcd's gateway JSON (bodies as etcd 3.4.23 sent them), base64, and the
// member list kept from reads of the nodes prefix.

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "engine/etcd_messages.hpp"
#include "engine/member_list.hpp"

using namespace pbx;
using json = nlohmann::json;

TEST_CASE("base64 matches RFC 4648's vectors and round-trips any bytes", "[etcd]") {
  CHECK(etcd::base64_encode("") == "");
  CHECK(etcd::base64_encode("f") == "Zg==");
  CHECK(etcd::base64_encode("fo") == "Zm8=");
  CHECK(etcd::base64_encode("foo") == "Zm9v");
  CHECK(etcd::base64_encode("foobar") == "Zm9vYmFy");
  CHECK(etcd::base64_decode("Zg==") == std::optional<std::string>{"f"});
  CHECK(etcd::base64_decode("Zm8=") == std::optional<std::string>{"fo"});
  CHECK(etcd::base64_decode("Zm9vYmFy") == std::optional<std::string>{"foobar"});
  std::string bytes;
  for (int i = 0; i < 256; ++i)
    bytes += static_cast<char>(i);
  for (std::size_t n = 0; n <= bytes.size(); n += 7) {
    auto raw = bytes.substr(0, n);
    CHECK(etcd::base64_decode(etcd::base64_encode(raw)) == std::optional<std::string>{raw});
  }
  CHECK_FALSE(etcd::base64_decode("Zm9"));   // not a multiple of 4
  CHECK_FALSE(etcd::base64_decode("Zm9*"));  // not the alphabet
}

TEST_CASE("a prefix's range end is the prefix with its last byte plus one", "[etcd]") {
  CHECK(etcd::prefix_end("/actorpbx/v1/nodes/") == "/actorpbx/v1/nodes0");
  CHECK(etcd::prefix_end(std::string{"a\xff", 2}) == "b");
}

TEST_CASE("request bodies say what the gateway reads", "[etcd]") {
  CHECK(json::parse(etcd::lease_grant_body(6)) == json{{"TTL", "6"}});
  CHECK(json::parse(etcd::lease_keepalive_body(4111120459150381831))
        == json{{"ID", "4111120459150381831"}});
  CHECK(json::parse(etcd::lease_revoke_body(42)) == json{{"ID", "42"}});

  auto range = json::parse(etcd::range_prefix_body("/actorpbx/v1/nodes/"));
  CHECK(range["key"] == "L2FjdG9ycGJ4L3YxL25vZGVzLw==");
  CHECK(etcd::base64_decode(range["range_end"]) == std::optional<std::string>{"/actorpbx/v1/nodes0"});

  auto txn = json::parse(etcd::create_all_body({{"/k/a", "va"}, {"/k/b", "vb"}}, 77));
  REQUIRE(txn["compare"].size() == 2);
  REQUIRE(txn["success"].size() == 2);
  REQUIRE(txn["failure"].size() == 2);
  auto& c = txn["compare"][1];
  CHECK(etcd::base64_decode(c["key"]) == std::optional<std::string>{"/k/b"});
  CHECK(c["target"] == "CREATE");
  CHECK(c["result"] == "EQUAL");
  CHECK(c["create_revision"] == "0");
  auto& put = txn["success"][0]["request_put"];
  CHECK(etcd::base64_decode(put["key"]) == std::optional<std::string>{"/k/a"});
  CHECK(etcd::base64_decode(put["value"]) == std::optional<std::string>{"va"});
  CHECK(put["lease"] == "77");
  CHECK(etcd::base64_decode(txn["failure"][1]["request_range"]["key"])
        == std::optional<std::string>{"/k/b"});

  auto release = json::parse(etcd::delete_if_body("/actorpbx/v1/owner/a.test", 912));
  REQUIRE(release["compare"].size() == 1);
  CHECK(release["compare"][0]["target"] == "MOD");
  CHECK(release["compare"][0]["result"] == "EQUAL");
  CHECK(release["compare"][0]["mod_revision"] == "912");
  CHECK(etcd::base64_decode(release["success"][0]["request_delete_range"]["key"])
        == std::optional<std::string>{"/actorpbx/v1/owner/a.test"});
  CHECK(release.count("failure") == 0);
}

namespace {
const char* header = R"("header":{"cluster_id":"15118495548433857066","member_id":"13668033151171901709","revision":"2","raft_term":"2"})";
std::string obj(const std::string& rest) { return std::string{"{"} + header + rest + "}"; }
} // namespace

TEST_CASE("lease answers: granted, kept, gone, refused", "[etcd]") {
  auto g = etcd::parse_lease_grant(obj(R"(,"ID":"4111120459150381829","TTL":"6")"));
  CHECK(g.error.empty());
  CHECK(g.id == 4111120459150381829);
  CHECK(g.ttl == 6);
  CHECK_FALSE(etcd::parse_lease_grant(obj("")).error.empty()); // no ID: no lease

  // Keepalive streams: one {"result":...} line per renewal.
  auto k = etcd::parse_keepalive(std::string{R"({"result":)"} + obj(R"(,"ID":"41","TTL":"6")") + "}\n");
  CHECK(k.error.empty());
  CHECK(k.ttl == 6);
  // A revoked or expired lease: the result has no TTL.
  auto gone = etcd::parse_keepalive(std::string{R"({"result":)"} + obj(R"(,"ID":"41")") + "}");
  CHECK(gone.error.empty());
  CHECK(gone.ttl == 0);

  auto err = etcd::parse_keepalive(
    R"({"error":"etcdserver: requested lease not found","message":"etcdserver: requested lease not found","code":5})");
  CHECK(err.error == "etcdserver: requested lease not found");
  CHECK(etcd::parse_keepalive("<html>").error == "bad JSON from etcd");
}

TEST_CASE("range and txn answers give their keys back decoded", "[etcd]") {
  auto kv = R"({"key":"L2FjdG9ycGJ4L3YxL25vZGVzL2E=","create_revision":"2","mod_revision":"3","version":"1","value":"eyJub2RlIjoxfQ==","lease":"4111120459150381831"})";
  auto r = etcd::parse_range(obj(std::string{R"(,"kvs":[)"} + kv + R"(],"count":"1")"));
  REQUIRE(r.error.empty());
  CHECK(r.revision == 2);
  REQUIRE(r.kvs.size() == 1);
  CHECK(r.kvs[0].key == "/actorpbx/v1/nodes/a");
  CHECK(r.kvs[0].value == R"({"node":1})");
  CHECK(r.kvs[0].create_revision == 2);
  CHECK(r.kvs[0].mod_revision == 3);
  CHECK(r.kvs[0].lease == 4111120459150381831);
  CHECK(etcd::parse_range(obj("")).kvs.empty()); // an empty prefix has no "kvs"

  auto ok = etcd::parse_txn(obj(R"(,"succeeded":true,"responses":[{"response_put":{"header":{"revision":"2"}}}])"));
  CHECK(ok.error.empty());
  CHECK(ok.succeeded);
  CHECK(ok.existing.empty());

  auto taken = etcd::parse_txn(obj(std::string{R"(,"responses":[{"response_range":{"header":{"revision":"2"},"kvs":[)"}
                                   + kv + R"(],"count":"1"}},{"response_range":{"header":{"revision":"2"}}}])"));
  CHECK(taken.error.empty());
  CHECK_FALSE(taken.succeeded);
  REQUIRE(taken.existing.size() == 1);
  CHECK(taken.existing[0].key == "/actorpbx/v1/nodes/a");

  auto lost = etcd::parse_txn(R"({"error":"etcdserver: requested lease not found","message":"etcdserver: requested lease not found","code":5})");
  CHECK(lost.error.find("lease not found") != std::string::npos);
}

namespace {
etcd::key_value node_kv(const std::string& name, std::uint32_t node, std::int64_t lease,
                        std::int64_t rev, std::uint32_t wire = cluster_wire_version) {
  member m;
  m.node = node;
  m.address = "127.0.0.1:" + std::to_string(4000 + node);
  m.wire = wire;
  m.start_ms = 1000;
  return {nodes_prefix + name, member_value(m), rev, rev, lease};
}
} // namespace

TEST_CASE("a member's value reads back as written", "[etcd]") {
  member m;
  m.node = 7;
  m.address = "[::1]:4100";
  m.wire = cluster_wire_version;
  m.start_ms = 1733400000000;
  std::string error;
  auto back = parse_member("b", member_value(m), error);
  REQUIRE(back);
  CHECK(back->name == "b");
  CHECK(back->node == 7);
  CHECK(back->address == "[::1]:4100");
  CHECK(back->wire == cluster_wire_version);
  CHECK(back->start_ms == 1733400000000);
  CHECK_FALSE(parse_member("b", R"({"node":1})", error));
  CHECK_FALSE(parse_member("b", "not json", error));
}

TEST_CASE("the member list follows the reads: joins, leaves, new leases", "[etcd]") {
  member_list list;
  auto c = list.apply({node_kv("a", 1, 10, 2), node_kv("b", 2, 20, 3)}, 1000);
  CHECK(c.joined == std::vector<std::string>{"a", "b"});
  CHECK(c.left.empty());
  REQUIRE(list.members().size() == 2);
  CHECK(list.members().at("b").node == 2);
  CHECK(list.members().at("b").lease == 20);
  CHECK(list.members().at("b").seen_ms == 1000);

  // The same registrations: no change, first sighting kept.
  c = list.apply({node_kv("a", 1, 10, 2), node_kv("b", 2, 20, 3)}, 5000);
  CHECK(c.joined.empty());
  CHECK(c.left.empty());
  CHECK(list.members().at("a").seen_ms == 1000);

  // b's key deleted (lease expired): gone. a registered again on a new lease.
  c = list.apply({node_kv("a", 1, 11, 9)}, 8000);
  CHECK(c.left == std::vector<std::string>{"b"});
  CHECK(c.joined.empty());
  REQUIRE(list.members().size() == 1);
  CHECK(list.members().at("a").lease == 11);
  CHECK(list.members().at("a").seen_ms == 8000);

  // Keys outside the nodes prefix are not members.
  c = list.apply({node_kv("a", 1, 11, 9), {"/actorpbx/v1/node-ids/1", "a", 9, 9, 11}}, 9000);
  CHECK(list.members().size() == 1);
}

TEST_CASE("a member with another wire version is refused, said once", "[etcd]") {
  member_list list;
  auto c = list.apply({node_kv("a", 1, 10, 2), node_kv("old", 2, 20, 3, cluster_wire_version + 1)},
                      1000);
  CHECK(c.joined == std::vector<std::string>{"a"});
  REQUIRE(c.refused.size() == 1);
  CHECK(c.refused[0].find("'old'") != std::string::npos);
  CHECK(c.refused[0].find("wire version") != std::string::npos);
  CHECK(list.members().count("old") == 0);

  c = list.apply({node_kv("a", 1, 10, 2), node_kv("old", 2, 20, 3, cluster_wire_version + 1)},
                 2000);
  CHECK(c.refused.empty()); // the same registration: not logged again
  CHECK(list.members().count("old") == 0);

  // Registered again with the right version: a member now.
  c = list.apply({node_kv("a", 1, 10, 2), node_kv("old", 2, 21, 7)}, 3000);
  CHECK(c.joined == std::vector<std::string>{"old"});
  CHECK(c.refused.empty());

  // A value that is not a member's is refused too.
  c = list.apply({node_kv("a", 1, 10, 2), {nodes_prefix + "junk", "{", 8, 8, 30}}, 4000);
  REQUIRE(c.refused.size() == 1);
  CHECK(c.refused[0].find("'junk'") != std::string::npos);
  CHECK(c.left == std::vector<std::string>{"old"});
}

TEST_CASE("watch lines: created, events, canceled by compaction", "[etcd]") {
  auto w = json::parse(etcd::watch_prefix_body("/actorpbx/v1/nodes/", 8));
  auto& cr = w["create_request"];
  CHECK(etcd::base64_decode(cr["key"]) == std::optional<std::string>{"/actorpbx/v1/nodes/"});
  CHECK(etcd::base64_decode(cr["range_end"]) == std::optional<std::string>{"/actorpbx/v1/nodes0"});
  CHECK(cr["start_revision"] == "8");

  // As etcd 3.4.23 streamed them (a put has no "type").
  auto created = etcd::parse_watch(R"({"result":{"header":{"cluster_id":"1","member_id":"2","revision":"1","raft_term":"2"},"created":true}})");
  CHECK(created.error.empty());
  CHECK(created.created);
  CHECK(created.events.empty());

  auto two = etcd::parse_watch(R"({"result":{"header":{"cluster_id":"1","member_id":"2","revision":"3","raft_term":"2"},"events":[{"kv":{"key":"L2FjdG9ycGJ4L3YxL25vZGVzL2E=","create_revision":"2","mod_revision":"2","version":"1","value":"eyJub2RlIjoxfQ=="}},{"type":"DELETE","kv":{"key":"L2FjdG9ycGJ4L3YxL25vZGVzL2E=","mod_revision":"3"}}]}})");
  REQUIRE(two.error.empty());
  CHECK(two.revision == 3);
  REQUIRE(two.events.size() == 2);
  CHECK_FALSE(two.events[0].deleted);
  CHECK(two.events[0].kv.key == "/actorpbx/v1/nodes/a");
  CHECK(two.events[0].kv.value == R"({"node":1})");
  CHECK(two.events[1].deleted);
  CHECK(two.events[1].kv.mod_revision == 3);

  auto compacted = etcd::parse_watch(R"({"result":{"header":{"cluster_id":"1","member_id":"2","raft_term":"2"},"canceled":true,"compact_revision":"3"}})");
  CHECK(compacted.canceled);
  CHECK(compacted.compact_revision == 3);

  CHECK_FALSE(etcd::parse_watch(R"({"header":{"revision":"3"}})").error.empty());
}

TEST_CASE("watch events update the member list in order", "[etcd]") {
  member_list list;
  list.apply({node_kv("a", 1, 10, 2)}, 1000);
  auto put_b = etcd::watch_event{false, node_kv("b", 2, 20, 5)};
  auto c = list.apply({put_b}, 2000);
  CHECK(c.joined == std::vector<std::string>{"b"});
  CHECK(list.members().at("b").seen_ms == 2000);

  // A renewal-free rewrite on the same lease keeps the first sighting.
  c = list.apply({etcd::watch_event{false, node_kv("b", 2, 20, 6)}}, 3000);
  CHECK(c.joined.empty());
  CHECK(list.members().at("b").seen_ms == 2000);

  etcd::watch_event del_a{true, {}};
  del_a.kv.key = nodes_prefix + "a";
  del_a.kv.mod_revision = 7;
  c = list.apply({del_a, etcd::watch_event{false, node_kv("old", 3, 30, 8, 99)}}, 4000);
  CHECK(c.left == std::vector<std::string>{"a"});
  REQUIRE(c.refused.size() == 1);
  CHECK(list.members().count("old") == 0);
  CHECK(list.members().size() == 1);

  // A member that turns into something refused leaves.
  c = list.apply({etcd::watch_event{false, {nodes_prefix + "b", "{", 9, 9, 20}}}, 5000);
  CHECK(c.left == std::vector<std::string>{"b"});
  CHECK(list.members().empty());
}

TEST_CASE("etcd: a watch stream is cut into lines, and an endless line is refused") {
  etcd::line_buffer b{16};
  std::vector<std::string> lines;
  auto keep = [&](std::string l) { lines.push_back(std::move(l)); };
  CHECK(b.feed("{\"a\":1}\n{\"b\"", 12, keep));
  CHECK(lines == std::vector<std::string>{"{\"a\":1}"});
  CHECK(b.feed(":2}\n\n", 5, keep)); // empty lines are skipped
  CHECK(lines == std::vector<std::string>{"{\"a\":1}", "{\"b\":2}"});
  CHECK(b.feed("tail", 4, keep));
  CHECK(b.take_rest() == "tail");
  // A peer that never ends its line: refused once past the limit, not grown forever.
  etcd::line_buffer c{16};
  CHECK(c.feed("0123456789", 10, keep));
  CHECK_FALSE(c.feed("0123456789", 10, keep));
  CHECK(lines.size() == 2);
}
