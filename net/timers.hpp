#pragma once
// libre's timers in delay classes (net/timers.cpp says why and how).

#include <cstddef>

namespace pbx::net {

/// Timers pending in the calling thread's libre loop (the start-up self-test
/// sees libre's own timers land here: net/self_test.cpp).
std::size_t timers_pending();

} // namespace pbx::net
