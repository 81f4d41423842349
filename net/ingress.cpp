// Where libre's sockets meet the ingress guard (net/guard.hpp): a helper on
// the SIP UDP socket sees every datagram before libre decodes it, the
// tcp_accept hook (net/tcp_accept.hpp) sees every connection before it
// exists and puts a helper on it for its reads, and the security actor's
// bans and allow list arrive as guard commands.

#include "net/stack_impl.hpp"

#include <dirent.h>
#include <sys/socket.h>

#include <cstdlib>
#include <cstring>

#include <caf/send.hpp>

#include "actors/messages/security.hpp"
#include "engine/log.hpp"
#include "net/tcp_accept.hpp"
#include "net/udp_reads.hpp"

namespace pbx::net {

namespace {

ip_addr ip_of(const struct sa& a) {
  return sa_af(&a) == AF_INET6 ? ip_addr::from_v6(&a.u.in6.sin6_addr)
                               : ip_addr::from_v4(&a.u.in.sin_addr);
}

// Every datagram to the SIP port, before libre reads it; true drops it.
bool udp_recv(struct sa* src, struct mbuf*, void* arg) {
  auto& s = *static_cast<sip_stack::impl*>(arg);
  s.udp_read_one = true;
  switch (s.guard.packet(ip_of(*src), s.now_ms())) {
    case ingress_guard::verdict::pass:
      return false;
    case ingress_guard::verdict::ban:
      s.report_ban(*src, "udp", "packet_rate", s.guard.settings().packet_rate);
      return true;
    case ingress_guard::verdict::drop:
      return true;
  }
  return false;
}

void flush_sends(void* arg) {
  static_cast<sip_stack::impl*>(arg)->flush_udp_sends();
}

// Every response libre sends from the SIP socket: queued, and sent with the
// rest of this pass's at its end (net/udp_sends.hpp). A request goes at once,
// after the responses queued before it (a 200 to SUBSCRIBE before its
// NOTIFY): its client transaction learns of a send error (no route) from libre.
bool udp_send(int* err, struct sa* dst, struct mbuf* mb, void* arg) {
  auto& s = *static_cast<sip_stack::impl*>(arg);
  static constexpr char status_line[] = "SIP/2.0 ";
  constexpr auto status_len = sizeof(status_line) - 1;
  auto left = mbuf_get_left(mb);
  bool queued = left >= status_len && std::memcmp(mbuf_buf(mb), status_line, status_len) == 0
                && s.sip_udp
                && s.sends.queue(udp_sock_fd(s.sip_udp, sa_af(dst)), &dst->u.sa, dst->len,
                                 mbuf_buf(mb), left);
  if (!queued) {
    if (!s.sends.empty())
      s.flush_udp_sends(); // what was queued before it leaves first
    return false;          // libre sends it now
  }
  if (!tmr_isrunning(&s.sends_tmr))
    tmr_start(&s.sends_tmr, 0, flush_sends, &s);
  *err = 0;
  return true;
}

// Every read of an accepted SIP connection, before libre (or TLS) reads it.
bool tcp_recv(int* err, struct mbuf*, bool*, void* arg) {
  auto* p = static_cast<tcp_peer*>(arg);
  auto& s = *p->stack;
  auto v = s.guard.packet(p->ip, s.now_ms());
  if (v == ingress_guard::verdict::pass)
    return false;
  if (v == ingress_guard::verdict::ban)
    s.report_ban(p->peer, "tcp", "packet_rate", s.guard.settings().packet_rate);
  *err = ECONNABORTED; // libre closes the connection
  return true;
}

bool tcp_estab(int*, bool, void*) {
  return false;
}

bool tcp_send(int*, struct mbuf*, void*) {
  return false;
}

bool on_accept(struct tcp_conn* tc, void* arg) {
  return static_cast<sip_stack::impl*>(arg)->admit_tcp(tc);
}

bool same_peer(int fd, const struct sa& peer) {
  struct sa now;
  sa_init(&now, AF_UNSPEC);
  now.len = sizeof(now.u);
  if (::getpeername(fd, &now.u.sa, &now.len) != 0)
    return false;
  return sa_cmp(&now, &peer, SA_ALL);
}

} // namespace

std::int64_t sip_stack::impl::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

void sip_stack::impl::attach_udp(void* udp_sock) {
  auto* us = static_cast<struct udp_sock*>(udp_sock);
  // Phones register in bursts (a site after a power cut, a benchmark): a
  // default 208 KiB receive buffer overflows long before the thread is busy.
  udp_sockbuf_set(us, 8 << 20);
  sip_udp = us;
  if (int err = udp_register_helper(&udp_helper, us, -1000, udp_send, udp_recv, this))
    log::error("cannot watch the SIP UDP socket: ", strerror(err));
  // A burst of requests is read in one pass of the loop (net/udp_reads.hpp).
  udp_batched = batch_reads(udp_sock_fd(us, sa_af(&sip_laddr)), udp_reads_per_pass, &udp_read_one);
}

void sip_stack::impl::flush_udp_sends() {
  tmr_cancel(&sends_tmr);
  if (auto refused = sends.flush())
    log::debug("UDP: ", refused, " datagram(s) refused by the kernel");
}

void watch_tcp_accepts(sip_stack::impl& s) {
  set_accept_hook(on_accept, &s);
}

// libre listens with a backlog of 5: phones reconnecting at once (after a
// restart, or a storm) lose SYNs and wait a second each. Its listening
// socket is found by its address and given the system's backlog.
void widen_listen_backlog(const struct sa& laddr) {
  DIR* d = ::opendir("/proc/self/fd");
  if (!d)
    return;
  while (auto* e = ::readdir(d)) {
    int fd = std::atoi(e->d_name);
    int listening = 0, type = 0;
    socklen_t len = sizeof(int);
    if (fd <= 2 || ::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0
        || !listening)
      continue;
    len = sizeof(int);
    struct sa local;
    sa_init(&local, AF_UNSPEC);
    local.len = sizeof(local.u);
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM
        && ::getsockname(fd, &local.u.sa, &local.len) == 0 && sa_cmp(&local, &laddr, SA_ALL))
      ::listen(fd, SOMAXCONN);
  }
  ::closedir(d);
}

bool sip_stack::impl::admit_tcp(struct tcp_conn* tc) {
  auto* p = new tcp_peer;
  p->stack = this;
  p->fd = tcp_conn_fd(tc);
  if (tcp_conn_peer_get(tc, &p->peer) != 0) {
    delete p;
    return false;
  }
  p->ip = ip_of(p->peer);
  if (guard.banned(p->ip, now_ms())) {
    delete p;
    return false;
  }
  if (!guard.tcp_admit(p->ip)) {
    sweep_tcp(&p->ip); // count again what is really open
    if (!guard.tcp_admit(p->ip)) {
      if (refused_tcp++ % 100 == 0)
        log::warn("sip: refused a TCP connection from ", p->ip.to_string(), " (",
                  guard.tcp_count(), " open, at most ", guard.settings().tcp_max_connections,
                  " and ", guard.settings().tcp_max_per_source, " per address; ",
                  refused_tcp, " refused so far)");
      delete p;
      return false;
    }
  }
  struct tcp_helper* th = nullptr; // owned by the connection: freed with it
  if (tcp_register_helper(&th, tc, -1000, tcp_estab, tcp_send, tcp_recv, p) != 0) {
    delete p;
    return false;
  }
  guard.tcp_opened(p->ip);
  tcp_peers.push_back(p);
  return true;
}

void sip_stack::impl::sweep_tcp(const ip_addr* only) {
  for (auto i = tcp_peers.begin(); i != tcp_peers.end();) {
    auto* p = *i;
    if ((only && !(p->ip == *only)) || same_peer(p->fd, p->peer)) {
      ++i;
      continue;
    }
    guard.tcp_closed(p->ip);
    delete p;
    i = tcp_peers.erase(i);
  }
}

void sip_stack::impl::report_ban(const struct sa& src, const std::string& transport, const char* limit,
                                 std::uint32_t rate, const struct sip_msg* msg) {
  char ip[64] = "";
  sa_ntop(&src, ip, sizeof(ip));
  rate_exceeded r;
  r.source = flow_info{ip, sa_port(&src), transport};
  r.limit = limit;
  r.rate = rate;
  if (msg)
    r.user_agent = user_agent_of(msg);
  caf::anon_send(cfg.security, std::move(r));
  on_guard_command(guard_command{guard_command::op::ban, ip,
                                 now_ms() + guard.settings().ban_time * 1000ll, {}});
}

void sip_stack::impl::on_guard_command(const guard_command& c) {
  switch (c.what) {
    case guard_command::op::ban: {
      auto a = ip_addr::parse(c.ip);
      if (!a)
        return;
      guard.ban(*a, c.until_ms);
      // Its open connections end now: libre sees them close.
      for (auto* p : tcp_peers)
        if (p->ip == *a && same_peer(p->fd, p->peer))
          ::shutdown(p->fd, SHUT_RDWR);
      shell_drop_source(*this, a->to_string());
      break;
    }
    case guard_command::op::unban:
      if (auto a = ip_addr::parse(c.ip))
        guard.unban(*a);
      break;
    case guard_command::op::allow: {
      std::vector<cidr> list;
      for (auto& text : c.allow)
        if (auto r = cidr::parse(text))
          list.push_back(*r);
      guard.set_allow(std::move(list));
      break;
    }
  }
}

void sip_stack::guard(guard_command c) {
  impl_->post(std::move(c));
}

} // namespace pbx::net
