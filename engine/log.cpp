#include "engine/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace pbx::log {

namespace {
std::atomic<level> min_level{level::info};
std::mutex out_mtx;
const char* names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
} // namespace

void set_level(level l) { min_level = l; }

level current() { return min_level.load(std::memory_order_relaxed); }

bool parse_level(const std::string& name, level& out) {
  for (int i = 0; i < 4; ++i) {
    std::string lower = names[i];
    for (auto& c : lower)
      c = static_cast<char>(std::tolower(c));
    if (name == lower) {
      out = static_cast<level>(i);
      return true;
    }
  }
  return false;
}

void write(level l, const std::string& text) {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto t = system_clock::to_time_t(now);
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
  std::lock_guard<std::mutex> guard{out_mtx};
  std::fprintf(stderr, "%s.%03dZ %-5s %s\n", stamp, static_cast<int>(ms),
               names[static_cast<int>(l)], text.c_str());
}

} // namespace pbx::log
