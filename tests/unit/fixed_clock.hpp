#pragma once
// Fixed instants and minutes of the day for the forwarding-rule tests.

#include <chrono>

#include <date/date.h>

namespace pbx::test {

inline std::chrono::system_clock::time_point utc(int y, unsigned mo, unsigned d, int h, int mi) {
  return date::sys_days{date::year{y} / date::month{mo} / date::day{d}} + std::chrono::hours{h}
         + std::chrono::minutes{mi};
}

constexpr unsigned hm(unsigned h, unsigned m) { return h * 60 + m; }

} // namespace pbx::test
