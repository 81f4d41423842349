#include "engine/config.hpp"

#include <arpa/inet.h>
#include <climits>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "engine/cidr.hpp"
#include "net/media_math.hpp"
#include <thread>
#include <functional>
#include <map>
#include <vector>

namespace pbx {

namespace {

bool to_u32(const std::string& v, std::uint32_t& out) {
  if (v.empty() || v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos)
    return false;
  out = static_cast<std::uint32_t>(std::stoul(v));
  return true;
}

using setter = std::function<std::string(node_config&, const std::string&)>;

struct option_def {
  const char* name;
  const char* arg; // nullptr: a switch, no value on the command line
  const char* help;
  setter set;
};

// A switch's value: empty (given alone) or yes/no words.
bool to_bool(const std::string& v, bool& out) {
  if (v.empty() || v == "yes" || v == "true" || v == "on" || v == "1")
    return out = true;
  if (v == "no" || v == "false" || v == "off" || v == "0") {
    out = false;
    return true;
  }
  return false;
}

// An address other machines are told or must reach names one interface:
// the any address is refused with the same words for every such flag.
std::string any_address_error(const char* flag, const std::string& addr, const char* who) {
  auto colon = addr.rfind(':');
  auto host = addr.substr(0, colon);
  if (host != "0.0.0.0" && host != "[::]" && host != "[0:0:0:0:0:0:0:0]")
    return {};
  return std::string{"--"} + flag + " " + addr + ": give the IP address " + who
         + " reach, not the any address (e.g. --" + flag + " 192.0.2.10:" + addr.substr(colon + 1)
         + ")";
}

// IPv4 "a.b.c.d:port" or IPv6 "[::1]:port".
bool valid_listen_address(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 == text.size())
    return false;
  auto port = text.substr(colon + 1);
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos
      || std::stoul(port) > 65535)
    return false;
  auto host = text.substr(0, colon);
  unsigned char buf[sizeof(in6_addr)];
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    return inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), buf) == 1;
  return inet_pton(AF_INET, host.c_str(), buf) == 1;
}

std::string set_u32(std::uint32_t& field, const std::string& v, const char* name) {
  if (!to_u32(v, field))
    return std::string{"--"} + name + " wants a number of seconds, got '" + v + "'";
  return {};
}

// A count that must be at least `min`.
std::string set_count(std::uint32_t& field, const std::string& v, const char* name,
                      std::uint32_t min = 1) {
  if (!to_u32(v, field) || field < min)
    return std::string{"--"} + name + " wants a number >= " + std::to_string(min) + ", got '"
           + v + "'";
  return {};
}

std::vector<std::string> split(const std::string& v, char sep) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos <= v.size()) {
    auto next = v.find(sep, pos);
    auto part = v.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
    auto first = part.find_first_not_of(" \t");
    if (first != std::string::npos)
      out.push_back(part.substr(first, part.find_last_not_of(" \t") - first + 1));
    if (next == std::string::npos)
      break;
    pos = next + 1;
  }
  return out;
}

// Cluster options: all three or none; the addresses named, never defaulted.
std::string check_cluster(const node_config& cfg) {
  if (cfg.cluster_etcd.empty()) {
    if (!cfg.node_name.empty() || !cfg.cluster_listen.empty())
      return "--node-name and --cluster-listen need --cluster etcd=IP:PORT";
    return {};
  }
  if (cfg.node_name.empty())
    return "--cluster needs --node-name NAME";
  if (cfg.node_name.size() > 63
      || cfg.node_name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                         "0123456789._-")
           != std::string::npos)
    return "--node-name wants 1-63 letters, digits, '.', '_' or '-', got '" + cfg.node_name + "'";
  if (cfg.cluster_listen.empty())
    return "--cluster needs --cluster-listen IP:PORT (the address other nodes reach)";
  if (!valid_listen_address(cfg.cluster_listen))
    return "--cluster-listen wants IP:PORT, got '" + cfg.cluster_listen + "'";
  return any_address_error("cluster-listen", cfg.cluster_listen, "other nodes");
}

const std::vector<option_def>& options() {
  static const std::vector<option_def> defs = {
    {"data-dir", "DIR", "LMDB data folder (default ./data)",
     [](node_config& c, const std::string& v) { c.data_dir = v; return std::string{}; }},
    {"prompts", "DIR", "system prompt set, DIR/en/NAME.wav (default: ../prompts or "
                       "../share/actorpbx/prompts beside the executable)",
     [](node_config& c, const std::string& v) { c.prompts_dir = v; return std::string{}; }},
    {"sip-listen", "IP:PORT", "SIP address, UDP and TCP (default 127.0.0.1:5060)",
     [](node_config& c, const std::string& v) { c.sip_listen = v; return std::string{}; }},
    {"sip-tls-listen", "IP:PORT", "SIP over TLS address (default: off; PortSIP uses 5061)",
     [](node_config& c, const std::string& v) { c.sip_tls_listen = v; return std::string{}; }},
    {"shell-tls-listen", "IP:PORT", "admin shell over TLS, same certificate as SIP/TLS (default: off)",
     [](node_config& c, const std::string& v) { c.shell_tls_listen = v; return std::string{}; }},
    {"tls-cert", "FILE",
     "PEM certificate (chain) for SIP/TLS (default DATA/tls/cert.pem, self-signed if missing)",
     [](node_config& c, const std::string& v) { c.tls_cert = v; return std::string{}; }},
    {"tls-key", "FILE", "PEM private key (default DATA/tls/key.pem, or in the --tls-cert file)",
     [](node_config& c, const std::string& v) { c.tls_key = v; return std::string{}; }},
    {"shell-listen", "IP:PORT", "admin shell address (default 127.0.0.1:5039)",
     [](node_config& c, const std::string& v) { c.shell_listen = v; return std::string{}; }},
    {"log-level", "LEVEL", "debug, info, warn or error (default info)",
     [](node_config& c, const std::string& v) {
       return log::parse_level(v, c.log_level) ? std::string{}
                                               : "--log-level wants debug|info|warn|error, got '" + v + "'";
     }},
    {"min-expires", "SECONDS", "shortest registration accepted, else 423 (default 60)",
     [](node_config& c, const std::string& v) { return set_u32(c.registrar.min_expires, v, "min-expires"); }},
    {"max-expires", "SECONDS", "longest registration granted (default 3600)",
     [](node_config& c, const std::string& v) { return set_u32(c.registrar.max_expires, v, "max-expires"); }},
    {"default-expires", "SECONDS", "registration lifetime when the phone names none (default 3600)",
     [](node_config& c, const std::string& v) { return set_u32(c.registrar.default_expires, v, "default-expires"); }},
    {"workers", "N", "actor scheduler threads (default: cores - 1, at least 1)",
     [](node_config& c, const std::string& v) {
       if (!to_u32(v, c.workers) || c.workers < 1 || c.workers > 256)
         return "--workers wants 1..256, got '" + v + "'";
       return std::string{};
     }},
    {"passivate-after", "SECONDS", "idle extension actors with no binding stop after this (default 60)",
     [](node_config& c, const std::string& v) { return set_u32(c.passivate_after, v, "passivate-after"); }},
    {"node-id", "N", "this node's number, 1..65535, in every call, leg and transaction id; "
                     "unique in a cluster (default 1)",
     [](node_config& c, const std::string& v) {
       if (!to_u32(v, c.node_id) || c.node_id < 1 || c.node_id > 65535)
         return "--node-id wants 1..65535, got '" + v + "'";
       return std::string{};
     }},
    {"nonce-ttl", "SECONDS", "digest nonce lifetime before stale=true (default 300)",
     [](node_config& c, const std::string& v) { return set_u32(c.registrar.nonce_ttl, v, "nonce-ttl"); }},
    {"cluster", "etcd=IP:PORT[,IP:PORT...]",
     "cluster mode: membership through these etcd endpoints (default: off, a single node)",
     [](node_config& c, const std::string& v) {
       if (v.rfind("etcd=", 0) != 0)
         return "--cluster wants etcd=IP:PORT[,IP:PORT...], got '" + v + "'";
       c.cluster_etcd = split(v.substr(5), ',');
       if (c.cluster_etcd.empty())
         return "--cluster: no etcd endpoint in '" + v + "'";
       for (auto& e : c.cluster_etcd)
         if (!valid_listen_address(e))
           return "--cluster: etcd endpoint '" + e + "' is not IP:PORT";
       return std::string{};
     }},
    {"node-name", "NAME", "this node's name in the cluster, unique among live nodes (with --cluster)",
     [](node_config& c, const std::string& v) { c.node_name = v; return std::string{}; }},
    {"cluster-listen", "IP:PORT",
     "address other nodes reach this node's actors on (CAF middleman; with --cluster)",
     [](node_config& c, const std::string& v) { c.cluster_listen = v; return std::string{}; }},
    {"security-auth-failures", "N", "failed authentications from one address that ban it (default 50; 0: never)",
     [](node_config& c, const std::string& v) { return set_count(c.security.auth_failures, v, "security-auth-failures", 0); }},
    {"security-auth-window", "SECONDS", "...counted over this long (default 600)",
     [](node_config& c, const std::string& v) { return set_count(c.security.auth_window, v, "security-auth-window"); }},
    {"security-ban-time", "SECONDS", "how long a ban lasts (default 3600)",
     [](node_config& c, const std::string& v) { return set_count(c.security.ban_time, v, "security-ban-time"); }},
    {"security-packet-rate", "N", "packets/s from one address before a ban (default 500; 0: no limit)",
     [](node_config& c, const std::string& v) { return set_count(c.security.packet_rate, v, "security-packet-rate", 0); }},
    {"security-unauth-rate", "N", "requests/s without credentials from one address before a ban (default 100; 0: no limit)",
     [](node_config& c, const std::string& v) { return set_count(c.security.unauth_rate, v, "security-unauth-rate", 0); }},
    {"security-ua-block", "LIST", "User-Agents dropped silently, ';'-separated substrings (default: "
                                  "friendly-scanner;sipcli;sipvicious;VaxSIPUserAgent;pplsip;sundayddr; '' for none)",
     [](node_config& c, const std::string& v) { c.security.ua_block = split(v, ';'); return std::string{}; }},
    {"security-allow", "CIDRS", "addresses never banned, ','-separated IPs or CIDRs (the shell adds more)",
     [](node_config& c, const std::string& v) {
       c.security.allow = split(v, ',');
       for (auto& a : c.security.allow)
         if (!cidr::parse(a))
           return "--security-allow: '" + a + "' is not an IP address or CIDR range";
       return std::string{};
     }},
    {"security-log", "FILE", "append security events (docs/security.md) to FILE as well as stderr",
     [](node_config& c, const std::string& v) { c.security.log_file = v; return std::string{}; }},
    {"shell-max-connections", "N", "admin shell connections at once (default 256)",
     [](node_config& c, const std::string& v) { return set_count(c.shell_max_connections, v, "shell-max-connections"); }},
    {"shell-max-per-source", "N", "...from one address (default 16)",
     [](node_config& c, const std::string& v) { return set_count(c.shell_max_per_source, v, "shell-max-per-source"); }},
    {"shell-timeout", "SECONDS", "close a shell connection silent or not reading this long (default 60)",
     [](node_config& c, const std::string& v) { return set_count(c.shell_timeout, v, "shell-timeout"); }},
    {"sip-tcp-max-connections", "N", "SIP TCP/TLS connections at once (default 4096)",
     [](node_config& c, const std::string& v) { return set_count(c.tcp_max_connections, v, "sip-tcp-max-connections"); }},
    {"sip-tcp-max-per-source", "N", "...from one address (default 100)",
     [](node_config& c, const std::string& v) { return set_count(c.tcp_max_per_source, v, "sip-tcp-max-per-source"); }},
    {"api-listen", "IP:PORT", "REST API address, HTTP (default 127.0.0.1:8888; 'off': no API)",
     [](node_config& c, const std::string& v) { c.api_listen = v; return std::string{}; }},
    {"api-tls", nullptr, "serve the REST API over HTTPS, with the SIP/TLS certificate",
     [](node_config& c, const std::string& v) {
       return to_bool(v, c.api_tls) ? std::string{} : "--api-tls wants yes or no, got '" + v + "'";
     }},
    {"api-max-body", "BYTES", "largest REST request body, else 413 (default 8388608)",
     [](node_config& c, const std::string& v) { return set_count(c.api_max_body, v, "api-max-body"); }},
    {"api-timeout", "SECONDS", "close an API connection idle this long (default 30)",
     [](node_config& c, const std::string& v) { return set_count(c.api_timeout, v, "api-timeout"); }},
    {"api-token-ttl", "SECONDS", "lifetime of a REST API login token (default 3600)",
     [](node_config& c, const std::string& v) { return set_count(c.api_token_ttl, v, "api-token-ttl"); }},
    {"rtp-ports", "LO-HI", "UDP ports of the media plane's RTP, even ones used (default 10000-20000)",
     [](node_config& c, const std::string& v) {
       auto r = net::media::parse_port_range(v);
       if (!r)
         return "--rtp-ports wants LO-HI with at least one even port in 1..65535, got '" + v + "'";
       c.rtp_port_min = r->lo;
       c.rtp_port_max = r->hi;
       return std::string{};
     }},
  };
  return defs;
}

bool is_switch(const std::string& name) {
  for (auto& d : options())
    if (name == d.name)
      return d.arg == nullptr;
  return false;
}

std::string apply(node_config& cfg, const std::string& name, const std::string& value) {
  for (auto& d : options())
    if (name == d.name)
      return d.set(cfg, value);
  return "unknown option '" + name + "' (see --help)";
}

std::string load_file(node_config& cfg, const std::string& path) {
  std::ifstream in{path};
  if (!in)
    return "cannot read config file '" + path + "'";
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    auto hash = line.find('#');
    if (hash != std::string::npos)
      line.erase(hash);
    auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos)
      continue;
    line = line.substr(first, line.find_last_not_of(" \t\r") - first + 1);
    auto sep = line.find_first_of("= \t");
    if (sep == std::string::npos && is_switch(line))
      sep = line.size(); // a switch alone: on
    if (sep == std::string::npos)
      return path + ":" + std::to_string(n) + ": expected 'key = value'";
    auto key = line.substr(0, sep);
    auto value = line.substr(sep);
    value.erase(0, value.find_first_not_of("= \t"));
    if (auto err = apply(cfg, key, value); !err.empty())
      return path + ":" + std::to_string(n) + ": " + err;
  }
  return {};
}

} // namespace

std::uint32_t node_config::default_workers() {
  auto cores = std::thread::hardware_concurrency();
  return cores > 2 ? cores - 1 : 1;
}

std::string node_config::default_prompts_dir() {
  char exe[PATH_MAX];
  auto n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0)
    return {};
  std::string dir(exe, static_cast<std::size_t>(n));
  dir.erase(dir.rfind('/'));
  for (const char* rel : {"/../prompts", "/../share/actorpbx/prompts"}) {
    char real[PATH_MAX];
    struct stat st{};
    auto candidate = dir + rel;
    if (::stat((candidate + "/en").c_str(), &st) == 0 && S_ISDIR(st.st_mode)
        && ::realpath(candidate.c_str(), real) != nullptr)
      return real;
  }
  return {};
}

std::string usage() {
  std::string out = "usage: actorpbx [OPTIONS]\n"
                    "       actorpbx shell [--tls [--ca FILE]] [IP:PORT]   admin shell client\n\n"
                    "options (also as 'name = value' lines in a --config file):\n";
  auto line = [&](const std::string& flag, const std::string& help) {
    out += "  " + flag;
    out += std::string(flag.size() < 30 ? 30 - flag.size() : 1, ' ');
    out += help + "\n";
  };
  line("--help", "show this text and exit");
  line("--config FILE", "read options from FILE (command line wins)");
  for (auto& d : options())
    line(std::string{"--"} + d.name + (d.arg ? std::string{" "} + d.arg : ""), d.help);
  out += "\nenvironment: ACTORPBX_ADMIN_PASSWORD sets the admin password on first start\n"
         "(later, change it in the shell: admin password NEW).\n"
         "exit codes: 0 clean shutdown, 1 runtime failure (port, data dir, TLS certificate),\n"
         "            2 bad usage.\n";
  return out;
}

parse_status parse_config(int argc, char** argv, node_config& cfg,
                          std::string& error) {
  std::vector<std::pair<std::string, std::string>> cli;
  std::string config_file;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h")
      return parse_status::help;
    if (arg.rfind("--", 0) != 0) {
      error = "unexpected argument '" + arg + "' (see --help)";
      return parse_status::error;
    }
    auto name = arg.substr(2), value = std::string{};
    auto eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.erase(eq);
    }
    bool known = name == "config";
    for (auto& d : options())
      known |= name == d.name;
    if (!known) {
      error = "unknown option '--" + name + "' (see --help)";
      return parse_status::error;
    }
    if (eq != std::string::npos || is_switch(name)) {
      // value given inline, or none (a switch)
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      error = "option --" + name + " needs a value";
      return parse_status::error;
    }
    if (name == "config")
      config_file = value;
    else
      cli.emplace_back(name, value);
  }
  if (!config_file.empty())
    if (error = load_file(cfg, config_file); !error.empty())
      return parse_status::error;
  for (auto& [name, value] : cli)
    if (error = apply(cfg, name, value); !error.empty())
      return parse_status::error;
  for (auto [flag, addr] : {std::pair{"--sip-listen", &cfg.sip_listen},
                            std::pair{"--shell-listen", &cfg.shell_listen}})
    if (!valid_listen_address(*addr)) {
      error = std::string{flag} + " wants IP:PORT, got '" + *addr + "'";
      return parse_status::error;
    }
  if (!cfg.sip_tls_listen.empty() && !valid_listen_address(cfg.sip_tls_listen)) {
    error = "--sip-tls-listen wants IP:PORT, got '" + cfg.sip_tls_listen + "'";
    return parse_status::error;
  }
  if (!cfg.shell_tls_listen.empty() && !valid_listen_address(cfg.shell_tls_listen)) {
    error = "--shell-tls-listen wants IP:PORT, got '" + cfg.shell_tls_listen + "'";
    return parse_status::error;
  }
  if (!cfg.tls_key.empty() && cfg.tls_cert.empty()) {
    error = "--tls-key needs --tls-cert";
    return parse_status::error;
  }
  // libre writes this address into Via and Contact: phones must reach it.
  if (error = any_address_error("sip-listen", cfg.sip_listen, "phones"); !error.empty())
    return parse_status::error;
  if (cfg.api_listen != "off") {
    if (!valid_listen_address(cfg.api_listen)) {
      error = "--api-listen wants IP:PORT or off, got '" + cfg.api_listen + "'";
      return parse_status::error;
    }
    // The API is reached on one chosen interface, like SIP.
    if (error = any_address_error("api-listen", cfg.api_listen, "API clients"); !error.empty())
      return parse_status::error;
  } else if (cfg.api_tls) {
    error = "--api-tls needs the API on (--api-listen is off)";
    return parse_status::error;
  }
  if (auto e = check_cluster(cfg); !e.empty()) {
    error = e;
    return parse_status::error;
  }
  if (cfg.registrar.min_expires > cfg.registrar.max_expires) {
    error = "--min-expires is above --max-expires";
    return parse_status::error;
  }
  if (cfg.prompts_dir.empty()) {
    cfg.prompts_dir = node_config::default_prompts_dir(); // none: main warns
  } else {
    struct stat st{};
    char real[PATH_MAX];
    if (::stat((cfg.prompts_dir + "/en").c_str(), &st) != 0 || !S_ISDIR(st.st_mode)
        || ::realpath(cfg.prompts_dir.c_str(), real) == nullptr) {
      error = "--prompts " + cfg.prompts_dir + ": no en/ folder of prompts in it";
      return parse_status::error;
    }
    cfg.prompts_dir = real; // the SIP thread opens the files: absolute paths
  }
  return parse_status::run;
}

} // namespace pbx
