#include <catch2/catch.hpp>

#include "actors/feature_code.hpp"

using namespace pbx;
using storage::forward_action;
using storage::forward_slot;

namespace {

constexpr std::size_t idx(forward_slot s) { return static_cast<std::size_t>(s); }

bool is_no_answer(std::size_t i) {
  return i == idx(forward_slot::available_no_answer) || i == idx(forward_slot::busy_no_answer);
}

// Dials `code` against tenant `t` and applies it; returns the confirmation.
std::string dial(storage::forwarding_record& f, const std::string& code,
                 const storage::tenant_rules_record& t = {}) {
  auto m = feature_code::find(t, code);
  INFO(code);
  REQUIRE(m);
  std::string err;
  auto out = feature_code::apply(f, *m, err);
  CHECK(err.empty());
  return out;
}

// Rules that differ from the defaults in every slot.
storage::forwarding_record customised() {
  storage::forwarding_record f;
  for (std::size_t i = 0; i < storage::forward_slot_count; ++i) {
    f.rules[i].action = forward_action::hangup;
    f.rules[i].number = "n" + std::to_string(i);
    f.rules[i].timeout = 10 + static_cast<std::uint32_t>(i);
  }
  return f;
}

}  // namespace

TEST_CASE("the feature list") {
  const auto& all = feature_code::features();
  REQUIRE(all.size() == 18);
  CHECK(std::string(all.front().name) == "cf_always_on");
  CHECK(std::string(all.front().default_code) == "*72");
  CHECK(all.front().arg == feature_code::argument::required);
  CHECK(std::string(all.front().what) == "call forwarding always to a number");
  CHECK(std::string(all.back().name) == "dnd_off");
  CHECK(std::string(all.back().default_code) == "*79");
  const std::pair<const char*, const char*> codes[] = {
    {"cf_always_on", "*72"},        {"cf_always_off", "*73"},
    {"cf_always_vm_on", "*21"},     {"cf_always_vm_off", "*34"},
    {"cf_busy_on", "*90"},          {"cf_busy_off", "*91"},
    {"cf_busy_vm_on", "*40"},       {"cf_busy_vm_off", "*42"},
    {"cf_no_answer_on", "*92"},     {"cf_no_answer_off", "*93"},
    {"cf_no_answer_vm_on", "*41"},  {"cf_no_answer_vm_off", "*35"},
    {"cf_not_reachable_on", "*94"}, {"cf_not_reachable_off", "*95"},
    {"cf_not_reachable_ooh_on", "*81"}, {"cf_not_reachable_ooh_off", "*82"},
    {"dnd_on", "*78"},              {"dnd_off", "*79"},
  };
  for (std::size_t i = 0; i < all.size(); ++i) {
    CHECK(std::string(all[i].name) == codes[i].first);
    CHECK(std::string(all[i].default_code) == codes[i].second);
    CHECK(feature_code::check_code(all[i].default_code).empty());
    CHECK(feature_code::find_feature(all[i].name) == &all[i]);
  }
  CHECK(feature_code::find_feature("cf_always_vm_on")->arg == feature_code::argument::optional);
  CHECK(feature_code::find_feature("dnd_on")->arg == feature_code::argument::none);
  CHECK(feature_code::find_feature("call_park") == nullptr);
}

TEST_CASE("find: codes with and without an argument") {
  storage::tenant_rules_record t;
  auto m = feature_code::find(t, "*72102");
  REQUIRE(m);
  CHECK(std::string(m->what->name) == "cf_always_on");
  CHECK(m->arg == "102");
  auto plus = feature_code::find(t, "*72+4930123");
  REQUIRE(plus);
  CHECK(plus->arg == "+4930123");
  CHECK_FALSE(feature_code::find(t, "*72"));         // the number is required
  CHECK_FALSE(feature_code::find(t, "*72+"));
  CHECK_FALSE(feature_code::find(t, "*7210a"));
  CHECK_FALSE(feature_code::find(t, "*72123456789012345678901"));  // 21 digits
  auto off = feature_code::find(t, "*73");
  REQUIRE(off);
  CHECK(std::string(off->what->name) == "cf_always_off");
  CHECK(off->arg.empty());
  CHECK_FALSE(feature_code::find(t, "*731"));        // takes no argument
  auto own = feature_code::find(t, "*21");
  REQUIRE(own);
  CHECK(std::string(own->what->name) == "cf_always_vm_on");
  CHECK(own->arg.empty());
  auto other = feature_code::find(t, "*21102");
  REQUIRE(other);
  CHECK(other->arg == "102");
  CHECK_FALSE(feature_code::find(t, "*21+102"));     // a mailbox is digits only
  auto dnd = feature_code::find(t, "*78");
  REQUIRE(dnd);
  CHECK(std::string(dnd->what->name) == "dnd_on");
  CHECK_FALSE(feature_code::find(t, "*99"));
  CHECK_FALSE(feature_code::find(t, "*7"));
  CHECK_FALSE(feature_code::find(t, "102"));
  CHECK_FALSE(feature_code::find(t, ""));
}

TEST_CASE("find: the longest fitting code wins; custom codes") {
  storage::tenant_rules_record t;
  t.feature_codes["cf_always_on"] = "*7";
  CHECK(feature_code::code_of(t, "cf_always_on") == "*7");
  CHECK(feature_code::code_of(t, "dnd_on") == "*78");
  // *78 fits both cf_always_on ("8") and dnd_on: the longer code wins.
  auto m = feature_code::find(t, "*78");
  REQUIRE(m);
  CHECK(std::string(m->what->name) == "dnd_on");
  // dnd_on takes no argument, so *7812 is call forwarding to 812.
  auto cf = feature_code::find(t, "*7812");
  REQUIRE(cf);
  CHECK(std::string(cf->what->name) == "cf_always_on");
  CHECK(cf->arg == "812");

  storage::tenant_rules_record c;
  c.feature_codes["cf_always_on"] = "**5";
  auto custom = feature_code::find(c, "**5102");
  REQUIRE(custom);
  CHECK(std::string(custom->what->name) == "cf_always_on");
  CHECK(custom->arg == "102");
  CHECK_FALSE(feature_code::find(c, "*72102"));  // the default no longer applies
}

TEST_CASE("check_code") {
  for (std::string ok : {"**", "*1", "#1", "*72", "*#*1234", "##99", "***"}) {
    INFO(ok);
    CHECK(feature_code::check_code(ok).empty());
  }
  for (std::string bad : {"", "*", "72", "1*2", "****1", "*12345", "*7a", "*72#", "*7 2",
                          "#*#*", "*12345678"}) {
    INFO(bad);
    CHECK_FALSE(feature_code::check_code(bad).empty());
  }
}

TEST_CASE("*72 saves the rules it replaces, *73 restores them") {
  auto f = customised();
  auto before = f.rules;
  CHECK(dial(f, "*72102") == "call forwarding always to 102 on");
  for (std::size_t i = 0; i < storage::forward_slot_count; ++i) {
    INFO(i);
    if (is_no_answer(i)) {
      CHECK(f.rules[i] == before[i]);
    } else {
      CHECK(f.rules[i].action == forward_action::forward_to_number);
      CHECK(f.rules[i].number == "102");
    }
  }
  REQUIRE(f.saved.count("always") == 1);
  CHECK(f.saved["always"].size() == 14);

  // A second *72 keeps the first save: *73 goes back to before the first.
  dial(f, "*72103");
  CHECK(f.rules[idx(forward_slot::dnd_office_hours)].number == "103");
  auto off = dial(f, "*73");
  CHECK(off.find("call forwarding always off") == 0);
  CHECK(f.rules == before);
  CHECK(f.saved.empty());
}

TEST_CASE("*73 with nothing saved resets to the defaults") {
  auto f = customised();
  auto before = f.rules;
  dial(f, "*73");
  auto defaults = storage::default_forward_rules();
  for (std::size_t i = 0; i < storage::forward_slot_count; ++i) {
    INFO(i);
    if (is_no_answer(i))
      CHECK(f.rules[i] == before[i]);
    else
      CHECK(f.rules[i] == defaults[i]);
  }
  CHECK(f.rules[idx(forward_slot::available_office_hours)].action == forward_action::ring_anyway);
  CHECK(f.rules[idx(forward_slot::away_office_hours)].action == forward_action::forward_to_voicemail);
}

TEST_CASE("*93 with nothing saved keeps the no-answer timeouts") {
  auto f = customised();
  dial(f, "*93");
  auto& a = f.rules[idx(forward_slot::available_no_answer)];
  CHECK(a.action == forward_action::forward_to_voicemail);
  CHECK(a.number.empty());
  CHECK(a.timeout == 12);
  CHECK(f.rules[idx(forward_slot::busy_no_answer)].timeout == 15);
  CHECK(f.rules[idx(forward_slot::busy_office_hours)].action == forward_action::hangup);
}

TEST_CASE("*21 to the own mailbox, *34 shares the always save") {
  auto f = customised();
  auto before = f.rules;
  CHECK(dial(f, "*21") == "call forwarding always to own voicemail on");
  auto& r = f.rules[idx(forward_slot::trip_non_office_hours)];
  CHECK(r.action == forward_action::forward_to_voicemail);
  CHECK(r.mailbox.empty());
  CHECK(r.number.empty());
  CHECK(dial(f, "*21200") == "call forwarding always to voicemail 200 on");
  CHECK(f.rules[idx(forward_slot::available_office_hours)].mailbox == "200");
  dial(f, "*72300");  // same group: the save from *21 stays
  dial(f, "*34");
  CHECK(f.rules == before);
  CHECK(f.saved.empty());
}

TEST_CASE("busy, no answer and not reachable groups") {
  auto f = customised();
  auto before = f.rules;
  CHECK(dial(f, "*90555") == "call forwarding busy to 555 on");
  CHECK(f.rules[idx(forward_slot::busy_office_hours)].number == "555");
  CHECK(f.rules[idx(forward_slot::busy_non_office_hours)].number == "555");
  CHECK(f.rules[idx(forward_slot::available_office_hours)] == before[idx(forward_slot::available_office_hours)]);

  dial(f, "*92556");
  for (auto s : {forward_slot::available_no_answer, forward_slot::busy_no_answer}) {
    CHECK(f.rules[idx(s)].action == forward_action::forward_to_number);
    CHECK(f.rules[idx(s)].number == "556");
    CHECK(f.rules[idx(s)].timeout == before[idx(s)].timeout);
  }
  dial(f, "*41");
  CHECK(f.rules[idx(forward_slot::busy_no_answer)].action == forward_action::forward_to_voicemail);

  dial(f, "*94557");
  CHECK(f.rules[idx(forward_slot::offline_office_hours)].number == "557");
  CHECK(f.rules[idx(forward_slot::offline_non_office_hours)] == before[idx(forward_slot::offline_non_office_hours)]);
  dial(f, "*81558");
  CHECK(f.rules[idx(forward_slot::offline_non_office_hours)].number == "558");
  CHECK(f.saved.size() == 4);

  dial(f, "*91");
  dial(f, "*35");
  dial(f, "*95");
  dial(f, "*82");
  CHECK(f.rules == before);
  CHECK(f.saved.empty());
}

TEST_CASE("*78 and *79 set the status") {
  storage::forwarding_record f;
  CHECK(dial(f, "*78") == "do not disturb on");
  CHECK(f.status == storage::presence::dnd);
  CHECK(dial(f, "*79") == "do not disturb off");
  CHECK(f.status == storage::presence::available);
  CHECK(f.rules == storage::default_forward_rules());
}

TEST_CASE("apply refuses a bad match") {
  storage::forwarding_record f;
  std::string err;
  feature_code::match none;
  CHECK(feature_code::apply(f, none, err).empty());
  CHECK_FALSE(err.empty());
  err.clear();
  feature_code::match no_number{feature_code::find_feature("cf_always_on"), ""};
  CHECK(feature_code::apply(f, no_number, err).empty());
  CHECK_FALSE(err.empty());
  CHECK(f.saved.empty());
  CHECK(f.rules == storage::default_forward_rules());
}
