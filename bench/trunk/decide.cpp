// bench/trunk/decide: how long the outbound-rule decision takes with N rules in a
// tenant (bench/trunk/run.sh runs it). Each rule has its own prefix; the dialled
// numbers hit rules spread over the whole priority order, and 1 in 10 matches none.
//
//   decide [RULES=1000] [CALLS=200000]
// Prints p50, p99 and max of one decision, in nanoseconds.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "actors/outbound_rule.hpp"

int main(int argc, char** argv) {
  using clock = std::chrono::steady_clock;
  std::size_t rules_n = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 1000;
  std::size_t calls = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 200000;
  if (rules_n < 1 || rules_n > 100000 || calls < 100 || calls > 10000000) {
    std::fprintf(stderr, "usage: decide [RULES 1-100000] [CALLS 100-10000000]\n");
    return 2;
  }
  std::vector<pbx::storage::outbound_rule_record> rules;
  for (std::size_t i = 0; i < rules_n; ++i) {
    pbx::storage::outbound_rule_record r;
    r.domain = "bench.test";
    r.name = "r" + std::to_string(i);
    r.priority = static_cast<std::uint32_t>(i + 1);
    r.number_prefix = "00" + std::to_string(1000 + i);  // 001000 .. 00(1000+N-1)
    r.number_length = "12;13;14";
    r.number_mask = i % 3 == 0 ? "100-999" : "";
    r.routes.push_back({"carrier", 2, "+", ""});
    r.routes.push_back({"backup", 0, "", "15550000000"});
    rules.push_back(std::move(r));
  }
  pbx::outbound_rule::rule_set set{rules};
  std::vector<std::string> numbers;
  for (std::size_t i = 0; i < 1000; ++i)
    numbers.push_back(i % 10 == 9 ? "0099999" + std::to_string(100000 + i)  // no rule
                                  : "00" + std::to_string(1000 + (i * 7919) % rules_n)
                                      + std::to_string(100000 + i));
  auto pick = [](std::size_t) { return std::size_t{0}; };
  std::vector<long> ns;
  ns.reserve(calls);
  std::size_t routed = 0;
  for (std::size_t i = 0; i < calls; ++i) {
    pbx::outbound_rule::call c;
    c.caller = std::to_string(100 + i % 900);
    c.number = numbers[i % numbers.size()];
    auto t0 = clock::now();
    auto d = set.decide(c, pick);
    auto t1 = clock::now();
    routed += d.code == 200;
    ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
  }
  std::sort(ns.begin(), ns.end());
  std::printf("rules=%zu calls=%zu routed=%zu p50_ns=%ld p99_ns=%ld max_ns=%ld\n", rules_n, calls,
              routed, ns[ns.size() / 2], ns[ns.size() * 99 / 100], ns.back());
  return routed > 0 ? 0 : 1;
}
