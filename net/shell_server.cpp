// The admin shell's TCP side: bytes in, lines out to the shell hub; text
// from the session actors back to the socket. Plain sockets on libre's
// event loop (fd_listen), because a script that half-closes after its last
// command (`nc -N`, `nc -q`) must still get every answer; libre's tcp_conn
// closes on the first EOF.
//
// Nothing a client does may grow the node without bound: a connection has
// at most `max_inflight` lines with its session at a time and stops being
// read while its output is backed up (a client that never reads holds about
// `out_high` bytes); it is closed when it sends no complete line, or reads
// nothing, for `shell_timeout` seconds. Connections are capped per source
// address and in all. Over TLS (--shell-tls-listen) the same, through an
// OpenSSL session on the connection's fd.

// libre's TLS context wraps OpenSSL's (net/sip_tls.cpp): the shell's TLS
// connections are OpenSSL sessions on the same context, over our own fds.
#define USE_OPENSSL 1
#include "net/stack_impl.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <caf/send.hpp>

#include "actors/messages/shell.hpp"
#include "engine/log.hpp"

namespace pbx::net {

namespace {

constexpr std::size_t max_line = 64 * 1024;
constexpr std::uint32_t max_inflight = 64;      // lines handed to the session, not yet done
constexpr std::size_t out_high = 256 * 1024;    // stop reading above this much unsent output
constexpr std::size_t out_limit = 64 << 20;     // a client this far behind is dropped

using clock = std::chrono::steady_clock;

} // namespace

struct shell_conn {
  sip_stack::impl* stack = nullptr;
  std::uint64_t id = 0;
  int fd = -1;
  SSL* ssl = nullptr;          // over TLS
  bool ssl_wants_write = false; // OpenSSL must write before it can read on
  std::string ip;
  std::string in;              // bytes not yet handed on as lines
  std::string out;             // bytes the socket did not take yet
  std::uint32_t inflight = 0;  // lines with the session
  int watching = 0;            // the fd_listen flags in force
  bool got_line = false;
  bool peer_done = false;      // the client half-closed: answer, then close
  bool told_closed = false;    // the hub heard shell_closed
  bool closing = false;        // the session ended: close once `out` is flushed
  clock::time_point since;     // accepted
  clock::time_point progress;  // `out` last became empty or shrank
};

namespace {

void tell_closed(shell_conn* c) {
  if (c->told_closed)
    return;
  c->told_closed = true;
  caf::anon_send(c->stack->cfg.shell_hub, shell_closed{c->id});
}

void drop(shell_conn* c) {
  auto& s = *c->stack;
  tell_closed(c);
  s.conns.erase(c->id);
  if (auto i = s.conns_per_source.find(c->ip); i != s.conns_per_source.end() && --i->second == 0)
    s.conns_per_source.erase(i);
  fd_close(c->fd);
  if (c->ssl) {
    SSL_shutdown(c->ssl); // one close_notify, never waited for
    SSL_free(c->ssl);
  }
  ::close(c->fd);
  delete c;
}

// recv/send, or their OpenSSL twins: > 0 bytes, 0 the peer closed, -1 with
// errno EAGAIN to wait, -1 otherwise gone.
long conn_recv(shell_conn* c, char* buf, std::size_t n) {
  if (!c->ssl)
    return ::recv(c->fd, buf, n, 0);
  ERR_clear_error();
  int r = SSL_read(c->ssl, buf, static_cast<int>(n));
  if (r > 0)
    return r;
  int e = SSL_get_error(c->ssl, r);
  c->ssl_wants_write = e == SSL_ERROR_WANT_WRITE;
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
    errno = EAGAIN;
    return -1;
  }
  if (e == SSL_ERROR_ZERO_RETURN)
    return 0;
  errno = ECONNRESET; // a failed handshake (a plain-text client), or a reset
  return -1;
}

long conn_send(shell_conn* c, const char* buf, std::size_t n) {
  if (!c->ssl)
    return ::send(c->fd, buf, n, MSG_NOSIGNAL);
  ERR_clear_error();
  int r = SSL_write(c->ssl, buf, static_cast<int>(n));
  if (r > 0)
    return r;
  int e = SSL_get_error(c->ssl, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
    errno = EAGAIN;
    return -1;
  }
  errno = ECONNRESET;
  return -1;
}

void io_handler(int flags, void* arg);

bool wants_read(const shell_conn* c) {
  return !c->peer_done && !c->closing && c->inflight < max_inflight && c->out.size() < out_high
         && c->in.size() <= max_line;
}

// Hands complete lines to the session while it has room for them.
void dispatch(shell_conn* c) {
  std::size_t pos;
  while (c->inflight < max_inflight && (pos = c->in.find('\n')) != std::string::npos) {
    auto line = c->in.substr(0, pos);
    c->in.erase(0, pos + 1);
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    ++c->inflight;
    c->got_line = true;
    caf::anon_send(c->stack->cfg.shell_hub, shell_line{c->id, std::move(line)});
  }
}

// Watches the fd for what the connection can do now; false when it is done
// (closed by the caller).
bool settle(shell_conn* c) {
  if (c->out.empty() && (c->closing || (c->peer_done && c->inflight == 0)))
    return false;
  int flags = (wants_read(c) ? FD_READ : 0)
              | (c->out.empty() && !c->ssl_wants_write ? 0 : FD_WRITE);
  if (flags != c->watching) {
    if (flags == 0)
      fd_close(c->fd); // waiting for the session: nothing to read or write
    else if (fd_listen(c->fd, flags, io_handler, c) != 0)
      return false;
    c->watching = flags;
  }
  return true;
}

// Writes what the socket takes; false when the connection is gone.
bool flush(shell_conn* c) {
  while (!c->out.empty()) {
    auto n = conn_send(c, c->out.data(), c->out.size());
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      break;
    if (n <= 0)
      return false;
    c->out.erase(0, static_cast<std::size_t>(n));
    c->progress = clock::now();
  }
  return true;
}

// Reads one chunk; false when the connection is gone.
bool read_some(shell_conn* c) {
  char buf[4096];
  auto n = conn_recv(c, buf, sizeof(buf));
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    return true;
  if (n < 0)
    return false; // reset: nobody to answer
  if (n == 0) {
    // Half-closed: the session answers what it has, then the connection
    // closes. A last line without its newline counts.
    c->peer_done = true;
    if (!c->in.empty() && c->in.back() != '\n')
      c->in += '\n';
    dispatch(c);
    tell_closed(c);
    return true;
  }
  c->in.append(buf, static_cast<std::size_t>(n));
  dispatch(c);
  if (c->in.size() > max_line && c->in.find('\n') == std::string::npos) {
    log::warn("shell: line too long on connection ", c->id, ", closing");
    return false;
  }
  return true;
}

void io_handler(int flags, void* arg) {
  auto* c = static_cast<shell_conn*>(arg);
  bool alive = true;
  if (flags & FD_WRITE)
    alive = flush(c);
  if (alive && (flags & (FD_READ | FD_WRITE)) && wants_read(c)
      && ((flags & FD_READ) || c->ssl_wants_write))
    alive = read_some(c);
  if (!alive || !settle(c))
    drop(c);
}

void accept_on(sip_stack::impl& s, int listener, bool tls) {
  sockaddr_storage peer{};
  socklen_t len = sizeof(peer);
  int fd = ::accept4(listener, reinterpret_cast<sockaddr*>(&peer), &len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0)
    return;
  struct sa src;
  sa_set_sa(&src, reinterpret_cast<sockaddr*>(&peer));
  char ip[INET6_ADDRSTRLEN] = "?";
  sa_ntop(&src, ip, sizeof(ip));
  if (auto a = ip_addr::parse(ip); a && s.guard.banned(*a, s.now_ms())) {
    ::close(fd); // banned: not a word
    return;
  }
  auto& from_here = s.conns_per_source[ip];
  const char* refusal = nullptr;
  if (s.conns.size() >= s.cfg.shell_max_connections)
    refusal = "ERR too many shell connections\n";
  else if (from_here >= s.cfg.shell_max_per_source)
    refusal = "ERR too many shell connections from this address\n";
  if (refusal) {
    if (from_here == 0)
      s.conns_per_source.erase(ip);
    log::warn("shell: refused a connection from ", ip, ": ", refusal + 4);
    if (!tls) // a TLS client could not read it
      (void)!::send(fd, refusal, std::strlen(refusal), MSG_NOSIGNAL | MSG_DONTWAIT);
    ::close(fd);
    return;
  }
  SSL* ssl = nullptr;
  if (tls) {
    ssl = SSL_new(tls_openssl_context(s.tls));
    if (!ssl || SSL_set_fd(ssl, fd) != 1) {
      SSL_free(ssl);
      ::close(fd);
      return;
    }
    SSL_set_accept_state(ssl); // the handshake runs inside the first reads
  }
  ++from_here;
  auto* c = new shell_conn;
  c->stack = &s;
  c->id = ++s.next_conn;
  c->fd = fd;
  c->ssl = ssl;
  c->ip = ip;
  c->since = c->progress = clock::now();
  s.conns.emplace(c->id, c);
  flow_info source{ip, sa_port(&src), tls ? "tls" : "tcp"};
  caf::anon_send(s.cfg.shell_hub, shell_opened{c->id, std::move(source)});
  if (!settle(c))
    drop(c);
  log::info("shell: connection ", c->id, " from ", ip, tls ? " (TLS)" : "");
}

void accept_handler(int, void* arg) {
  auto& s = *static_cast<sip_stack::impl*>(arg);
  accept_on(s, s.shell_fd, false);
}

void accept_tls_handler(int, void* arg) {
  auto& s = *static_cast<sip_stack::impl*>(arg);
  accept_on(s, s.shell_tls_fd, true);
}

} // namespace

int shell_listen(sip_stack::impl& s, const struct sa& laddr, bool tls) {
  int fd = ::socket(laddr.u.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return errno;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd, &laddr.u.sa, laddr.len) != 0 || ::listen(fd, SOMAXCONN) != 0) {
    int err = errno;
    ::close(fd);
    return err;
  }
  (tls ? s.shell_tls_fd : s.shell_fd) = fd;
  return fd_listen(fd, FD_READ, tls ? accept_tls_handler : accept_handler, &s);
}

void shell_send(sip_stack::impl& s, const shell_output& o) {
  auto i = s.conns.find(o.conn);
  if (i == s.conns.end())
    return;
  auto* c = i->second;
  if (c->out.empty() && !o.text.empty())
    c->progress = clock::now();
  c->out += o.text;
  c->inflight -= std::min(c->inflight, o.consumed);
  c->closing |= o.close;
  if (c->out.size() > out_limit) {
    log::warn("shell: connection ", c->id, " does not read its output (",
              c->out.size() >> 20, " MiB waiting), closing");
    drop(c);
    return;
  }
  dispatch(c);
  if (!flush(c) || !settle(c))
    drop(c);
}

void shell_drop_source(sip_stack::impl& s, const std::string& ip) {
  std::vector<shell_conn*> gone;
  for (auto& [id, c] : s.conns)
    if (c->ip == ip)
      gone.push_back(c);
  for (auto* c : gone)
    drop(c);
}

void shell_sweep(sip_stack::impl& s) {
  auto now = clock::now();
  auto limit = std::chrono::seconds(s.cfg.shell_timeout);
  std::vector<shell_conn*> stale;
  for (auto& [id, c] : s.conns) {
    if (!c->got_line && !c->peer_done && now - c->since > limit) {
      log::info("shell: connection ", id, " from ", c->ip, " sent no command in ",
                s.cfg.shell_timeout, " s, closing");
      stale.push_back(c);
    } else if (!c->out.empty() && now - c->progress > limit) {
      log::warn("shell: connection ", id, " from ", c->ip, " read none of its output in ",
                s.cfg.shell_timeout, " s, closing");
      stale.push_back(c);
    }
  }
  for (auto* c : stale)
    drop(c);
}

void shell_close_all(sip_stack::impl& s) {
  while (!s.conns.empty())
    drop(s.conns.begin()->second);
  for (int* fd : {&s.shell_fd, &s.shell_tls_fd})
    if (*fd >= 0) {
      fd_close(*fd);
      ::close(*fd);
      *fd = -1;
    }
}

} // namespace pbx::net
