// net/regex.cpp against libre's own re_regex: same return code, same
// captures (including those a failed try leaves behind), on generated
// patterns and inputs and on the shapes libre uses for SIP.

#include <catch2/catch.hpp>

#include <dlfcn.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <re.h>

#include "net/regex.hpp"

namespace {

using regex_fn = int (*)(const char*, size_t, const char*, ...);

regex_fn libre_regex() {
  static auto fn = reinterpret_cast<regex_fn>(dlsym(RTLD_NEXT, "re_regex"));
  return fn;
}

constexpr int slots = 10;

struct outcome {
  int rc;
  std::vector<std::pair<long, long>> caps; // offset into the input (or a mark), length
};

outcome run(regex_fn fn, const std::string& in, const std::string& expr, unsigned null_mask) {
  struct pl caps[slots];
  struct pl* arg[slots];
  for (int i = 0; i < slots; ++i) {
    caps[i].p = nullptr;
    caps[i].l = 777;
    arg[i] = (null_mask >> i) & 1 ? nullptr : &caps[i];
  }
  outcome o;
  o.rc = fn(in.data(), in.size(), expr.c_str(), arg[0], arg[1], arg[2], arg[3], arg[4], arg[5],
            arg[6], arg[7], arg[8], arg[9]);
  for (auto& c : caps)
    o.caps.emplace_back(c.p ? c.p - in.data() : -1, static_cast<long>(c.l));
  return o;
}

void same(const std::string& in, const std::string& expr, unsigned null_mask = 0) {
  auto ours = run(&re_regex, in, expr, null_mask);
  auto theirs = run(libre_regex(), in, expr, null_mask);
  INFO("pattern [" << expr << "] input [" << in << "]");
  REQUIRE(ours.rc == theirs.rc);
  REQUIRE(ours.caps == theirs.caps);
}

std::string pick(std::mt19937& rng, const std::string& from, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i)
    out += from[rng() % from.size()];
  return out;
}

std::string random_pattern(std::mt19937& rng) {
  static const std::string literals = "aAbB0:;= \t\"<>@,.*+1-^~]";
  static const std::string members = "aAzZ09 \t;:,\"<>\\-^~[]";
  std::string p;
  int parts = 1 + static_cast<int>(rng() % 6);
  for (int i = 0; i < parts; ++i) {
    switch (rng() % 8) {
      case 0:
      case 1:
        p += pick(rng, literals, 1 + rng() % 3);
        break;
      case 2:
        p += '\\';
        p += pick(rng, "[]\\ab*", 1);
        break;
      default: {
        p += '[';
        auto lead = rng() % 5;
        if (lead == 0)
          p += '^';
        else if (lead == 1)
          p += '~';
        int items = static_cast<int>(rng() % 5);
        for (int k = 0; k < items; ++k) {
          switch (rng() % 4) {
            case 0:
              p += pick(rng, "aA0", 1) + "-" + pick(rng, "zZ9-", 1);
              break;
            case 1:
              p += '\\';
              p += pick(rng, members, 1);
              break;
            default:
              p += pick(rng, members, 1);
          }
        }
        if (rng() % 30 != 0)
          p += ']';
        if (rng() % 30 != 0)
          p += pick(rng, "**++1239x\\", 1);
      }
    }
  }
  if (rng() % 40 == 0)
    p += '\\';
  return p;
}

} // namespace

TEST_CASE("libre's calls to re_regex land in net/regex.cpp") {
  // libre's URI decoder calls re_regex from inside libre.
  auto before = pbx::net::regex_calls();
  struct uri u;
  struct pl text;
  pl_set_str(&text, "sip:alice@example.com:5070;transport=tcp");
  REQUIRE(uri_decode(&u, &text) == 0);
  REQUIRE(pbx::net::regex_calls() > before);
  REQUIRE(pl_strcmp(&u.host, "example.com") == 0);
  REQUIRE(u.port == 5070);
  REQUIRE(libre_regex() != nullptr);
  REQUIRE(libre_regex() != &re_regex);
}

TEST_CASE("re_regex matches libre's on SIP-shaped patterns") {
  const std::vector<std::string> inputs = {
    "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-1;rport",
    "\"Alice \\\"A\\\"\" <sip:alice@example.com;transport=udp>;tag=88sja8x",
    "<sip:100@10.0.0.1:5062>;expires=3600;+sip.instance=\"<urn:uuid:1>\"",
    "Digest username=\"100\", realm=\"bench.test\", nonce=\"abc.def\", uri=\"sip:bench.test\", "
    "response=\"0123456789abcdef\", algorithm=MD5, cnonce=\"xyz\", qop=auth, nc=00000001",
    "4711 REGISTER", "sip:user%41@host.example;lr?subject=x", "", " ", "a", "\"\"", "\"unterminated",
  };
  const std::vector<std::string> patterns = {
    "[^ \t\r\n]+[ \t\r\n]+[^ \t\r\n]+", "[0-9]+[ \t\r\n]+[^ \t\r\n]+",
    "[~ \t\r\n<]*[ \t\r\n]*<[^>]+>[^]*", "[^;]*;[ \t]*branch=[^;]+", "[~,]+", "[~ \t\r\n,]+",
    "[,]*[ \t\r\n]*[^ \t\r\n=]+[ \t\r\n]*=[ \t\r\n]*[~ \t\r\n,]*", "algorithm=[\"]*[^,\" \t\r\n]+",
    ";[ \t]*expires[ \t]*[=]*[ \t]*[~ \t\r\n;]*", "[^:@]+[:]*[^@]*@[^;?]+[^?]*[^]*", "[a-z]1", "[0-9]3",
    "sip:", "SIP:", "", "[", "[a", "[a]", "[a]x", "\\", "a\\", "[a-]+", "[-a]+", "[a--]+", "[a-^]*",
    "[\\]]+", "[\\\\]+", "[a]\\+", "[^]*", "[~]*", "x[ab", "[a]+[b",
  };
  for (auto& p : patterns)
    for (auto& in : inputs)
      for (unsigned mask : {0u, 1u, 0x2au})
        same(in, p, mask);
}

TEST_CASE("re_regex matches libre's on generated patterns and inputs") {
  std::mt19937 rng{20261127};
  static const std::string alphabet = "aAbBzZ09 \t\r\n;:=,\"\\<>@.-^~[]";
  for (int i = 0; i < 200000; ++i) {
    auto expr = random_pattern(rng);
    auto in = pick(rng, alphabet, rng() % 24);
    same(in, expr, rng() % 4 == 0 ? static_cast<unsigned>(rng()) : 0u);
  }
}
