#pragma once
// Several datagrams per wake-up of libre's loop. libre 1.1.0 reads one
// datagram each time epoll says a UDP socket is readable, so under load
// every request costs an epoll_wait besides its recvfrom. The executable
// defines fd_listen (libre reaches it through its PLT, proved at start-up by
// net/self_test.cpp): it notes the handler libre gives each fd, and
// batch_reads puts a handler in front that calls libre's again while the
// last call read something.

namespace pbx::net {

/// From now on, a readable `fd` gets up to `max` calls of the read handler
/// libre set for it on this thread; the next call happens only if
/// `*read_one` (cleared before each) was set by a receive helper. False:
/// libre never set a handler for `fd` through us.
bool batch_reads(int fd, unsigned max, bool* read_one);

/// Passes of a batching handler that read at least one datagram (all threads).
unsigned long batched_passes();

} // namespace pbx::net
