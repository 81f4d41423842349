#pragma once
// Leveled logging to stderr, one line per event, safe from any thread.

#include <sstream>
#include <string>

namespace pbx::log {

enum class level { debug = 0, info, warn, error };

void set_level(level l);
level current();
bool parse_level(const std::string& name, level& out);
void write(level l, const std::string& text);

/// One security event (docs/security.md gives the format): a WARN line on
/// stderr whatever the level, and the same line in the security log file
/// when one is set. Returns false when the file could not be written.
bool security(const std::string& fields);

/// Also append security lines to `path` (opened now; empty: stderr only).
/// Returns an error text, or empty.
std::string set_security_file(const std::string& path);

/// `"` and `\` escaped, control characters as `?`, cut at `max` bytes.
std::string quoted(const std::string& text, std::size_t max = 200);

template <class... Ts>
void emit(level l, const Ts&... xs) {
  if (l < current())
    return;
  std::ostringstream os;
  (os << ... << xs);
  write(l, os.str());
}

template <class... Ts> void debug(const Ts&... xs) { emit(level::debug, xs...); }
template <class... Ts> void info(const Ts&... xs) { emit(level::info, xs...); }
template <class... Ts> void warn(const Ts&... xs) { emit(level::warn, xs...); }
template <class... Ts> void error(const Ts&... xs) { emit(level::error, xs...); }

} // namespace pbx::log
