#pragma once
// `actorpbx shell [IP:PORT]`: the admin shell for humans, with line editing
// and history (libedit).

#include <string>

namespace pbx {

/// Runs the interactive client; returns the process exit code.
int run_shell_client(const std::string& address);

} // namespace pbx
