// The admin shell's TCP side: bytes in, lines out to the shell hub; text
// from the session actors back to the socket. Plain sockets on libre's
// event loop (fd_listen), because a script that half-closes after its last
// command (`nc -N`, `nc -q`) must still get every answer; libre's tcp_conn
// closes on the first EOF.

#include "net/stack_impl.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <caf/send.hpp>

#include "actors/messages/shell.hpp"
#include "engine/log.hpp"

namespace pbx::net {

constexpr std::size_t max_line = 64 * 1024;

struct shell_conn {
  sip_stack::impl* stack = nullptr;
  std::uint64_t id = 0;
  int fd = -1;
  std::string in;        // bytes not yet split into lines
  std::string out;       // bytes the socket did not take yet
  bool peer_done = false; // the client half-closed: answer, then close
  bool closing = false;   // close once `out` is flushed
};

namespace {

void drop(shell_conn* c) {
  c->stack->conns.erase(c->id);
  if (!c->peer_done)
    caf::anon_send(c->stack->cfg.shell_hub, shell_closed{c->id});
  fd_close(c->fd);
  ::close(c->fd);
  delete c;
}

void io_handler(int flags, void* arg);

void watch(shell_conn* c) {
  int flags = (c->peer_done ? 0 : FD_READ) | (c->out.empty() ? 0 : FD_WRITE);
  if (flags == 0) {
    fd_close(c->fd);
    return;
  }
  fd_listen(c->fd, flags, io_handler, c);
}

// Writes what the socket takes; returns false when the connection is gone.
bool flush(shell_conn* c) {
  while (!c->out.empty()) {
    auto n = ::send(c->fd, c->out.data(), c->out.size(), MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      break;
    if (n <= 0)
      return false;
    c->out.erase(0, static_cast<std::size_t>(n));
  }
  if (c->out.empty() && c->closing)
    return false;
  watch(c);
  return true;
}

void read_lines(shell_conn* c) {
  char buf[4096];
  auto n = ::recv(c->fd, buf, sizeof(buf), 0);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    return;
  if (n <= 0) {
    // The session answers what it has, then closes (see shell_closed).
    c->peer_done = true;
    caf::anon_send(c->stack->cfg.shell_hub, shell_closed{c->id});
    watch(c);
    return;
  }
  c->in.append(buf, static_cast<std::size_t>(n));
  std::size_t pos;
  while ((pos = c->in.find('\n')) != std::string::npos) {
    auto line = c->in.substr(0, pos);
    c->in.erase(0, pos + 1);
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    caf::anon_send(c->stack->cfg.shell_hub, shell_line{c->id, std::move(line)});
  }
  if (c->in.size() > max_line) {
    log::warn("shell: line too long on connection ", c->id, ", closing");
    drop(c);
  }
}

void io_handler(int flags, void* arg) {
  auto* c = static_cast<shell_conn*>(arg);
  if ((flags & FD_WRITE) && !flush(c)) {
    drop(c);
    return;
  }
  if (flags & FD_READ)
    read_lines(c);
}

void accept_handler(int, void* arg) {
  auto& s = *static_cast<sip_stack::impl*>(arg);
  sockaddr_storage peer{};
  socklen_t len = sizeof(peer);
  int fd = ::accept4(s.shell_fd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK);
  if (fd < 0)
    return;
  auto* c = new shell_conn;
  c->stack = &s;
  c->id = ++s.next_conn;
  c->fd = fd;
  s.conns.emplace(c->id, c);
  watch(c);
  char ip[INET6_ADDRSTRLEN] = "?";
  if (peer.ss_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&peer)->sin_addr, ip, sizeof(ip));
  log::info("shell: connection ", c->id, " from ", ip);
}

} // namespace

int shell_listen(sip_stack::impl& s, const struct sa& laddr) {
  int fd = ::socket(laddr.u.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return errno;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd, &laddr.u.sa, laddr.len) != 0 || ::listen(fd, 64) != 0) {
    int err = errno;
    ::close(fd);
    return err;
  }
  s.shell_fd = fd;
  return fd_listen(fd, FD_READ, accept_handler, &s);
}

void shell_send(sip_stack::impl& s, std::uint64_t conn, const std::string& text,
                bool close) {
  auto i = s.conns.find(conn);
  if (i == s.conns.end())
    return;
  auto* c = i->second;
  c->out += text;
  c->closing |= close;
  if (!flush(c))
    drop(c);
}

void shell_close_all(sip_stack::impl& s) {
  while (!s.conns.empty())
    drop(s.conns.begin()->second);
  if (s.shell_fd >= 0) {
    fd_close(s.shell_fd);
    ::close(s.shell_fd);
    s.shell_fd = -1;
  }
}

} // namespace pbx::net
