#pragma once
// The REST API's HTTP side (libmicrohttpd on a thread of its own, never the
// SIP thread): each complete request goes to the API actor as an
// http_request; its http_response comes back through respond(). Only bytes
// move here: routes, JSON and logins live in the actor.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <caf/actor.hpp>

#include "engine/api_port.hpp"

namespace pbx::net {

struct api_config {
  std::string listen = "127.0.0.1:8888"; // IP:PORT or [IPv6]:PORT; port 0: any free one
  bool tls = false;
  std::string tls_cert_file; // PEM, with tls (net/tls_cert.hpp)
  std::string tls_key_file;
  std::size_t max_body = 8u << 20;        // larger bodies get 413
  std::uint32_t timeout = 30;             // seconds a connection may be idle (slow clients)
  std::chrono::milliseconds answer_timeout{60000}; // unanswered this long: 503
  unsigned max_connections = 2048;
  unsigned max_per_source = 1100;
  caf::actor api;                         // receives the http_request messages
};

class api_server final : public api_port {
public:
  api_server();
  ~api_server() override;

  /// Binds and starts the server's thread; returns an error text on failure.
  std::string start(const api_config& cfg);

  /// Answers what is pending with 503, closes every connection, joins the
  /// threads. Safe to call twice.
  void stop();

  /// Thread-safe; an answer to a request whose client is gone is dropped.
  void respond(http_response r) override;
  /// Thread-safe: bans and the allow list, applied at accept.
  void guard(const guard_command& c) override;

  /// The bound port (the real one when the config said 0).
  std::uint16_t port() const;
  /// http://IP:PORT or https://IP:PORT.
  std::string url() const;
  /// Requests handed to the actor and not yet sent back (tests: nothing leaks).
  std::size_t pending_requests() const;

  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

} // namespace pbx::net
