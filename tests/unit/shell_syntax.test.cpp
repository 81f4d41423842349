#include <catch2/catch.hpp>

#include "actors/digest.hpp"

#include "actors/extension_fields.hpp"
#include "actors/password.hpp"
#include "actors/shell_syntax.hpp"

using namespace pbx;

TEST_CASE("words split on blanks, quotes group") {
  auto w = shell::split_words(R"(extension add a.test 101 display_name="Alice \"Al\" Smith" role=user)");
  REQUIRE(w);
  REQUIRE(w->size() == 6);
  CHECK((*w)[4] == R"(display_name=Alice "Al" Smith)");
  CHECK(!shell::split_words(R"(tenant add "open)"));
}

TEST_CASE("records quote what needs quoting and round-trip") {
  field_list f{{"a", "plain"}, {"b", "two words"}, {"c", ""}, {"d", R"(q"t)"}};
  auto line = shell::format_record(f);
  CHECK(line == R"(a=plain b="two words" c="" d="q\"t")");
  auto w = shell::split_words(line);
  REQUIRE(w);
  field_list back;
  CHECK(shell::parse_fields(*w, 0, back).empty());
  CHECK(back == f);
}

TEST_CASE("csv lines") {
  auto c = shell::split_csv(R"(101, "Smith, Alice" ,"say ""hi""",)");
  REQUIRE(c);
  CHECK(*c == std::vector<std::string>{"101", "Smith, Alice", R"(say "hi")", ""});
  CHECK(!shell::split_csv(R"(101,"open)"));
}

TEST_CASE("extension fields validate and leave the record alone on error") {
  storage::extension_record r;
  r.domain = "a.test";
  r.number = "101";
  CHECK(apply_extension_fields(r, {{"display_name", "Bob"}}, true)
        == "extension_password is required");
  CHECK(r.display_name.empty());
  CHECK(apply_extension_fields(r, {{"extension_password", "secret12"}, {"role", "superuser"}}, true)
        == "role must be user or admin");
  CHECK(apply_extension_fields(r, {{"extension_password", "secret12"}, {"bogus", "1"}}, true)
        == "unknown field 'bogus'");
  CHECK(apply_extension_fields(r, {{"extension_password", "secret12"}, {"name", "admin"}}, true)
        == "name 'admin' is reserved");
  CHECK(apply_extension_fields(r, {{"extension_password", "secret12"}, {"enabled", "maybe"}}, true)
        == "enabled must be true or false");
  REQUIRE(apply_extension_fields(r, {{"extension_password", "secret12"}, {"enabled", "false"},
                                     {"password", "webpass99"}, {"display_name", "Bob"}},
                                 true)
            .empty());
  // Only the digest HA1 is kept, for the record's own number and domain.
  CHECK(r.sip_ha1 == digest::ha1(r.number, r.domain, "secret12"));
  CHECK(r.sip_password.empty());
  CHECK(!r.enabled);
  CHECK(password::verify("webpass99", r.web_password_hash));
  CHECK(!password::verify("webpass98", r.web_password_hash));
  for (auto& [k, v] : describe_extension(r))
    CHECK((k != "extension_password" && k != "password"));
  // Weak SIP passwords: short, or the extension number, unless the tenant allows them.
  storage::extension_record w;
  w.domain = "a.test";
  w.number = "10000001";
  CHECK(apply_extension_fields(w, {{"extension_password", "short12"}}, true).rfind(
          "extension_password is weak", 0) == 0);
  CHECK(apply_extension_fields(w, {{"extension_password", "10000001"}}, true).rfind(
          "extension_password is weak", 0) == 0);
  CHECK(w.sip_ha1.empty());
  CHECK(apply_extension_fields(w, {{"extension_password", "10000001"}}, true, true).empty());
  CHECK(apply_extension_fields(w, {{"extension_password", "abc"}}, true, true)
        == "extension_password must be 4-64 characters");
  CHECK(valid_extension_number("101"));
  CHECK(!valid_extension_number("12"));
  CHECK(!valid_extension_number("10a"));
}
