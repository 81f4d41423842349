#pragma once
// `actorpbx shell [--tls [--ca FILE]] [IP:PORT]`: the admin shell for
// humans, with line editing and history (libedit); over TLS when the node
// serves the shell on --shell-tls-listen.

#include <string>

namespace pbx {

/// Runs the interactive client on `args` (the words after "shell"); returns
/// the process exit code.
int run_shell_client(int argc, char** argv);

} // namespace pbx
