#pragma once
// The admin shell: one session actor per TCP connection (login state, the
// command being answered, a CSV import in progress) behind a hub that net/
// sends every line to.

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "actors/messages/shell.hpp"
#include "engine/context.hpp"

namespace pbx {

struct admin_shell_state {
  static inline const char* name = "admin_shell";
  node_context* ctx = nullptr;
  std::uint64_t conn = 0;
  bool logged_in = false;
  bool busy = false;              // waiting for an actor's answer
  bool peer_gone = false;         // the client closed its side
  std::deque<std::string> queued; // lines that arrived meanwhile
  // `extension import` in progress: its domain, header and rows so far.
  bool importing = false;
  std::string import_domain;
  std::vector<std::string> import_header;
  extension_cmd import_cmd;
  std::string import_error;
  std::size_t import_line = 0;
};

caf::behavior admin_shell_actor(caf::stateful_actor<admin_shell_state>* self,
                                node_context* ctx, std::uint64_t conn);

struct shell_hub_state {
  static inline const char* name = "shell_hub";
  std::unordered_map<std::uint64_t, caf::actor> sessions;
};

caf::behavior shell_hub_actor(caf::stateful_actor<shell_hub_state>* self,
                              node_context* ctx);

/// The text of `help`.
const std::vector<std::string>& shell_help();

} // namespace pbx
