#pragma once
// Responses of one pass of the SIP thread's loop, sent with one sendmmsg.
// libre sends each response and request with its own sendto; under load the
// 200s of a group commit, or the 401s of a burst of REGISTERs, leave in a
// row. A send helper on libre's UDP socket (udp_register_helper, public API)
// queues a copy here instead, and the loop flushes it at the end of the pass.

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace pbx::net {

class udp_send_queue {
public:
  static constexpr std::size_t max_queued = 64; // then the queue is sent at once

  /// Queues `len` bytes to `to` on `fd`; false when it does not fit one datagram
  /// (the caller sends it itself).
  bool queue(int fd, const struct sockaddr* to, socklen_t to_len, const void* data,
             std::size_t len);
  bool empty() const { return entries_.empty(); }
  std::size_t size() const { return entries_.size(); }
  /// Sends everything queued, in order; a datagram the kernel refuses is
  /// dropped (UDP: the transaction's retransmission or the peer's covers it).
  /// Returns how many were refused.
  std::size_t flush();

  /// Datagrams sent and sendmmsg calls made, for the tests and bench/.
  std::uint64_t sent() const { return sent_; }
  std::uint64_t calls() const { return calls_; }

private:
  struct entry {
    int fd;
    struct sockaddr_storage to;
    socklen_t to_len;
    std::size_t off, len;
  };
  std::vector<entry> entries_;
  std::vector<char> bytes_;
  std::vector<struct mmsghdr> msgs_; // kept between flushes: no allocation per pass
  std::vector<struct iovec> iov_;
  std::uint64_t sent_ = 0, calls_ = 0;
};

} // namespace pbx::net
