#include "net/libre_log.hpp"

#include <atomic>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <mutex>
#include <string>

#include <re.h>

#include "engine/log.hpp"

namespace {

std::atomic<unsigned long> lines{0};
std::atomic<unsigned> expected{0};

// 5 lines a second at most; a burst past that is counted and reported with
// the next line that gets through.
constexpr int per_second = 5;
std::mutex mtx;
long window = -1;
int used = 0;
unsigned long held_back = 0;

void emit(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
    text.pop_back();
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::steady_clock::now().time_since_epoch())
               .count();
  unsigned long skipped = 0;
  {
    std::lock_guard<std::mutex> guard{mtx};
    if (now != window) {
      window = now;
      used = 0;
    }
    if (++used > per_second) {
      ++held_back;
      return;
    }
    skipped = held_back;
    held_back = 0;
  }
  if (skipped > 0)
    pbx::log::warn("libre: ", text, " (", skipped, " more lines like these held back)");
  else
    pbx::log::warn("libre: ", text);
}

} // namespace

extern "C" int re_fprintf(FILE* stream, const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = re_vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  if (n < 0)
    return n;
  if (stream == stderr) {
    lines.fetch_add(1, std::memory_order_relaxed);
    auto e = expected.load();
    while (e > 0 && !expected.compare_exchange_weak(e, e - 1)) {
    }
    if (e > 0)
      pbx::log::debug("libre (expected): ", buf);
    else
      emit(buf);
    return n;
  }
  return std::fputs(buf, stream) < 0 ? -1 : n;
}

namespace pbx::net {

unsigned long libre_lines() {
  return lines.load(std::memory_order_relaxed);
}

void libre_lines_flush() {
  unsigned long skipped = 0;
  {
    std::lock_guard<std::mutex> guard{mtx};
    skipped = held_back;
    held_back = 0;
  }
  if (skipped > 0)
    pbx::log::warn("libre: ", skipped, " more lines like the ones above held back");
}

void libre_lines_expected(unsigned n) {
  expected = n;
}

} // namespace pbx::net
