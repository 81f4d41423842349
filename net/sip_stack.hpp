#pragma once
// The SIP thread: libre's event loop with the SIP stack (UDP, TCP, TLS), the
// admin shell's TCP listener, and the mqueue that carries commands in from
// actors. No domain state lives here: requests leave as messages.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>

#include "engine/node_id.hpp"
#include "engine/sip_port.hpp"
#include "net/guard.hpp"

namespace pbx::net {

struct stack_config {
  std::string sip_listen = "127.0.0.1:5060";
  std::string shell_listen = "127.0.0.1:5039";
  std::string sip_tls_listen; // empty: no TLS
  std::string shell_tls_listen; // empty: the shell has no TLS listener
  std::string tls_cert_file;  // PEM, checked before start (net/tls_cert.hpp)
  std::string tls_key_file;
  // New requests (REGISTER, INVITE, SUBSCRIBE) whose tenant or trunk this
  // thread has no route for go here: it resolves, activates or answers 404.
  caf::actor router;
  node_number node = 1;  // in every leg and transaction id this thread makes
  // The first leg of digest: a REGISTER without credentials to a live tenant
  // is challenged here, statelessly, with a nonce from this function. Known
  // and unknown users alike; everything that needs a record stays in actors.
  std::function<std::string(const std::string& realm)> make_nonce;
  caf::actor shell_hub;  // shell lines go here
  caf::actor security;   // bans the SIP thread made, scanners seen
  guard_settings guard;
  int max_fds = 1024;    // libre's loop watches fds below this
  // Admin shell connections: how many at once, from one address and in all;
  // one that sends no complete line, or does not read its output, for
  // `shell_timeout` seconds is closed.
  std::uint32_t shell_max_connections = 256;
  std::uint32_t shell_max_per_source = 16;
  std::uint32_t shell_timeout = 60;
  // RTP ports of the media plane (even ones; bound to sip_listen's IP).
  std::uint16_t rtp_port_min = 10000;
  std::uint16_t rtp_port_max = 20000;
  // etcd's client URLs, IP:PORT each (cluster mode; empty: no etcd calls).
  std::vector<std::string> etcd_endpoints;
};

class sip_stack final : public sip_port {
public:
  sip_stack();
  ~sip_stack() override;

  /// Starts the thread and binds every socket; returns an error text on failure.
  std::string start(const stack_config& cfg);

  /// Closes every socket and joins the thread.
  void stop();

  void reply(sip_reply r) override;
  void leg(leg_command c) override;
  void shell_write(shell_output out) override;
  void guard(guard_command c) override;
  void media(media_command c) override;
  void mwi(mwi_command c) override;
  void trunk(trunk_command c) override;
  void etcd(const etcd_request& r) override;

  /// A directory change to route by (engine/directory.hpp's watch): `key`
  /// ("t/DOMAIN", "ks/IP") is `owner`'s, or nobody's when it is invalid.
  void route(std::string key, caf::actor owner);

  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

} // namespace pbx::net
