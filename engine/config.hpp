#pragma once
// Command-line options and the optional config file (same names, `key = value`).

#include <string>
#include <vector>

#include "engine/context.hpp"
#include "engine/log.hpp"

namespace pbx {

struct node_config {
  std::string data_dir = "./data";
  // The system prompt set: DIR/en/NAME.wav. Empty after parsing only when no
  // default was found (default_prompts_dir).
  std::string prompts_dir;
  std::string sip_listen = "127.0.0.1:5060";
  std::string shell_listen = "127.0.0.1:5039";
  std::string shell_tls_listen; // empty: the shell has no TLS listener
  // SIP over TLS: off unless an address is given (never a listener by surprise).
  std::string sip_tls_listen;
  std::string tls_cert; // empty: DATA/tls/cert.pem (generated self-signed if absent)
  std::string tls_key;  // empty: DATA/tls/key.pem, or the --tls-cert file when that is given
  log::level log_level = log::level::info;
  registrar_settings registrar;
  std::uint32_t passivate_after = 60; // seconds an idle extension actor lives on
  std::uint32_t node_id = 1;          // in every leg, transaction and call id (engine/node_id.hpp)
  // Cluster mode (docs/cluster.md): on only with --cluster; no defaults, so a
  // node never joins or listens for peers by surprise.
  std::vector<std::string> cluster_etcd; // etcd client endpoints, IP:PORT
  std::string node_name;                 // unique among live members
  std::string cluster_listen;            // CAF middleman, IP:PORT other nodes reach
  std::uint32_t workers = default_workers(); // CAF scheduler threads
  security_settings security;
  std::uint32_t shell_max_connections = 256;
  std::uint32_t shell_max_per_source = 16;
  std::uint32_t shell_timeout = 60;
  std::uint32_t tcp_max_connections = 4096;
  std::uint32_t tcp_max_per_source = 100;
  // RTP ports of the media plane (--rtp-ports LO-HI), on the SIP address's IP.
  std::uint16_t rtp_port_min = 10000;
  std::uint16_t rtp_port_max = 20000;
  // The REST API (docs/operations.md): "off" turns it off.
  std::string api_listen = "127.0.0.1:8888";
  bool api_tls = false;                   // HTTPS with the SIP/TLS certificate
  std::uint32_t api_max_body = 8u << 20;  // bytes; larger bodies get 413
  std::uint32_t api_timeout = 30;         // seconds an API connection may be idle
  std::uint32_t api_token_ttl = 3600;     // seconds a login token lives (the API actor's)

  static std::uint32_t default_workers();
  /// The prompt set beside the executable: EXE_DIR/../prompts (the build
  /// tree: build/engine/actorpbx, build/prompts), else
  /// EXE_DIR/../share/actorpbx/prompts (installed); empty when neither has en/.
  static std::string default_prompts_dir();
};

enum class parse_status { run, help, error };

/// Parses argv (and --config FILE); on error `error` says why in one line.
parse_status parse_config(int argc, char** argv, node_config& cfg,
                          std::string& error);

/// The text of --help.
std::string usage();

} // namespace pbx
