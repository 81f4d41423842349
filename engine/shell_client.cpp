#include "engine/shell_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include <editline/readline.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace pbx {

namespace {

// The connection: a socket, and an OpenSSL session on it over TLS.
struct link {
  int fd = -1;
  SSL* ssl = nullptr;
  long send(const char* p, std::size_t n) {
    return ssl ? SSL_write(ssl, p, static_cast<int>(n)) : ::send(fd, p, n, MSG_NOSIGNAL);
  }
  long recv(char* p, std::size_t n) {
    return ssl ? SSL_read(ssl, p, static_cast<int>(n)) : ::recv(fd, p, n, 0);
  }
};

bool send_line(link& l, const std::string& line) {
  auto data = line + "\n";
  std::size_t off = 0;
  while (off < data.size()) {
    auto n = l.send(data.data() + off, data.size() - off);
    if (n <= 0)
      return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

// A TLS session that checks the node's certificate against `ca` (or the
// system's CAs) and its name against `host`; an error text, or empty.
std::string start_tls(link& l, const std::string& host, const std::string& ca) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx)
    return "no TLS context";
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  bool loaded = ca.empty() ? SSL_CTX_set_default_verify_paths(ctx) == 1
                           : SSL_CTX_load_verify_locations(ctx, ca.c_str(), nullptr) == 1;
  if (!loaded) {
    SSL_CTX_free(ctx);
    return "cannot read the CA file " + ca;
  }
  l.ssl = SSL_new(ctx);
  SSL_CTX_free(ctx); // the session holds it
  auto* param = SSL_get0_param(l.ssl);
  if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) != 1)
    SSL_set1_host(l.ssl, host.c_str());
  SSL_set_fd(l.ssl, l.fd);
  if (SSL_connect(l.ssl) != 1) {
    long v = SSL_get_verify_result(l.ssl);
    const char* reason = ERR_reason_error_string(ERR_get_error());
    std::string why = v != X509_V_OK ? X509_verify_cert_error_string(v)
                                      : reason ? reason : "handshake failed";
    return "TLS: " + why + (v != X509_V_OK && ca.empty() ? " (give the node's certificate with --ca FILE)" : "");
  }
  return {};
}

// Prints the answer up to its closing OK/ERR line (with `json`: its one
// line; `print` false: swallowed); false when the node hung up.
bool print_answer(link& l, std::string& buf, bool json = false, bool print = true) {
  for (;;) {
    std::size_t pos;
    while ((pos = buf.find('\n')) != std::string::npos) {
      auto line = buf.substr(0, pos);
      buf.erase(0, pos + 1);
      if (print)
        std::cout << line << "\n";
      if (json || line == "OK" || line.rfind("ERR", 0) == 0)
        return true;
    }
    char chunk[4096];
    auto n = l.recv(chunk, sizeof(chunk));
    if (n <= 0)
      return false;
    buf.append(chunk, static_cast<std::size_t>(n));
  }
}

} // namespace

int run_shell_client(int argc, char** argv) {
  std::string address = "127.0.0.1:5039", ca;
  bool tls = false, json = false;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--tls") {
      tls = true;
    } else if (a == "--json") {
      json = true;
    } else if (a == "--ca" && i + 1 < argc) {
      ca = argv[++i];
      tls = true;
    } else if (a.rfind("--", 0) == 0) {
      std::fprintf(stderr, "usage: actorpbx shell [--tls] [--ca FILE] [--json] [IP:PORT]\n");
      return 2;
    } else {
      address = a;
    }
  }
  auto colon = address.rfind(':');
  std::string host = colon == std::string::npos ? address : address.substr(0, colon);
  int port = colon == std::string::npos ? 5039 : std::atoi(address.c_str() + colon + 1);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(static_cast<uint16_t>(port));
  if (port <= 0 || port > 65535 || inet_pton(AF_INET, host.c_str(), &sin.sin_addr) != 1) {
    std::fprintf(stderr, "actorpbx shell: bad address '%s' (want IP:PORT)\n", address.c_str());
    return 2;
  }
  link l;
  l.fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (l.fd < 0 || ::connect(l.fd, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)) != 0) {
    std::fprintf(stderr, "actorpbx shell: cannot connect to %s: %s\n", address.c_str(),
                 std::strerror(errno));
    return 1;
  }
  if (tls) {
    if (auto err = start_tls(l, host, ca); !err.empty()) {
      std::fprintf(stderr, "actorpbx shell: %s: %s\n", address.c_str(), err.c_str());
      SSL_free(l.ssl);
      ::close(l.fd);
      return 1;
    }
  }
  bool tty = isatty(STDIN_FILENO);
  std::string buf;
  // --json: every answer (the login's too) is one line of JSON, typed as the
  // REST API types it; the switch's own answer is not shown.
  if (json && (!send_line(l, "output json") || !print_answer(l, buf, true, false))) {
    std::fprintf(stderr, "actorpbx shell: %s closed the connection\n", address.c_str());
    SSL_free(l.ssl);
    ::close(l.fd);
    return 1;
  }
  bool importing = false;
  for (;;) {
    char* raw = tty ? readline(importing ? "csv> " : "actorpbx> ") : nullptr;
    std::string line;
    if (tty) {
      if (!raw)
        break;
      line = raw;
      std::free(raw);
      if (!line.empty() && !importing)
        add_history(line.c_str());
    } else if (!std::getline(std::cin, line)) {
      break;
    }
    if (!send_line(l, line))
      break;
    // An import is answered once, after its closing ".".
    if (!importing && line.rfind("extension import", 0) == 0) {
      importing = true;
      continue;
    }
    if (importing) {
      if (line != ".")
        continue;
      importing = false;
    }
    if (line.find_first_not_of(" \t") == std::string::npos)
      continue;
    if (!print_answer(l, buf, json))
      break;
    if (line == "quit" || line == "exit")
      break;
  }
  if (l.ssl) {
    SSL_shutdown(l.ssl);
    SSL_free(l.ssl);
  }
  ::close(l.fd);
  return 0;
}

} // namespace pbx
