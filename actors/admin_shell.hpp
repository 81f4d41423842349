#pragma once
// The admin shell: one session actor per TCP connection (login state, the
// command being answered, a CSV import in progress) behind a hub that net/
// sends every line to.

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "actors/messages/shell.hpp"
#include "actors/write_tracker.hpp"
#include "engine/context.hpp"

namespace pbx {

/// A CSV import being read: its text goes to the admin layer whole once the
/// closing "." came.
struct import_job {
  std::string domain;
  std::string csv;
  bool open_quote = false;     // a quoted field goes on past a line end
  std::size_t quote_start = 0; // where the record with the open quote started
};

struct admin_shell_state {
  static inline const char* name = "admin_shell";
  node_context* ctx = nullptr;
  std::uint64_t conn = 0;
  flow_info source;
  bool logged_in = false;
  bool json_output = false;      // `output json`: each answer one line of JSON
  std::string resource;           // what the command being answered lists (admin_json)
  bool busy = false;              // waiting for an actor's answer
  bool peer_gone = false;         // the client closed its side
  std::deque<std::string> queued; // lines that arrived meanwhile
  std::uint32_t unacked = 0;      // lines done but not yet reported to net/
  std::optional<import_job> import;
  std::function<void()> after_backoff; // a failed login's answer, once its delay passed
  write_tracker writes;
};

caf::behavior admin_shell_actor(caf::stateful_actor<admin_shell_state>* self,
                                node_context* ctx, std::uint64_t conn, flow_info source);

struct shell_hub_state {
  static inline const char* name = "shell_hub";
  std::unordered_map<std::uint64_t, caf::actor> sessions;
  std::unordered_map<caf::actor_addr, std::uint64_t> conn_of;
};

caf::behavior shell_hub_actor(caf::stateful_actor<shell_hub_state>* self,
                              node_context* ctx);

/// The text of `help`.
const std::vector<std::string>& shell_help();

} // namespace pbx
