#include "engine/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cerrno>
#include <cstring>
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

namespace {

std::FILE* security_file = nullptr;

std::string stamp_now() {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto t = system_clock::to_time_t(now);
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[40];
  auto n = std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(stamp + n, sizeof(stamp) - n, ".%03dZ", static_cast<int>(ms));
  return stamp;
}

} // namespace

std::string set_security_file(const std::string& path) {
  std::lock_guard<std::mutex> guard{out_mtx};
  if (security_file)
    std::fclose(security_file);
  security_file = nullptr;
  if (path.empty())
    return {};
  security_file = std::fopen(path.c_str(), "ae");
  if (!security_file)
    return "cannot open security log " + path + ": " + std::strerror(errno);
  return {};
}

bool security(const std::string& fields) {
  auto line = stamp_now() + " WARN  security " + fields + "\n";
  std::lock_guard<std::mutex> guard{out_mtx};
  if (current() <= level::warn)
    std::fputs(line.c_str(), stderr);
  if (!security_file)
    return true;
  return std::fputs(line.c_str(), security_file) >= 0 && std::fflush(security_file) == 0;
}

std::string quoted(const std::string& text, std::size_t max) {
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i == max) {
      out += "...";
      break;
    }
    auto c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\')
      out += '\\';
    out += c < 0x20 || c == 0x7f ? '?' : static_cast<char>(c);
  }
  return out + "\"";
}

void write(level l, const std::string& text) {
  auto stamp = stamp_now();
  std::lock_guard<std::mutex> guard{out_mtx};
  std::fprintf(stderr, "%s %-5s %s\n", stamp.c_str(), names[static_cast<int>(l)], text.c_str());
}

} // namespace pbx::log
