#pragma once
// One hashed timer wheel with one-second slots for every binding expiry of a
// tenant, instead of one CAF timer per binding. The caller owns the clock:
// advance(now) fires every entry due at or before `now`, so tests run on a
// fixed clock. Entries are never cancelled; the owner recognises a stale one
// by its generation (cheaper than finding it in its slot).

#include <cstdint>
#include <vector>

namespace pbx {

class timer_wheel {
public:
  struct entry {
    std::uint32_t id = 0;   // the owner's slot
    std::uint32_t gen = 0;  // the owner's generation when scheduled
    std::int64_t at = 0;    // unix seconds
  };

  /// `slots` is rounded up to a power of two; an entry further away than
  /// that many seconds waits in its slot for its lap (wrap-around).
  explicit timer_wheel(std::int64_t now, std::size_t slots = 4096);

  void schedule(std::uint32_t id, std::uint32_t gen, std::int64_t at);

  /// Fires (calls f(entry)) every entry due at or before `now`, in the order
  /// of their seconds. An entry scheduled in the past fires at the next advance.
  template <class F>
  void advance(std::int64_t now, F&& f) {
    if (now < next_)
      return;
    // A clock that jumped further than one lap visits each slot once.
    auto last = now - next_ >= static_cast<std::int64_t>(slots_.size())
                    ? next_ + static_cast<std::int64_t>(slots_.size()) - 1
                    : now;
    for (auto t = next_; t <= last; ++t) {
      auto& s = slots_[static_cast<std::size_t>(t) & mask_];
      for (std::size_t i = 0; i < s.size();) {
        if (s[i].at <= now) {
          auto e = s[i];
          s[i] = s.back();
          s.pop_back();
          --size_;
          f(e);
        } else {
          ++i;
        }
      }
    }
    next_ = now + 1;
  }

  std::size_t size() const { return size_; }

private:
  std::vector<std::vector<entry>> slots_;
  std::size_t mask_ = 0;
  std::int64_t next_ = 0; // the first second not yet advanced over
  std::size_t size_ = 0;
};

} // namespace pbx
