#pragma once
// Start-up proof that the libre functions the executable replaces are the
// ones libre calls. Comparing symbol addresses is not enough: a libre built
// with -Bsymbolic-functions, LTO or hidden visibility binds its own calls
// inside the library, and then net/'s timers would never fire. So the node
// makes libre do the real thing on its own code paths, over loopback to
// itself, and watches our replacements see it:
//   tmr_*          a timer of ours fires in re_main; a request libre builds
//                  puts its timers in our lists, and its retransmission
//                  (libre's T1 timer) arrives;
//   rand_*         libre's branch for that request is drawn from us;
//   mbuf_write_str the request carries our Max-Forwards;
//   re_regex       libre decodes the probe's answer with ours;
//   re_fprintf     libre's complaint about a garbage datagram reaches our log;
//   tcp_accept     a connection to the SIP port is accepted through ours.
// The same probe hands net/ libre's UDP socket (for the ingress guard) before
// the node says it is ready. It takes about 0.6 s (libre's T1 is 500 ms).

#include <functional>
#include <string>

#include "net/stack_impl.hpp"

namespace pbx::net {

/// Starts the checks on the SIP thread; `done` gets "" when all passed, or
/// the first one that failed, in words for the operator.
void self_test_start(sip_stack::impl& s, std::function<void(const std::string&)> done);

} // namespace pbx::net
