#include "net/udp_sends.hpp"

#include <cerrno>
#include <cstring>

namespace pbx::net {

bool udp_send_queue::queue(int fd, const struct sockaddr* to, socklen_t to_len,
                           const void* data, std::size_t len) {
  if (fd < 0 || to_len > sizeof(sockaddr_storage) || len > 65507)
    return false;
  if (entries_.size() >= max_queued)
    flush();
  entry e{};
  e.fd = fd;
  std::memcpy(&e.to, to, to_len);
  e.to_len = to_len;
  e.off = bytes_.size();
  e.len = len;
  bytes_.insert(bytes_.end(), static_cast<const char*>(data),
                static_cast<const char*>(data) + len);
  entries_.push_back(e);
  return true;
}

std::size_t udp_send_queue::flush() {
  std::size_t refused = 0;
  msgs_.resize(entries_.size());
  iov_.resize(entries_.size());
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    auto& e = entries_[i];
    iov_[i].iov_base = bytes_.data() + e.off;
    iov_[i].iov_len = e.len;
    std::memset(&msgs_[i], 0, sizeof(msgs_[i]));
    msgs_[i].msg_hdr.msg_name = &e.to;
    msgs_[i].msg_hdr.msg_namelen = e.to_len;
    msgs_[i].msg_hdr.msg_iov = &iov_[i];
    msgs_[i].msg_hdr.msg_iovlen = 1;
  }
  // Runs of the same socket go out together; a refused datagram is skipped.
  std::size_t i = 0;
  while (i < entries_.size()) {
    std::size_t end = i;
    while (end < entries_.size() && entries_[end].fd == entries_[i].fd)
      ++end;
    int n = 0;
    do {
      n = ::sendmmsg(entries_[i].fd, &msgs_[i], static_cast<unsigned>(end - i), MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    ++calls_;
    if (n <= 0) {
      ++refused; // the first of the run could not go: drop it, go on with the rest
      ++i;
      continue;
    }
    sent_ += static_cast<std::uint64_t>(n);
    i += static_cast<std::size_t>(n);
  }
  entries_.clear();
  bytes_.clear();
  return refused;
}

} // namespace pbx::net
