#pragma once
// libre's timers in delay classes (net/timers.cpp says why and how).

#include <cstddef>

namespace pbx::net {

/// True when libre's tmr_* calls reach net/timers.cpp (checked at start-up).
bool timers_in_use();

/// Timers pending in the calling thread's libre loop.
std::size_t timers_pending();

} // namespace pbx::net
