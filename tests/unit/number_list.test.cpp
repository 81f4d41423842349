#include <catch2/catch.hpp>

#include <limits>

#include "actors/number_list.hpp"

using namespace pbx;
namespace nl = pbx::number_list;

namespace {

nl::list L(const std::string& text) {
  std::string err;
  auto l = nl::parse(text, err);
  INFO(text << ": " << err);
  REQUIRE(l);
  return *l;
}

nl::mask M(const std::string& text) {
  std::string err;
  auto m = nl::parse_mask(text, err);
  INFO(text << ": " << err);
  REQUIRE(m);
  return *m;
}

std::string pool_error(const std::string& text) {
  std::string err;
  auto l = nl::parse_pool(text, err);
  CHECK_FALSE(l);
  return err;
}

} // namespace

TEST_CASE("number_list: DID pools parse into ranges and format back") {
  std::string err;
  auto a = nl::parse_pool("1000-2000", err);
  REQUIRE(a);
  REQUIRE(a->ranges.size() == 1);
  CHECK(a->ranges[0].first == "1000");
  CHECK(a->ranges[0].last == "2000");
  CHECK(nl::format(*a) == "1000-2000");

  auto b = nl::parse_pool("101; 203; 300 - 450", err);
  REQUIRE(b);
  REQUIRE(b->ranges.size() == 3);
  CHECK(b->ranges[0].first == "101");
  CHECK(b->ranges[0].last == "101");
  CHECK(b->ranges[2].first == "300");
  CHECK(b->ranges[2].last == "450");
  CHECK(nl::format(*b) == "101;203;300-450");

  auto empty = nl::parse_pool("", err);
  REQUIRE(empty);
  CHECK(empty->empty());
  // A trailing ';' is harmless.
  CHECK(nl::format(L("101;203;")) == "101;203");
}

TEST_CASE("number_list: pool refusals name the entry") {
  CHECK(pool_error("+1") == "'+1': a DID may not start with '+', '0' or '00'");
  CHECK(pool_error("0123") == "'0123': a DID may not start with '+', '0' or '00'");
  CHECK(pool_error("101; 00") == "'00': a DID may not start with '+', '0' or '00'");
  CHECK(pool_error("300-45") == "'300-45': the ends of a range have the same number of digits");
  CHECK(pool_error("450-300")
        == "'450-300': the first number of a range is not above the last");
  CHECK(pool_error("101; 1a2") == "'1a2': digits only");
  CHECK(pool_error("abc") == "'abc': digits only");
  CHECK(pool_error("100-") == "'100-': a number is missing");
  CHECK(pool_error(std::string(33, '1')) == "'" + std::string(33, '1') + "': at most 32 digits");
  // parse alone accepts leading zeros (masks, extension ranges), not '+'.
  std::string err;
  CHECK(nl::parse("0123", err));
  CHECK_FALSE(nl::parse("+1", err));
  CHECK(err == "'+1': digits only");
}

TEST_CASE("number_list: contains compares equal-length numbers as text") {
  auto l = L("101; 203; 300-450");
  CHECK(nl::contains(l, "101"));
  CHECK(nl::contains(l, "203"));
  CHECK(nl::contains(l, "300"));
  CHECK(nl::contains(l, "377"));
  CHECK(nl::contains(l, "450"));
  CHECK_FALSE(nl::contains(l, "451"));
  CHECK_FALSE(nl::contains(l, "299"));
  CHECK_FALSE(nl::contains(l, "102"));
  CHECK_FALSE(nl::contains(l, "3000"));  // other width
  CHECK_FALSE(nl::contains(l, "40"));
  CHECK_FALSE(nl::contains(l, "30:"));   // as text it sorts inside 300-450
  CHECK_FALSE(nl::contains(l, ""));
  // 20-digit DIDs: no integer conversion.
  auto big = L("15551230000000000000-15551239999999999999");
  CHECK(nl::contains(big, "15551234567890123456"));
  CHECK_FALSE(nl::contains(big, "15551240000000000000"));
}

TEST_CASE("number_list: overlaps is exact") {
  // Touching but disjoint.
  CHECK_FALSE(nl::overlaps(L("1000-1999"), L("2000-2999")));
  // Sharing one end.
  CHECK(nl::overlaps(L("1000-2000"), L("2000-2999")));
  // Equal, nested, single inside a range.
  CHECK(nl::overlaps(L("1000-2000"), L("1000-2000")));
  CHECK(nl::overlaps(L("1000-9999"), L("5000-5001")));
  CHECK(nl::overlaps(L("5000-5001"), L("1000-9999")));
  CHECK(nl::overlaps(L("101;203;300-450"), L("449")));
  CHECK_FALSE(nl::overlaps(L("101;203;300-450"), L("102;204;451-499")));
  // Different lengths never overlap, even where the text sorts inside.
  CHECK_FALSE(nl::overlaps(L("100-999"), L("1000-9999")));
  CHECK_FALSE(nl::overlaps(L("100-199"), L("1500")));
  // b's ranges out of order and overlapping each other.
  CHECK(nl::overlaps(L("600-650"), L("700-799; 100-200; 150-620")));
  CHECK_FALSE(nl::overlaps(L("621-699"), L("700-799; 100-200; 150-620")));
  // A wide range is not expanded (this would allocate 9M numbers otherwise).
  CHECK(nl::overlaps(L("1000000-9999999"), L("5555555")));
  CHECK_FALSE(nl::overlaps(L("1000000-9999999"), L("555555")));
  // Empty lists share nothing.
  CHECK_FALSE(nl::overlaps(L(""), L("100-200")));
  CHECK_FALSE(nl::overlaps(L("100-200"), L("")));
}

TEST_CASE("number_list: inside covers ranges made of touching pieces") {
  CHECK(nl::inside(L("1005"), L("1000-2000")));
  CHECK(nl::inside(L("1000-2000"), L("1000-2000")));
  CHECK(nl::inside(L("1000-1099"), L("1000-2000")));
  CHECK_FALSE(nl::inside(L("1900-2001"), L("1000-2000")));
  CHECK_FALSE(nl::inside(L("0999-1000"), L("1000-2000")));
  // Two touching pieces cover a range across their joint; a gap does not.
  CHECK(nl::inside(L("1400-1600"), L("1501-2000;1000-1500")));
  CHECK_FALSE(nl::inside(L("1400-1600"), L("1502-2000;1000-1500")));
  // Ends at all nines.
  CHECK(nl::inside(L("990-999"), L("900-999;995")));
  CHECK(nl::inside(L("101;203;300-450"), L("100-500")));
  CHECK_FALSE(nl::inside(L("101;203;300-450;5000"), L("100-500")));
  CHECK_FALSE(nl::inside(L("100"), L("1000-1999")));  // other width
  CHECK(nl::inside(L(""), L("100")));                 // nothing to cover
  CHECK_FALSE(nl::inside(L("100"), L("")));
}

TEST_CASE("number_list: size, offset and at") {
  nl::range r{"1000", "1099"};
  CHECK(nl::size(r) == 100);
  CHECK(nl::size(nl::range{"205", "205"}) == 1);
  CHECK(nl::offset(r, "1000") == std::optional<std::size_t>(0));
  CHECK(nl::offset(r, "1005") == std::optional<std::size_t>(5));
  CHECK(nl::offset(r, "1099") == std::optional<std::size_t>(99));
  CHECK_FALSE(nl::offset(r, "1100"));
  CHECK_FALSE(nl::offset(r, "999"));
  CHECK_FALSE(nl::offset(r, "10a5"));
  CHECK(nl::at(nl::range{"200", "299"}, 5) == std::optional<std::string>("205"));
  CHECK(nl::at(nl::range{"0200", "0299"}, 99) == std::optional<std::string>("0299"));
  CHECK(nl::at(nl::range{"0000", "0009"}, 0) == std::optional<std::string>("0000"));
  CHECK_FALSE(nl::at(nl::range{"200", "299"}, 100));
  // 32 digits: the size saturates, the offset is exact near the start.
  nl::range huge{std::string(32, '0'), std::string(32, '9')};
  CHECK(nl::size(huge) == std::numeric_limits<std::size_t>::max());
  CHECK(nl::offset(huge, std::string(30, '0') + "42") == std::optional<std::size_t>(42));
  CHECK(nl::at(huge, 42) == std::optional<std::string>(std::string(30, '0') + "42"));
  CHECK(nl::size(nl::range{"15551230000000000000", "15551230000000000999"}) == 1000);
}

TEST_CASE("number_list: caller-ID masks, one '*' per digit") {
  auto m = M("0044**********");
  CHECK(m.patterns.size() == 1);
  CHECK(nl::matches(m, "00442079460000"));
  CHECK_FALSE(nl::matches(m, "0044207946000"));    // one digit short
  CHECK_FALSE(nl::matches(m, "004420794600001"));  // one digit long
  CHECK_FALSE(nl::matches(m, "00332079460000"));   // other country
  CHECK_FALSE(nl::matches(m, "0044207946000a"));   // '*' is a digit only
  CHECK_FALSE(nl::matches(m, "+442079460000"));
}

TEST_CASE("number_list: masks take numbers, ranges, lists and '+'") {
  auto m = M("1000-2000; 555; +44**********; 1**");
  CHECK(m.ranges.ranges.size() == 1);
  CHECK(m.patterns.size() == 3);
  CHECK(nl::matches(m, "1000"));
  CHECK(nl::matches(m, "1500"));
  CHECK_FALSE(nl::matches(m, "2001"));
  CHECK(nl::matches(m, "555"));
  CHECK_FALSE(nl::matches(m, "5555"));
  CHECK(nl::matches(m, "+442079460000"));
  CHECK_FALSE(nl::matches(m, "442079460000"));   // the '+' must be there
  CHECK_FALSE(nl::matches(m, "0442079460000"));  // and is not a digit wildcard
  CHECK(nl::matches(m, "199"));
  CHECK_FALSE(nl::matches(m, "299"));
  CHECK_FALSE(nl::matches(m, ""));
  // An empty mask matches nothing by itself (rules treat it as "any caller").
  auto none = M("");
  CHECK(none.empty());
  CHECK_FALSE(nl::matches(none, "101"));
}

TEST_CASE("number_list: mask refusals name the entry") {
  std::string err;
  CHECK_FALSE(nl::parse_mask("0044**x*", err));
  CHECK(err == "'0044**x*': digits and '*' only (one '*' per digit), after an optional '+'");
  CHECK_FALSE(nl::parse_mask("1;+", err));
  CHECK(err == "'+': digits and '*' only (one '*' per digit), after an optional '+'");
  CHECK_FALSE(nl::parse_mask("+100-+200", err));
  CHECK(err == "'+100-+200': a range is digits only (write '+' numbers and '*' as a pattern)");
  CHECK_FALSE(nl::parse_mask("10**-20**", err));
  CHECK(err == "'10**-20**': a range is digits only (write '+' numbers and '*' as a pattern)");
  CHECK_FALSE(nl::parse_mask("300-45", err));
  CHECK(err == "'300-45': the ends of a range have the same number of digits");
  CHECK_FALSE(nl::parse_mask(std::string(33, '*'), err));
  CHECK(err == "'" + std::string(33, '*') + "': at most 32 digits");
}
