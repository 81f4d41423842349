// net/udp_reads and net/udp_sends on libre's own loop and loopback sockets.
#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include <re.h>

#include "net/udp_reads.hpp"
#include "net/udp_sends.hpp"

using namespace pbx::net;

namespace {

struct loopback_socket {
  int fd = -1;
  struct sockaddr_in addr {};
  loopback_socket() {
    fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0);
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  }
  ~loopback_socket() { ::close(fd); }
  std::vector<std::string> drain() const {
    std::vector<std::string> got;
    char buf[2048];
    for (;;) {
      auto n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
      if (n < 0)
        return got;
      got.emplace_back(buf, static_cast<std::size_t>(n));
    }
  }
};

struct reader {
  std::vector<std::string> got;
  bool read_one = false;
  unsigned handler_calls = 0; // libre's handler, once per datagram and once more per pass
};

void on_datagram(const struct sa*, struct mbuf* mb, void* arg) {
  auto* r = static_cast<reader*>(arg);
  r->got.emplace_back(reinterpret_cast<const char*>(mbuf_buf(mb)), mbuf_get_left(mb));
}

bool on_helper_recv(struct sa*, struct mbuf*, void* arg) {
  static_cast<reader*>(arg)->read_one = true;
  return false;
}

void stop_loop(void*) {
  re_cancel();
}

} // namespace

TEST_CASE("udp_reads: a burst waiting on libre's UDP socket is read in one pass of the loop") {
  REQUIRE(libre_init() == 0);
  {
    struct sa local;
    sa_set_str(&local, "127.0.0.1", 0);
    reader r;
    struct udp_sock* us = nullptr;
    REQUIRE(udp_listen(&us, &local, on_datagram, &r) == 0);
    struct udp_helper* uh = nullptr;
    REQUIRE(udp_register_helper(&uh, us, 0, nullptr, on_helper_recv, &r) == 0);
    REQUIRE(udp_local_get(us, &local) == 0);
    int fd = udp_sock_fd(us, AF_INET);
    REQUIRE(fd >= 0);
    // libre set its read handler through net/udp_reads.cpp's fd_listen.
    REQUIRE(batch_reads(fd, 4, &r.read_one));
    CHECK_FALSE(batch_reads(fd + 1000, 4, &r.read_one)); // an fd libre never listened on

    loopback_socket peer;
    for (int i = 0; i < 6; ++i) {
      auto m = "datagram " + std::to_string(i);
      REQUIRE(::sendto(peer.fd, m.data(), m.size(), 0, &local.u.sa, local.len)
              == static_cast<ssize_t>(m.size()));
    }
    auto passes = batched_passes();
    struct tmr t;
    tmr_init(&t);
    tmr_start(&t, 100, stop_loop, nullptr);
    re_main(nullptr);
    tmr_cancel(&t);
    // All six, in order; at most 4 per pass: two passes, not six.
    REQUIRE(r.got.size() == 6);
    for (int i = 0; i < 6; ++i)
      CHECK(r.got[static_cast<std::size_t>(i)] == "datagram " + std::to_string(i));
    CHECK(batched_passes() - passes == 2);
    mem_deref(uh);
    mem_deref(us);
  }
  libre_close();
}

TEST_CASE("udp_sends: queued datagrams leave in order, one sendmmsg per run of a socket") {
  loopback_socket a, b, to;
  udp_send_queue q;
  auto* dst = reinterpret_cast<const sockaddr*>(&to.addr);
  for (int i = 0; i < 5; ++i) {
    auto m = "m" + std::to_string(i);
    REQUIRE(q.queue(i < 3 ? a.fd : b.fd, dst, sizeof(to.addr), m.data(), m.size()));
  }
  CHECK(q.size() == 5);
  CHECK(q.flush() == 0);
  CHECK(q.empty());
  CHECK(q.sent() == 5);
  CHECK(q.calls() == 2); // a's three, then b's two
  CHECK(to.drain() == std::vector<std::string>{"m0", "m1", "m2", "m3", "m4"});
}

TEST_CASE("udp_sends: a datagram the kernel refuses is dropped and the rest still go") {
  loopback_socket a, to;
  udp_send_queue q;
  auto* dst = reinterpret_cast<const sockaddr*>(&to.addr);
  std::string big(70000, 'x');
  CHECK_FALSE(q.queue(a.fd, dst, sizeof(to.addr), big.data(), big.size())); // not one datagram
  struct sockaddr_in bad_family {}; // an address family the socket cannot send to
  bad_family.sin_family = AF_UNIX;
  REQUIRE(q.queue(a.fd, dst, sizeof(to.addr), "first", 5));
  REQUIRE(q.queue(a.fd, reinterpret_cast<const sockaddr*>(&bad_family), sizeof(bad_family), "lost", 4));
  REQUIRE(q.queue(a.fd, dst, sizeof(to.addr), "last", 4));
  CHECK(q.flush() == 1);
  CHECK(q.sent() == 2);
  CHECK(to.drain() == std::vector<std::string>{"first", "last"});
}

TEST_CASE("udp_sends: a full queue is sent before the next datagram joins it") {
  loopback_socket a, to;
  udp_send_queue q;
  auto* dst = reinterpret_cast<const sockaddr*>(&to.addr);
  for (std::size_t i = 0; i <= udp_send_queue::max_queued; ++i)
    REQUIRE(q.queue(a.fd, dst, sizeof(to.addr), "x", 1));
  CHECK(q.size() == 1);
  CHECK(q.sent() == udp_send_queue::max_queued);
  CHECK(to.drain().size() == udp_send_queue::max_queued);
}
