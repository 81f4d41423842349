#pragma once
// libre's re_regex with each pattern compiled once per thread (net/regex.cpp says why).

namespace pbx::net {

/// Calls to re_regex on this thread so far (tests: libre's own calls count).
unsigned long regex_calls();

} // namespace pbx::net
