// The admin shell's TCP side: bytes in, lines out to the shell hub; text
// from the session actors back to the socket.

#include "net/stack_impl.hpp"

#include <caf/send.hpp>

#include "actors/messages/shell.hpp"
#include "engine/log.hpp"

namespace pbx::net {

constexpr std::size_t max_line = 64 * 1024;

struct shell_conn {
  sip_stack::impl* stack = nullptr;
  std::uint64_t id = 0;
  struct tcp_conn* tc = nullptr;
  std::string buf;
};

namespace {

void drop(shell_conn* c) {
  c->stack->conns.erase(c->id);
  caf::anon_send(c->stack->cfg.shell_hub, shell_closed{c->id});
  mem_deref(c->tc);
  delete c;
}

void recv_handler(struct mbuf* mb, void* arg) {
  auto* c = static_cast<shell_conn*>(arg);
  c->buf.append(reinterpret_cast<const char*>(mbuf_buf(mb)), mbuf_get_left(mb));
  std::size_t pos;
  while ((pos = c->buf.find('\n')) != std::string::npos) {
    auto line = c->buf.substr(0, pos);
    c->buf.erase(0, pos + 1);
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    caf::anon_send(c->stack->cfg.shell_hub, shell_line{c->id, std::move(line)});
  }
  if (c->buf.size() > max_line) {
    log::warn("shell: line too long on connection ", c->id, ", closing");
    drop(c);
  }
}

void close_handler(int, void* arg) {
  drop(static_cast<shell_conn*>(arg));
}

void conn_handler(const struct sa* peer, void* arg) {
  auto& s = *static_cast<sip_stack::impl*>(arg);
  auto* c = new shell_conn;
  c->stack = &s;
  c->id = ++s.next_conn;
  if (tcp_accept(&c->tc, s.shell_sock, nullptr, recv_handler, close_handler, c) != 0) {
    delete c;
    tcp_reject(s.shell_sock);
    return;
  }
  s.conns.emplace(c->id, c);
  char ip[64];
  sa_ntop(peer, ip, sizeof(ip));
  log::info("shell: connection ", c->id, " from ", ip, ":", sa_port(peer));
}

} // namespace

int shell_listen(sip_stack::impl& s, const struct sa& laddr) {
  return tcp_listen(&s.shell_sock, &laddr, conn_handler, &s);
}

void shell_send(sip_stack::impl& s, std::uint64_t conn, const std::string& text,
                bool close) {
  auto i = s.conns.find(conn);
  if (i == s.conns.end())
    return;
  auto* c = i->second;
  struct mbuf* mb = mbuf_alloc(text.size() + 1);
  mbuf_write_mem(mb, reinterpret_cast<const uint8_t*>(text.data()), text.size());
  mb->pos = 0;
  tcp_send(c->tc, mb);
  mem_deref(mb);
  if (close)
    drop(c);
}

void shell_close_all(sip_stack::impl& s) {
  while (!s.conns.empty())
    drop(s.conns.begin()->second);
}

} // namespace pbx::net
