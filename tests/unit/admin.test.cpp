// The typed admin layer's pure parts: who may do what (admin_access), which
// field an error blames, and how the shell's words become typed requests.

#include <catch2/catch.hpp>

#include "actors/admin.hpp"
#include "actors/admin_schema.hpp"
#include "actors/rule_commands.hpp"

using namespace pbx;

namespace {

admin_principal system_admin() { return admin_principal{admin_role::system, {}, {}, "test"}; }
admin_principal tenant_admin(std::string d) {
  return admin_principal{admin_role::tenant_admin, std::move(d), "200", "test"};
}
admin_principal user(std::string d, std::string n) {
  return admin_principal{admin_role::user, std::move(d), std::move(n), "test"};
}

bool allowed(const std::string& verdict) { return verdict.empty(); }

} // namespace

TEST_CASE("admin access: the system admin may do everything", "[admin]") {
  auto who = system_admin();
  tenant_query list;
  CHECK(allowed(admin_access::check(who, list)));
  CHECK(allowed(admin_access::check(who, tenant_add{"a.test", {}})));
  CHECK(allowed(admin_access::check(who, tenant_del{"a.test"})));
  CHECK(allowed(admin_access::check(who, stats_query{})));
  CHECK(allowed(admin_access::check(who, admin_password_set{"x"})));
  calls_query calls;
  CHECK(allowed(admin_access::check(who, calls)));
  CHECK(calls.domain.empty()); // all tenants' calls
}

TEST_CASE("admin access: a tenant admin stays in its tenant", "[admin]") {
  auto who = tenant_admin("a.test");
  CHECK(allowed(admin_access::check(who, tenant_set{"a.test", {{"name", "A"}}})));
  CHECK(allowed(admin_access::check(who, tenant_set{"A.TEST", {{"name", "A"}}})));
  CHECK_FALSE(allowed(admin_access::check(who, tenant_set{"b.test", {{"name", "B"}}})));
  CHECK_FALSE(allowed(admin_access::check(who, tenant_add{"a.test", {}})));
  CHECK_FALSE(allowed(admin_access::check(who, tenant_del{"a.test"})));
  CHECK_FALSE(allowed(admin_access::check(who, stats_query{})));
  CHECK_FALSE(allowed(admin_access::check(who, admin_password_set{"x"})));
  extension_cmd add;
  add.op = extension_op::add;
  add.domain = "a.test";
  add.number = "201";
  CHECK(allowed(admin_access::check(who, add)));
  add.domain = "b.test";
  CHECK_FALSE(allowed(admin_access::check(who, add)));
  // The node's calls are the system admin's; its own tenant's are its own.
  calls_query calls;
  CHECK_FALSE(allowed(admin_access::check(who, calls)));
  calls_query own{"a.test"};
  CHECK(allowed(admin_access::check(who, own)));
  calls_query other{"b.test"};
  CHECK_FALSE(allowed(admin_access::check(who, other)));
  // The audit log is narrowed to its tenant.
  audit_query audit;
  CHECK(allowed(admin_access::check(who, audit)));
  CHECK(audit.domain == "a.test");
  hangup_cmd h{"c1", ""};
  CHECK(allowed(admin_access::check(who, h)));
  CHECK(h.domain == "a.test");
}

TEST_CASE("admin access: a user changes only their own settings", "[admin]") {
  auto who = user("a.test", "201");
  rules_cmd fw;
  fw.verb = "forward";
  fw.sub = "set";
  fw.domain = "a.test";
  fw.number = "201";
  CHECK(allowed(admin_access::check(who, fw)));
  fw.number = "202";
  CHECK_FALSE(allowed(admin_access::check(who, fw)));
  rules_cmd tenant_hours;
  tenant_hours.verb = "hours";
  tenant_hours.sub = "set";
  tenant_hours.domain = "a.test";
  CHECK_FALSE(allowed(admin_access::check(who, tenant_hours)));
  rules_cmd explain;
  explain.verb = "explain";
  explain.domain = "a.test";
  explain.number = "201";
  CHECK_FALSE(allowed(admin_access::check(who, explain)));

  extension_cmd set;
  set.op = extension_op::set;
  set.domain = "a.test";
  set.number = "201";
  set.fields = {{"voicemail_pin", "2580"}, {"time_readout", "24h"}};
  CHECK(allowed(admin_access::check(who, set)));
  set.fields.push_back({"role", "admin"});
  CHECK_FALSE(allowed(admin_access::check(who, set)));
  set.fields = {{"voicemail_pin", "2580"}};
  set.number = "202";
  CHECK_FALSE(allowed(admin_access::check(who, set)));
  set.number = "201";
  set.op = extension_op::del;
  set.fields.clear();
  CHECK_FALSE(allowed(admin_access::check(who, set)));

  cdr_query mine{"a.test", 20, "", ""};
  CHECK(allowed(admin_access::check(who, mine)));
  CHECK(mine.extension == "201"); // only calls they made or took
  cdr_query theirs{"a.test", 20, "202", ""};
  CHECK_FALSE(allowed(admin_access::check(who, theirs)));
  CHECK_FALSE(allowed(admin_access::check(who, extension_query{"a.test", "", 0, ""})));
  CHECK(allowed(admin_access::check(who, extension_query{"a.test", "201", 0, ""})));
  CHECK_FALSE(allowed(admin_access::check(who, registrations_query{"a.test", "201"})));
  CHECK(allowed(admin_access::check(who, voicemail_cmd{"a.test", "201", "list", ""})));
  CHECK_FALSE(allowed(admin_access::check(who, voicemail_cmd{"a.test", "201", "greeting_set", "/x"})));
  calls_query calls;
  CHECK_FALSE(allowed(admin_access::check(who, calls)));
}

TEST_CASE("admin errors blame the field they are about", "[admin]") {
  CHECK(admin_schema::blamed_field("unknown field 'colour'") == "colour");
  CHECK(admin_schema::blamed_field("timeout must be 5-600 seconds") == "timeout");
  CHECK(admin_schema::blamed_field("date: the last day is before the first") == "date");
  CHECK(admin_schema::blamed_field("number= goes with FORWARD_TO_NUMBER only") == "number");
  CHECK(admin_schema::blamed_field("unknown time zone 'Mars/Base'") == "timezone");
  CHECK(admin_schema::blamed_field("unknown action 'RING'") == "action");
  CHECK(admin_schema::blamed_field("usage: hours show DOMAIN [NUMBER]").empty());
  CHECK(admin_schema::blamed_field("nothing to set").empty());
  auto r = admin_invalid("extension_password is required");
  CHECK_FALSE(r.ok);
  CHECK(r.code == admin_errc::invalid);
  CHECK(r.field == "extension_password");
}

TEST_CASE("admin schema types the record fields", "[admin]") {
  using admin_schema::field_kind;
  CHECK(admin_schema::kind_of("extension", "enabled") == field_kind::boolean);
  CHECK(admin_schema::kind_of("registration", "port") == field_kind::integer);
  CHECK(admin_schema::kind_of("status", "devices") == field_kind::integer);
  CHECK(admin_schema::kind_of("cdr", "devices") == field_kind::text);
  CHECK(admin_schema::kind_of("extension", "extension_number") == field_kind::text);
  CHECK(admin_schema::kind_of("explain", "") == field_kind::text);
  CHECK(admin_schema::iso_time_ms(0).empty());
  CHECK(admin_schema::iso_time_ms(1767225600123) == "2026-01-01T00:00:00.123Z");
}

TEST_CASE("shell words become a typed rules request", "[admin]") {
  rules_cmd c;
  REQUIRE(rule_commands::route({"forward", "set", "a.test", "201", "busy_office_hours",
                                "action=FORWARD_TO_NUMBER", "number=300"},
                               c).empty());
  CHECK(c.number == "201");
  CHECK(c.args == std::vector<std::string>{"busy_office_hours"});
  CHECK(c.fields == field_list{{"action", "FORWARD_TO_NUMBER"}, {"number", "300"}});
  REQUIRE(rule_commands::route({"explain", "a.test", "100", "201", "at=2026-03-29T09:00:00Z"},
                               c).empty());
  CHECK(c.args == std::vector<std::string>{"100"});
  CHECK(c.fields == field_list{{"at", "2026-03-29T09:00:00Z"}});
  REQUIRE(rule_commands::route({"fac", "set", "a.test", "dnd_on", "*55"}, c).empty());
  CHECK(c.args == std::vector<std::string>{"dnd_on", "*55"});
  CHECK(c.fields.empty());
  CHECK_FALSE(rule_commands::route({"status", "set", "a.test", "201", "away", "lunch"}, c).empty());
}

TEST_CASE("admin access: trunk status is for the system and the tenant's admins", "[admin]") {
  CHECK(allowed(admin_access::check(system_admin(), trunk_status_query{"a.test"})));
  CHECK(allowed(admin_access::check(tenant_admin("a.test"), trunk_status_query{"A.test"})));
  CHECK_FALSE(allowed(admin_access::check(tenant_admin("a.test"), trunk_status_query{"b.test"})));
  CHECK_FALSE(allowed(admin_access::check(user("a.test", "201"), trunk_status_query{"a.test"})));
  CHECK(admin_schema::kind_of("trunk", "online") == admin_schema::field_kind::boolean);
  CHECK(admin_schema::kind_of("trunk", "calls") == admin_schema::field_kind::integer);
}
