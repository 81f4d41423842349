#pragma once
// Messages of the admin shell: lines in from a TCP connection, output back out,
// and the commands the shell session sends to tenant and extension actors.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "actors/messages/admin.hpp"
#include "actors/messages/registration.hpp"

namespace pbx {

/// A connection was accepted from `source`: its session starts.
struct shell_opened {
  std::uint64_t conn = 0;
  flow_info source;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, shell_opened& x) {
  return f(caf::meta::type_name("shell_opened"), x.conn, x.source);
}

/// A line typed into connection `conn` (without its line end).
struct shell_line {
  std::uint64_t conn = 0;
  std::string text;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, shell_line& x) {
  return f(caf::meta::type_name("shell_line"), x.conn, x.text);
}

/// The client went away or half-closed: what it sent is still answered.
struct shell_closed {
  std::uint64_t conn = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, shell_closed& x) {
  return f(caf::meta::type_name("shell_closed"), x.conn);
}

} // namespace pbx
