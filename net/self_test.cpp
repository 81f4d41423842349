#include "net/self_test.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "net/libre_log.hpp"
#include "net/max_forwards.hpp"
#include "net/random.hpp"
#include "net/regex.hpp"
#include "net/tcp_accept.hpp"
#include "net/timers.hpp"
#include "net/udp_reads.hpp"

namespace pbx::net {

namespace {

constexpr unsigned probe_max_forwards = 17;
constexpr std::uint32_t deadline_ms = 3000;

struct check {
  sip_stack::impl* s = nullptr;
  std::function<void(const std::string&)> done;
  int udp = -1;          // the probe's UDP socket
  int tcp = -1;          // a connection to the SIP port
  struct sa probe {};    // the probe's address
  struct tmr ours {};
  struct tmr deadline {};
  struct sip_request* req = nullptr;
  unsigned long accepts_before = 0, lines_before = 0, regex_before = 0, passes_before = 0;
  bool our_timer = false, libre_timers = false, libre_random = false;
  bool max_forwards = false, retransmitted = false, decoded = false;
  int requests_seen = 0;
  std::string branch;    // of libre's request, to tell its retransmission
  bool finished = false;
  // ACTORPBX_SELFTEST_FAULT names a check to treat as failed: the e2e test of
  // the refusal (a libre that binds its calls inside cannot be had here).
  std::string fault;
};

void finish(check* c, const std::string& failure) {
  if (c->finished)
    return;
  c->finished = true;
  tmr_cancel(&c->ours);
  tmr_cancel(&c->deadline);
  libre_lines_expected(0);
  c->req = static_cast<struct sip_request*>(mem_deref(c->req));
  for (int* fd : {&c->udp, &c->tcp})
    if (*fd >= 0) {
      fd_close(*fd);
      ::close(*fd);
      *fd = -1;
    }
  auto done = std::move(c->done);
  delete c;
  done(failure);
}

// The first check still open, in words; empty when all passed.
std::string missing(const check* c) {
  auto failed = [&](const char* name, bool passed) { return !passed || c->fault == name; };
  if (failed("timer", c->our_timer))
    return "a timer started by net/ never fired: libre's loop does not run net/timers.cpp's "
           "timers (libre binds tmr_* inside itself)";
  if (failed("libre_timers", c->libre_timers))
    return "libre's own timers do not reach net/timers.cpp";
  if (failed("random", c->libre_random))
    return "libre's rand_* calls do not reach net/random.cpp";
  if (failed("max_forwards", c->max_forwards))
    return "a request libre built did not carry net/'s Max-Forwards (mbuf_write_str is "
           "bound inside libre)";
  if (failed("retransmit", c->retransmitted))
    return "libre's retransmission timer never fired through net/timers.cpp";
  if (failed("regex", c->decoded))
    return "libre's decoder did not use net/regex.cpp (re_regex is bound inside libre)";
  if (failed("re_fprintf", libre_lines() > c->lines_before))
    return "libre's re_fprintf does not reach net/libre_log.cpp";
  if (failed("tcp_accept", accepts() > c->accepts_before))
    return "libre's tcp_accept does not reach net/tcp_accept.cpp";
  if (failed("udp", c->s->udp_helper != nullptr))
    return "libre's UDP socket was never handed to net/ (no request of the probe arrived)";
  if (failed("fd_listen", c->s->udp_batched && batched_passes() > c->passes_before))
    return "libre's fd_listen does not reach net/udp_reads.cpp (the SIP socket's reads are "
           "not batched)";
  return {};
}

void maybe_done(check* c) {
  if (missing(c).empty())
    finish(c, {});
}

void send_to_sip(check* c, const std::string& data) {
  (void)!::sendto(c->udp, data.data(), data.size(), MSG_NOSIGNAL, &c->s->sip_laddr.u.sa,
                  c->s->sip_laddr.len);
}

// A header line's value from a raw message, empty when absent.
std::string header(const std::string& msg, const char* name) {
  auto at = msg.find(std::string{"\r\n"} + name + ": ");
  if (at == std::string::npos)
    return {};
  at += std::strlen(name) + 4;
  return msg.substr(at, msg.find("\r\n", at) - at);
}

void on_request(check* c, const std::string& msg) {
  auto via = header(msg, "Via");
  auto at = via.find("branch=");
  auto branch = at == std::string::npos ? std::string{} : via.substr(at + 7);
  if (++c->requests_seen == 1) {
    c->branch = branch;
    c->max_forwards = header(msg, "Max-Forwards") == std::to_string(probe_max_forwards);
    return; // no answer yet: libre's T1 timer must resend it
  }
  if (branch != c->branch)
    return;
  c->retransmitted = true;
  // Now the answer: libre decodes it (with our re_regex) and ends the request.
  c->regex_before = regex_calls();
  std::string ok = "SIP/2.0 200 OK\r\nVia: " + via + "\r\nFrom: " + header(msg, "From")
                   + "\r\nTo: " + header(msg, "To") + ";tag=probe\r\nCall-ID: "
                   + header(msg, "Call-ID") + "\r\nCSeq: " + header(msg, "CSeq")
                   + "\r\nContent-Length: 0\r\n\r\n";
  send_to_sip(c, ok);
}

void probe_readable(int, void* arg) {
  auto* c = static_cast<check*>(arg);
  char buf[4096];
  for (;;) {
    auto n = ::recv(c->udp, buf, sizeof(buf) - 1, MSG_DONTWAIT);
    if (n <= 0)
      break;
    std::string msg{buf, static_cast<std::size_t>(n)};
    if (msg.rfind("OPTIONS ", 0) == 0)
      on_request(c, msg);
    // Responses (the node's 200 to the probe's own OPTIONS) need nothing.
  }
  maybe_done(c);
}

void response(int err, const struct sip_msg* msg, void* arg) {
  auto* c = static_cast<check*>(arg);
  c->req = nullptr; // libre is done with it
  if (!err && msg && msg->scode == 200 && regex_calls() > c->regex_before)
    c->decoded = true;
  maybe_done(c);
}

void our_timer(void* arg) {
  auto* c = static_cast<check*>(arg);
  c->our_timer = true;
  maybe_done(c);
}

void timed_out(void* arg) {
  auto* c = static_cast<check*>(arg);
  finish(c, missing(c));
}

std::string local_ip(const struct sa& a) {
  char ip[64] = "";
  sa_ntop(&a, ip, sizeof(ip));
  return sa_af(&a) == AF_INET6 ? std::string{"["} + ip + "]" : std::string{ip};
}

} // namespace

void self_test_start(sip_stack::impl& s, std::function<void(const std::string&)> done) {
  auto* c = new check;
  c->s = &s;
  c->done = std::move(done);
  if (auto* f = std::getenv("ACTORPBX_SELFTEST_FAULT"))
    c->fault = f;
  c->accepts_before = accepts();
  c->lines_before = libre_lines();
  c->passes_before = batched_passes();
  tmr_init(&c->ours);
  tmr_init(&c->deadline);
  tmr_start(&c->deadline, deadline_ms, timed_out, c);
  tmr_start(&c->ours, 0, our_timer, c);

  // The probe sits on the SIP address, port chosen by the kernel.
  c->udp = ::socket(sa_af(&s.sip_laddr), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  c->probe = s.sip_laddr;
  sa_set_port(&c->probe, 0);
  socklen_t len = c->probe.len;
  if (c->udp < 0 || ::bind(c->udp, &c->probe.u.sa, c->probe.len) != 0
      || ::getsockname(c->udp, &c->probe.u.sa, &len) != 0
      || fd_listen(c->udp, FD_READ, probe_readable, c) != 0)
    return finish(c, std::string{"cannot open the self-test's probe socket: "}
                       + std::strerror(errno));
  auto here = local_ip(c->probe) + ":" + std::to_string(sa_port(&c->probe));
  auto there = local_ip(s.sip_laddr) + ":" + std::to_string(sa_port(&s.sip_laddr));

  // Garbage first: libre's decoder complains through re_fprintf.
  libre_lines_expected(1);
  send_to_sip(c, "actorpbx self-test: not a SIP message\r\n\r\n");
  // A request of ours: its arrival hands net/ libre's UDP socket.
  send_to_sip(c, "OPTIONS sip:" + there + " SIP/2.0\r\nVia: SIP/2.0/UDP " + here
                   + ";branch=z9hG4bKselftest\r\nMax-Forwards: 70\r\nFrom: <sip:selftest@"
                   + here + ">;tag=selftest\r\nTo: <sip:" + there
                   + ">\r\nCall-ID: selftest-in@actorpbx\r\nCSeq: 1 OPTIONS\r\n"
                     "User-Agent: actorpbx-selftest\r\nContent-Length: 0\r\n\r\n");
  // A request libre builds, to the probe.
  auto timers_before = timers_pending();
  auto draws_before = random_draws();
  {
    max_forwards_scope mf(probe_max_forwards);
    int err = sip_requestf(&c->req, s.sip, true, "OPTIONS", ("sip:probe@" + here).c_str(),
                           nullptr, nullptr, nullptr, response, c,
                           "From: <sip:selftest@%s>;tag=selftest-out\r\n"
                           "To: <sip:probe@%s>\r\n"
                           "Call-ID: selftest-out@actorpbx\r\n"
                           "CSeq: 1 OPTIONS\r\n"
                           "Content-Length: 0\r\n\r\n",
                           there.c_str(), here.c_str());
    if (err)
      return finish(c, std::string{"libre could not send the self-test's request: "}
                         + std::strerror(err));
  }
  c->libre_timers = timers_pending() > timers_before;
  c->libre_random = random_draws() > draws_before;

  // A TCP connection to the SIP port: libre accepts it through tcp_accept.
  c->tcp = ::socket(sa_af(&s.sip_laddr), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->tcp >= 0)
    (void)::connect(c->tcp, &s.sip_laddr.u.sa, s.sip_laddr.len);
}

} // namespace pbx::net
