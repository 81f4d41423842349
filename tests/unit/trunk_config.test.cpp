// The shell fields of trunks and routing rules (actors/trunk_config.hpp) and
// who may change them.

#include <catch2/catch.hpp>

#include "actors/admin.hpp"
#include "actors/admin_schema.hpp"
#include "actors/trunk_config.hpp"

using namespace pbx;
namespace tc = pbx::trunk_config;

namespace {

storage::trunk_record trunk(std::string domain, std::string name, std::string host,
                            std::string pool) {
  storage::trunk_record t;
  t.domain = std::move(domain);
  t.name = std::move(name);
  t.auth_mode = "IP_AUTH";
  t.host = std::move(host);
  t.did_pool = std::move(pool);
  return t;
}

std::string apply(storage::trunk_record& t, field_list f) { return tc::apply_trunk_fields(t, f); }

} // namespace

TEST_CASE("trunk and rule names", "[trunkcfg]") {
  CHECK(tc::valid_name("gw-1_A"));
  CHECK(tc::valid_name(std::string(32, 'x')));
  CHECK_FALSE(tc::valid_name(std::string(33, 'x')));
  CHECK_FALSE(tc::valid_name(""));
  CHECK_FALSE(tc::valid_name("gw 1"));
  CHECK_FALSE(tc::valid_name("gw.1"));
  CHECK_FALSE(tc::valid_name("gw:1"));
}

TEST_CASE("trunk fields are checked one by one, naming the field", "[trunkcfg]") {
  storage::trunk_record t;
  REQUIRE(apply(t, {{"auth_mode", "register_auth"}, {"host", "Sip.Provider.example"},
                    {"port", "5070"}, {"transport", "TCP"}, {"username", "acct"},
                    {"password", "s3cret"}, {"register_interval", "60"},
                    {"keep_alive", "no"}, {"keep_alive_interval", "3600"},
                    {"source_ips", "192.0.2.1, 2001:db8::2"}, {"did_pool", "101; 203; 300-450"},
                    {"max_calls", "30"}, {"did_in", "request_uri"}, {"diversion", "yes"},
                    {"keep_caller_id", "no"}, {"caller_id", "+15551230000"},
                    {"outbound_proxy", "proxy.example:5060"}, {"enabled", "yes"}})
          == "");
  CHECK(t.auth_mode == "REGISTER_AUTH");
  CHECK(t.host == "sip.provider.example");
  CHECK(t.port == 5070);
  CHECK(t.transport == "tcp");
  CHECK(t.register_interval == 60);
  CHECK_FALSE(t.keep_alive);
  CHECK(t.keep_alive_interval == 3600);
  CHECK(t.source_ips == std::vector<std::string>{"192.0.2.1", "2001:db8::2"});
  CHECK(t.did_pool == "101;203;300-450");
  CHECK(t.max_calls == 30);
  CHECK(t.did_in_request_uri);
  CHECK(t.diversion);
  CHECK_FALSE(t.keep_caller_id);
  CHECK(tc::check_trunk(t) == "");

  auto before = t;
  auto refused = [&](field_list f, const std::string& field) {
    auto err = apply(t, f);
    CHECK_FALSE(err.empty());
    CHECK(admin_schema::blamed_field(err) == field);
    CHECK(t.port == before.port); // unchanged on error
    CHECK(t.did_pool == before.did_pool);
  };
  refused({{"port", "0"}}, "port");
  refused({{"port", "65536"}}, "port");
  refused({{"port", "50x"}}, "port");
  refused({{"register_interval", "59"}}, "register_interval");
  refused({{"register_interval", "3601"}}, "register_interval");
  refused({{"keep_alive_interval", "9"}}, "keep_alive_interval");
  refused({{"source_ips", "192.0.2.1,gw.example"}}, "source_ips");
  refused({{"did_pool", "0123-0200"}}, "did_pool");
  refused({{"did_pool", "+1555"}}, "did_pool");
  refused({{"did_pool", "300-45"}}, "did_pool");
  refused({{"port", "5080"}, {"did_pool", "abc"}}, "did_pool"); // all or nothing
  refused({{"transport", "tls"}}, "transport");
  refused({{"auth_mode", "TEAMS"}}, "auth_mode");
  refused({{"did_in", "from"}}, "did_in");
  refused({{"keep_alive", "maybe"}}, "keep_alive");
  refused({{"host", "bad host"}}, "host");
  refused({{"outbound_proxy", "proxy:0"}}, "outbound_proxy");
  refused({{"caller_id", "12ab"}}, "caller_id");
  refused({{"colour", "blue"}}, "colour");
  CHECK_FALSE(apply(t, {{"name", "other"}}).empty());
}

TEST_CASE("a trunk has what its auth mode needs", "[trunkcfg]") {
  storage::trunk_record t;
  t.auth_mode = "REGISTER_AUTH";
  CHECK(admin_schema::blamed_field(tc::check_trunk(t)) == "host");
  t.host = "sip.example";
  CHECK(admin_schema::blamed_field(tc::check_trunk(t)) == "username");
  t.username = "u";
  CHECK(admin_schema::blamed_field(tc::check_trunk(t)) == "password");
  t.password = "p";
  CHECK(tc::check_trunk(t) == "");

  t = {};
  t.auth_mode = "ACCEPT_REGISTER";
  CHECK(admin_schema::blamed_field(tc::check_trunk(t)) == "username");
  t.username = "gw";
  CHECK(admin_schema::blamed_field(tc::check_trunk(t)) == "password");
  t.password = "p";
  CHECK(tc::check_trunk(t) == "");

  t = {};
  t.auth_mode = "IP_AUTH";
  CHECK(admin_schema::blamed_field(tc::check_trunk(t)) == "host");
  t.host = "sip.example"; // a name cannot be matched against a source address
  CHECK(admin_schema::blamed_field(tc::check_trunk(t)) == "host");
  t.source_ips = {"192.0.2.7"};
  CHECK(tc::check_trunk(t) == "");
  t.source_ips.clear();
  t.host = "192.0.2.7";
  CHECK(tc::check_trunk(t) == "");
  t.host = "2001:db8::7";
  CHECK(tc::check_trunk(t) == "");
}

TEST_CASE("trunk show never prints the password", "[trunkcfg]") {
  auto t = trunk("a.test", "gw1", "192.0.2.1", "1000-1999");
  t.password = "very-secret";
  bool seen = false;
  for (auto& [k, v] : tc::describe_trunk(t)) {
    CHECK(v.find("very-secret") == std::string::npos);
    if (k == "password") {
      seen = true;
      CHECK(v == "***");
    }
  }
  CHECK(seen);
  t.password.clear();
  for (auto& [k, v] : tc::describe_trunk(t))
    if (k == "password")
      CHECK(v.empty());
}

TEST_CASE("DID pools of one provider must not overlap, in any tenant", "[trunkcfg]") {
  std::vector<storage::trunk_record> all = {
    trunk("a.test", "gw1", "sip.carrier.example", "1000-1999"),
    trunk("b.test", "carrier", "sip.carrier.example", "3000-3999"),
    trunk("b.test", "other", "sip.elsewhere.example", "5000-5999"),
  };
  auto mine = trunk("c.test", "gw", "SIP.carrier.example", "3500-3600");
  auto err = tc::pool_conflict(mine, all);
  CHECK(err.find("trunk carrier") != std::string::npos);
  CHECK(err.find("tenant b.test") != std::string::npos);
  CHECK(admin_schema::blamed_field(err) == "did_pool");
  mine.did_pool = "2000-2999"; // between the two: touching neither
  CHECK(tc::pool_conflict(mine, all) == "");
  mine.did_pool = "1999";
  CHECK(tc::pool_conflict(mine, all) != "");
  // Another provider may carry the same numbers.
  mine.did_pool = "5000-5999";
  CHECK(tc::pool_conflict(mine, all) == "");
  // A trunk does not conflict with itself (trunk set).
  CHECK(tc::pool_conflict(all[0], all) == "");
  // No pool or no host: nothing to compare.
  mine.host = "sip.carrier.example";
  mine.did_pool.clear();
  CHECK(tc::pool_conflict(mine, all) == "");
}

TEST_CASE("inbound rule fields: destinations default to the office one", "[trunkcfg]") {
  storage::inbound_rule_record r;
  REQUIRE(tc::apply_inbound_fields(r, {{"trunk", "gw1"}, {"did", "1000-1099"},
                                       {"office", "range:200-299"}})
          == "");
  CHECK(r.office.kind == "range");
  CHECK(r.outside.kind == "range");
  CHECK(r.holiday.value == "200-299");
  storage::inbound_rule_record r2;
  REQUIRE(tc::apply_inbound_fields(r2, {{"trunk", "gw1"}, {"did", "1000"},
                                        {"office", "extension:101"}, {"outside", "voicemail:101"},
                                        {"holiday", "hangup"}, {"cid", "0044**********"}})
          == "");
  CHECK(r2.outside.kind == "voicemail");
  CHECK(r2.holiday.kind == "hangup");
  CHECK(r2.cid_number_mask == "0044**********");
  storage::inbound_rule_record bad;
  CHECK(admin_schema::blamed_field(tc::apply_inbound_fields(bad, {{"did", "1000"},
                                                                  {"office", "hangup"}}))
        == "trunk");
  CHECK(admin_schema::blamed_field(tc::apply_inbound_fields(bad, {{"trunk", "gw1"},
                                                                  {"office", "hangup"}}))
        == "did");
  CHECK(admin_schema::blamed_field(tc::apply_inbound_fields(bad, {{"trunk", "gw1"},
                                                                  {"did", "1000"}}))
        == "office");
  CHECK(admin_schema::blamed_field(tc::apply_inbound_fields(
          bad, {{"trunk", "gw1"}, {"did", "1000"}, {"office", "teleport:5"}}))
        == "office");
}

TEST_CASE("inbound and outbound checks blame the shell's field names", "[trunkcfg]") {
  auto gw = trunk("a.test", "gw1", "192.0.2.1", "1000-1099");
  storage::inbound_rule_record r;
  REQUIRE(tc::apply_inbound_fields(r, {{"trunk", "gw1"}, {"did", "1000-1009"},
                                       {"office", "range:200-209"}})
          == "");
  CHECK(tc::check_inbound(r, gw) == "");
  r.did_numbers = "2000";  // outside the pool
  CHECK(admin_schema::blamed_field(tc::check_inbound(r, gw)) == "did");
  r.did_numbers = "1000-1009";
  r.cid_number_mask = "12a";
  CHECK(admin_schema::blamed_field(tc::check_inbound(r, gw)) == "cid");
  r.cid_number_mask.clear();
  r.outside = {"range", "200-299"};  // 10 DIDs, 100 extensions
  CHECK(admin_schema::blamed_field(tc::check_inbound(r, gw)) == "outside");

  storage::outbound_rule_record o;
  o.routes = {{"gw1", 0, "", ""}};
  CHECK(tc::check_outbound(o) == "");
  o.number_prefix = "0x";
  CHECK(admin_schema::blamed_field(tc::check_outbound(o)) == "prefix");
  o.number_prefix.clear();
  o.number_length = "ten";
  CHECK(admin_schema::blamed_field(tc::check_outbound(o)) == "length");
  o.number_length.clear();
  o.number_mask = "1-";
  CHECK(admin_schema::blamed_field(tc::check_outbound(o)) == "callers");
  o.number_mask.clear();
  o.routes[0].prepend = "9x";
  CHECK(admin_schema::blamed_field(tc::check_outbound(o)) == "route");
}

TEST_CASE("outbound routes: TRUNK[:STRIP[:PREPEND[:CALLER_ID]]], up to six, in order",
          "[trunkcfg]") {
  storage::outbound_rule_record r;
  REQUIRE(tc::apply_outbound_fields(r, {{"priority", "10"}, {"prefix", "00;011"},
                                        {"strategy", "randomly"}, {"outside_hours", "deny"},
                                        {"holidays", "allow"}, {"route", "gw1:2:9:5551000"},
                                        {"route", "gw2"}, {"route", "gw3::44"}})
          == "");
  CHECK(r.priority == 10);
  CHECK(r.routing_strategy == "RANDOMLY");
  CHECK(r.disable_outside_hours);
  CHECK_FALSE(r.disable_on_holidays);
  REQUIRE(r.routes.size() == 3);
  CHECK(r.routes[0].trunk == "gw1");
  CHECK(r.routes[0].strip_digits == 2);
  CHECK(r.routes[0].prepend == "9");
  CHECK(r.routes[0].outbound_caller_id == "5551000");
  CHECK(r.routes[2].prepend == "44");
  CHECK(tc::format_route(r.routes[0]) == "gw1:2:9:5551000");
  CHECK(tc::format_route(r.routes[1]) == "gw2");
  CHECK(tc::format_route(r.routes[2]) == "gw3:0:44");
  // A set without route= keeps them; with route= they are replaced.
  REQUIRE(tc::apply_outbound_fields(r, {{"priority", "20"}}) == "");
  CHECK(r.routes.size() == 3);
  REQUIRE(tc::apply_outbound_fields(r, {{"route", "gw9"}}) == "");
  REQUIRE(r.routes.size() == 1);
  CHECK(r.routes[0].trunk == "gw9");

  field_list seven;
  for (int i = 0; i < 7; ++i)
    seven.emplace_back("route", "gw" + std::to_string(i));
  auto err = tc::apply_outbound_fields(r, seven);
  CHECK(admin_schema::blamed_field(err) == "route");
  CHECK(r.routes.size() == 1);
  CHECK(admin_schema::blamed_field(tc::apply_outbound_fields(r, {{"route", "gw1:10"}}))
        == "route");
  CHECK(admin_schema::blamed_field(tc::apply_outbound_fields(r, {{"route", "gw1:1:2:3:4"}}))
        == "route");
  CHECK(admin_schema::blamed_field(tc::apply_outbound_fields(r, {{"priority", "x"}}))
        == "priority");
  CHECK(admin_schema::blamed_field(tc::apply_outbound_fields(r, {{"strategy", "ROUNDROBIN"}}))
        == "strategy");
  storage::outbound_rule_record none;
  CHECK(admin_schema::blamed_field(tc::check_outbound(none)) == "route");
}

TEST_CASE("an extension's outbound caller IDs, per trunk", "[trunkcfg]") {
  std::vector<storage::outbound_caller_id> ids;
  REQUIRE(tc::apply_outbound_caller_ids(ids, "gw1:5551000") == "");
  REQUIRE(tc::apply_outbound_caller_ids(ids, "gw2:+15552000,gw1:5551001") == "");
  CHECK(tc::format_outbound_caller_ids(ids) == "gw1:5551001,gw2:+15552000");
  REQUIRE(tc::apply_outbound_caller_ids(ids, "gw1:") == "");
  CHECK(tc::format_outbound_caller_ids(ids) == "gw2:+15552000");
  CHECK_FALSE(tc::apply_outbound_caller_ids(ids, "gw2").empty());
  CHECK_FALSE(tc::apply_outbound_caller_ids(ids, "gw2:abc").empty());
  CHECK_FALSE(tc::apply_outbound_caller_ids(ids, "bad name:1").empty());
  CHECK(tc::format_outbound_caller_ids(ids) == "gw2:+15552000");
}

TEST_CASE("tenant trunk fields", "[trunkcfg]") {
  storage::e164_record e;
  std::uint32_t max = 0;
  bool known = false;
  CHECK(tc::apply_tenant_trunk_field(e, max, "e164", "yes", known) == "");
  CHECK(known);
  CHECK(e.enabled);
  CHECK(tc::apply_tenant_trunk_field(e, max, "country_code", "44", known) == "");
  CHECK(e.country_code == "44");
  CHECK(tc::apply_tenant_trunk_field(e, max, "max_trunk_calls", "12", known) == "");
  CHECK(max == 12);
  CHECK(tc::apply_tenant_trunk_field(e, max, "e164_remove_same_country", "no", known) == "");
  CHECK_FALSE(e.remove_same_country);
  CHECK(admin_schema::blamed_field(tc::apply_tenant_trunk_field(e, max, "area_code", "2x", known))
        == "area_code");
  tc::apply_tenant_trunk_field(e, max, "colour", "x", known);
  CHECK_FALSE(known);
}

TEST_CASE("trunks and routing rules are the administrators'", "[trunkcfg][admin]") {
  admin_principal sys{admin_role::system, {}, {}, "test"};
  admin_principal ta{admin_role::tenant_admin, "a.test", "200", "test"};
  admin_principal user{admin_role::user, "a.test", "201", "test"};
  for (auto verb : {"add", "set", "del", "show", "list"}) {
    trunk_cmd t{verb, "a.test", "gw1", {}};
    CHECK(admin_access::check(sys, t).empty());
    CHECK(admin_access::check(ta, t).empty());
    CHECK_FALSE(admin_access::check(user, t).empty());
    t.domain = "b.test";
    CHECK_FALSE(admin_access::check(ta, t).empty());
  }
  inbound_cmd in{"add", "a.test", "r1", {}};
  CHECK(admin_access::check(ta, in).empty());
  CHECK_FALSE(admin_access::check(user, in).empty());
  outbound_cmd out{"add", "A.TEST", "r1", {}};
  CHECK(admin_access::check(ta, out).empty());
  CHECK_FALSE(admin_access::check(user, out).empty());
  out.domain = "b.test";
  CHECK_FALSE(admin_access::check(ta, out).empty());
}
