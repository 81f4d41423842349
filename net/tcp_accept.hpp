#pragma once
// Every SIP connection libre accepts (TCP and TLS) passes through us before
// it exists: libre's transport calls tcp_accept, which the executable defines
// (libre reaches it through its PLT, proved at start-up by
// net/self_test.cpp). The real one runs first; the SIP thread's hook then
// admits the connection or refuses it (banned source, too many connections),
// and a refused one is closed before libre reads a byte.

struct tcp_conn;

namespace pbx::net {

/// Decides on a new connection; false refuses (closes) it.
using accept_hook = bool (*)(struct tcp_conn* conn, void* arg);

/// Sets the hook of the calling thread (the SIP thread); nullptr admits all.
void set_accept_hook(accept_hook hook, void* arg);

/// Connections libre accepted through us so far (all threads).
unsigned long accepts();

} // namespace pbx::net
