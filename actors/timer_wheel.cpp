#include "actors/timer_wheel.hpp"

namespace pbx {

timer_wheel::timer_wheel(std::int64_t now, std::size_t slots) : next_(now) {
  std::size_t n = 1;
  while (n < slots)
    n <<= 1;
  slots_.resize(n);
  mask_ = n - 1;
}

void timer_wheel::schedule(std::uint32_t id, std::uint32_t gen, std::int64_t at) {
  // Due already: the slot of the next advance, so it is not a lap late.
  auto when = at < next_ ? next_ : at;
  slots_[static_cast<std::size_t>(when) & mask_].push_back(entry{id, gen, at});
  ++size_;
}

} // namespace pbx
