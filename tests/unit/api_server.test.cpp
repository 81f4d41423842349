// net/api_server: the REST API's HTTP transport, driven with plain sockets
// (and an OpenSSL client) against a CAF actor standing in for the API actor.

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>

#include "actors/messages/api.hpp"
#include "net/api_server.hpp"
#include "net/tls_cert.hpp"

using namespace pbx;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

using later_atom = caf::atom_constant<caf::atom("later")>;

// The body lists what arrived, one `name=value` line each, then the body.
http_response echo_of(const http_request& r) {
  http_response out;
  out.id = r.id;
  out.content_type = "text/plain";
  out.headers.emplace_back("X-Echo", "yes");
  std::string q;
  for (auto& [k, v] : r.query)
    q += (q.empty() ? "" : "&") + k + "=" + v;
  out.body = "method=" + r.method + "\npath=" + r.path + "\nquery=" + q + "\ntype="
             + r.content_type + "\nauth=" + r.authorization + "\npeer=" + r.peer_ip
             + "\ntls=" + (r.tls ? "1" : "0") + "\nbody=" + r.body;
  return out;
}

// /never is never answered; /delay/MS after MS milliseconds; the rest at once.
caf::behavior echo_actor(caf::event_based_actor* self, api_port* out) {
  return {
    [=](http_request& r) {
      if (r.path == "/never")
        return;
      if (r.path.rfind("/delay/", 0) == 0) {
        auto ms = std::atoi(r.path.c_str() + 7);
        self->delayed_send(self, std::chrono::milliseconds(ms), later_atom::value, r);
        return;
      }
      out->respond(echo_of(r));
    },
    [=](later_atom, http_request& r) { out->respond(echo_of(r)); },
  };
}

struct response {
  int status = 0;
  std::string head;
  std::string body;
  bool complete = false; // the connection closed after a whole response
};

response parse(const std::string& raw, bool closed) {
  response r;
  r.complete = closed;
  auto end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.", 0) != 0 || end == std::string::npos)
    return r;
  r.status = std::atoi(raw.c_str() + 9);
  r.head = raw.substr(0, end);
  r.body = raw.substr(end + 4);
  return r;
}

int connect_to(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  return fd;
}

bool send_all(int fd, const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    auto n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0)
      return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

// Reads until the peer closes or the deadline passes.
response read_response(int fd, std::chrono::milliseconds limit = 5000ms) {
  std::string raw;
  auto deadline = clock_type::now() + limit;
  while (clock_type::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0)
      continue;
    char buf[65536];
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0)
      return parse(raw, true);
    raw.append(buf, static_cast<std::size_t>(n));
  }
  return parse(raw, false);
}

// Reads one response whose length Content-Length gives; the connection stays open.
response read_one(int fd, std::chrono::milliseconds limit = 5000ms) {
  std::string raw;
  auto deadline = clock_type::now() + limit;
  while (clock_type::now() < deadline) {
    auto end = raw.find("\r\n\r\n");
    if (end != std::string::npos) {
      auto cl = raw.find("Content-Length: ");
      if (cl != std::string::npos && cl < end
          && raw.size() >= end + 4 + std::strtoul(raw.c_str() + cl + 16, nullptr, 10))
        return parse(raw, false);
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0)
      continue;
    char buf[65536];
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0)
      break;
    raw.append(buf, static_cast<std::size_t>(n));
  }
  return parse(raw, true);
}

response exchange(std::uint16_t port, const std::string& request) {
  int fd = connect_to(port);
  REQUIRE(send_all(fd, request));
  auto r = read_response(fd);
  ::close(fd);
  return r;
}

std::map<std::string, std::string> fields(const std::string& echo) {
  std::map<std::string, std::string> out;
  std::size_t pos = 0;
  while (pos < echo.size()) {
    auto nl = echo.find('\n', pos);
    auto line = echo.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    auto eq = line.find('=');
    if (line.rfind("body=", 0) == 0) {
      out["body"] = echo.substr(pos + 5);
      break;
    }
    out[line.substr(0, eq)] = eq == std::string::npos ? "" : line.substr(eq + 1);
    if (nl == std::string::npos)
      break;
    pos = nl + 1;
  }
  return out;
}

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 5000ms) {
  auto deadline = clock_type::now() + limit;
  while (clock_type::now() < deadline) {
    if (pred())
      return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

// One server on 127.0.0.1 (a free port) with the echo actor behind it.
struct fixture {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  net::api_server server;
  caf::actor echo;

  explicit fixture(net::api_config c = {}) {
    cfg.add_message_type<http_request>("http_request");
    cfg.add_message_type<http_response>("http_response");
    cfg.set("scheduler.max-threads", static_cast<size_t>(2));
    sys = std::make_unique<caf::actor_system>(cfg);
    echo = sys->spawn(echo_actor, static_cast<api_port*>(&server));
    c.listen = "127.0.0.1:0";
    c.api = echo;
    if (c.timeout == 30)
      c.timeout = 1; // slow clients are closed after a second
    if (c.answer_timeout == 60000ms)
      c.answer_timeout = 1500ms;
    auto err = server.start(c);
    INFO(err);
    REQUIRE(err.empty());
    REQUIRE(server.port() != 0);
  }
  ~fixture() {
    server.stop();
    caf::anon_send_exit(echo, caf::exit_reason::user_shutdown);
    echo = nullptr;
  }
  std::uint16_t port() const { return server.port(); }
};

void raise_fd_limit() {
  rlimit rl{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &rl) == 0);
  rl.rlim_cur = rl.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &rl);
}

} // namespace

TEST_CASE("api_server: a GET arrives decoded and its answer carries status, type and headers") {
  fixture f;
  auto r = exchange(f.port(), "GET /echo/a%20b%2Fc?x=1&y=a%20b&z=c+d&flag&e=%C3%A9 HTTP/1.1\r\n"
                              "Host: localhost\r\nAuthorization: Bearer abc\r\n"
                              "Connection: close\r\n\r\n");
  REQUIRE(r.status == 200);
  CHECK(r.head.find("\r\nX-Echo: yes") != std::string::npos);
  CHECK(r.head.find("\r\nContent-Type: text/plain") != std::string::npos);
  auto e = fields(r.body);
  CHECK(e["method"] == "GET");
  CHECK(e["path"] == "/echo/a b/c");
  CHECK(e["query"] == "x=1&y=a b&z=c d&flag=&e=\xC3\xA9");
  CHECK(e["auth"] == "Bearer abc");
  CHECK(e["peer"] == "127.0.0.1");
  CHECK(e["tls"] == "0");
  CHECK(e["body"].empty());
}

TEST_CASE("api_server: a POST's body arrives whole, its content type lower-cased without params") {
  fixture f;
  std::string body = "{\"domain\":\"example.test\"}";
  auto r = exchange(f.port(), "POST /api/tenants HTTP/1.1\r\nHost: localhost\r\n"
                              "Content-Type: Application/JSON; charset=utf-8\r\n"
                              "Content-Length: " + std::to_string(body.size())
                              + "\r\nConnection: close\r\n\r\n" + body);
  REQUIRE(r.status == 200);
  auto e = fields(r.body);
  CHECK(e["method"] == "POST");
  CHECK(e["path"] == "/api/tenants");
  CHECK(e["type"] == "application/json");
  CHECK(e["body"] == body);

  // Chunked, within the limit: joined.
  r = exchange(f.port(), "PUT /x HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
                         "Connection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  REQUIRE(r.status == 200);
  CHECK(fields(r.body)["body"] == "hello world");
}

TEST_CASE("api_server: a kept-alive connection carries one request after another") {
  fixture f;
  int fd = connect_to(f.port());
  for (auto* path : {"/first", "/delay/100", "/third"}) {
    REQUIRE(send_all(fd, std::string{"GET "} + path + " HTTP/1.1\r\nHost: x\r\n\r\n"));
    auto r = read_one(fd);
    REQUIRE(r.status == 200);
    CHECK(fields(r.body)["path"] == path);
  }
  ::close(fd);
}

TEST_CASE("api_server: a Content-Length over the limit is 413 before the body is sent") {
  fixture f;
  int fd = connect_to(f.port());
  REQUIRE(send_all(fd, "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\n"
                       "Content-Length: 10485760\r\n\r\n"));
  auto r = read_response(fd); // no body byte sent
  ::close(fd);
  REQUIRE(r.status == 413);
  CHECK(r.body.find("\"code\":\"too_large\"") != std::string::npos);
  CHECK(r.head.find("application/json") != std::string::npos);
  CHECK(f.server.pending_requests() == 0);
}

TEST_CASE("api_server: a chunked body growing past the limit is 413") {
  net::api_config c;
  c.max_body = 64 * 1024;
  fixture f{c};
  int fd = connect_to(f.port());
  REQUIRE(send_all(fd, "POST /echo HTTP/1.1\r\nHost: localhost\r\n"
                       "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"));
  std::string chunk(16 * 1024, 'x');
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", chunk.size());
  // 80 KiB; the server may stop reading part way, so a failed send is fine.
  for (int i = 0; i < 5; ++i)
    if (!send_all(fd, size + chunk + "\r\n"))
      break;
  send_all(fd, "0\r\n\r\n");
  auto r = read_response(fd);
  ::close(fd);
  REQUIRE(r.status == 413);
  CHECK(r.body.find("\"code\":\"too_large\"") != std::string::npos);
  CHECK(r.body.find("65536") != std::string::npos);
}

TEST_CASE("api_server: a client that sends half a request is closed after the timeout") {
  fixture f; // timeout 1 s
  int fd = connect_to(f.port());
  REQUIRE(send_all(fd, "GET /echo HTTP/1.1\r\nHost: local"));
  auto t0 = clock_type::now();
  auto r = read_response(fd, 6000ms);
  auto took = clock_type::now() - t0;
  ::close(fd);
  CHECK(r.complete); // closed by the server, not by our deadline
  CHECK(r.status == 0);
  CHECK(took >= 800ms);
  CHECK(took < 5000ms);
}

TEST_CASE("api_server: an answer slower than the idle timeout still arrives") {
  fixture f; // timeout 1 s
  auto r = exchange(f.port(), "GET /delay/1300 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  REQUIRE(r.status == 200);
  CHECK(fields(r.body)["path"] == "/delay/1300");
}

TEST_CASE("api_server: a request never answered gets 503 after the answer timeout") {
  fixture f; // answer timeout 1.5 s
  auto t0 = clock_type::now();
  auto r = exchange(f.port(), "GET /never HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  CHECK(clock_type::now() - t0 >= 1400ms);
  REQUIRE(r.status == 503);
  CHECK(r.body == R"({"code":"internal","message":"no answer"})");
  CHECK(eventually([&] { return f.server.pending_requests() == 0; }));
}

TEST_CASE("api_server: clients gone before their answer leave nothing behind") {
  fixture f;
  std::size_t sent = 0;
  for (auto* path : {"/delay/1000", "/never"}) {
    int fd = connect_to(f.port());
    REQUIRE(send_all(fd, std::string{"GET "} + path + " HTTP/1.1\r\nHost: x\r\n\r\n"));
    ++sent;
    REQUIRE(eventually([&] { return f.server.pending_requests() == sent; }));
    ::close(fd);
  }
  CHECK(f.server.pending_requests() == 2);
  // The late answer and the 503 find no client and are dropped.
  CHECK(eventually([&] { return f.server.pending_requests() == 0; }));
  auto r = exchange(f.port(), "GET /still-here HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  CHECK(r.status == 200);
  // An answer for an unknown request is dropped too.
  http_response stray;
  stray.id = 999999;
  f.server.respond(stray);
}

TEST_CASE("api_server: stop answers what is pending with 503") {
  fixture f;
  int fd = connect_to(f.port());
  REQUIRE(send_all(fd, "GET /never HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  REQUIRE(eventually([&] { return f.server.pending_requests() == 1; }));
  f.server.stop();
  auto r = read_response(fd);
  ::close(fd);
  CHECK(r.status == 503);
  CHECK(r.body.find("\"code\":\"internal\"") != std::string::npos);
}

TEST_CASE("api_server: 1,000 concurrent connections all get answers") {
  raise_fd_limit();
  fixture f;
  constexpr int n = 1000;
  std::vector<int> fds;
  fds.reserve(n);
  for (int i = 0; i < n; ++i) {
    int fd = connect_to(f.port());
    fds.push_back(fd);
    // Held 400 ms by the actor: all are open at once.
    REQUIRE(send_all(fd, "GET /delay/400?i=" + std::to_string(i)
                            + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  }
  std::vector<std::string> raw(n);
  std::vector<bool> done(n, false);
  int left = n;
  auto deadline = clock_type::now() + 30s;
  while (left > 0 && clock_type::now() < deadline) {
    std::vector<pollfd> polls;
    std::vector<int> idx;
    for (int i = 0; i < n; ++i)
      if (!done[i]) {
        polls.push_back({fds[i], POLLIN, 0});
        idx.push_back(i);
      }
    if (::poll(polls.data(), polls.size(), 100) <= 0)
      continue;
    for (std::size_t k = 0; k < polls.size(); ++k) {
      if (!polls[k].revents)
        continue;
      auto i = idx[k];
      char buf[4096];
      auto got = ::recv(fds[i], buf, sizeof buf, 0);
      if (got > 0) {
        raw[i].append(buf, static_cast<std::size_t>(got));
      } else if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
        done[i] = true;
        --left;
      }
    }
  }
  int ok = 0;
  for (int i = 0; i < n; ++i) {
    ::close(fds[i]);
    auto r = parse(raw[i], true);
    if (r.status == 200 && fields(r.body)["query"] == "i=" + std::to_string(i))
      ++ok;
  }
  CHECK(left == 0);
  CHECK(ok == n);
  CHECK(eventually([&] { return f.server.pending_requests() == 0; }));
}

TEST_CASE("api_server: HTTPS with a self-signed certificate") {
  char tmpl[] = "/tmp/api-server-test-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  auto cert = dir + "/cert.pem", key = dir + "/key.pem";
  REQUIRE(net::write_self_signed(cert, key, "127.0.0.1", 2).empty());
  net::api_config c;
  c.tls = true;
  c.tls_cert_file = cert;
  c.tls_key_file = key;
  {
    fixture f{c};
    CHECK(f.server.url() == "https://127.0.0.1:" + std::to_string(f.port()));
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    REQUIRE(ctx);
    REQUIRE(SSL_CTX_load_verify_locations(ctx, cert.c_str(), nullptr) == 1);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    int fd = connect_to(f.port());
    // Blocking socket; a receive timeout bounds every read.
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    SSL* ssl = SSL_new(ctx);
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), "127.0.0.1");
    SSL_set_fd(ssl, fd);
    REQUIRE(SSL_connect(ssl) == 1);
    CHECK(SSL_get_verify_result(ssl) == X509_V_OK);
    std::string req = "POST /secure?k=v HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                      "Connection: close\r\n\r\nping";
    REQUIRE(SSL_write(ssl, req.data(), static_cast<int>(req.size())) == static_cast<int>(req.size()));
    std::string raw;
    char buf[4096];
    for (int i = 0; i < 100; ++i) {
      int n = SSL_read(ssl, buf, sizeof buf);
      if (n <= 0)
        break;
      raw.append(buf, static_cast<std::size_t>(n));
    }
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    ::close(fd);
    auto r = parse(raw, true);
    REQUIRE(r.status == 200);
    auto e = fields(r.body);
    CHECK(e["tls"] == "1");
    CHECK(e["path"] == "/secure");
    CHECK(e["query"] == "k=v");
    CHECK(e["body"] == "ping");

    // Plain HTTP on the HTTPS port gets no answer.
    auto plain = exchange(f.port(), "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    CHECK(plain.status == 0);
  }
  std::system(("rm -rf '" + dir + "'").c_str());
}

TEST_CASE("api_server: a port in use is a clear error") {
  fixture f;
  net::api_server second;
  net::api_config c;
  c.listen = "127.0.0.1:" + std::to_string(f.port());
  c.api = f.echo;
  auto err = second.start(c);
  INFO(err);
  CHECK(err.find("in use") != std::string::npos);
  CHECK(err.find("127.0.0.1:" + std::to_string(f.port())) != std::string::npos);
}
