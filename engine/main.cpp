// actorpbx: boot a node (storage, actors, SIP thread), run until SIGINT or
// SIGTERM, shut down in reverse order. Exit codes: 0 clean, 1 runtime
// failure, 2 bad usage.

#include <algorithm>
#include <climits>
#include <csignal>
#include <filesystem>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <set>
#include <sys/resource.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>

#include "actors/admin_shell.hpp"
#include "actors/digest.hpp"
#include "actors/messages/directory.hpp"
#include "actors/password.hpp"
#include "actors/admin.hpp"
#include "actors/api.hpp"
#include "actors/password_hasher.hpp"
#include "actors/retention.hpp"
#include "actors/security.hpp"
#include "engine/config.hpp"
#include "engine/directory.hpp"
#include "engine/log.hpp"
#include "engine/membership.hpp"
#include "engine/message_types.hpp"
#include "engine/metrics.hpp"
#include "engine/ownership.hpp"
#include "engine/router.hpp"
#include "engine/shell_client.hpp"
#include "engine/sip_port_actor.hpp"
#include "net/api_server.hpp"
#include "net/sip_stack.hpp"
#include "net/tls_cert.hpp"
#include "storage/commit_observer.hpp"
#include "storage/store.hpp"

using namespace pbx;

// jemalloc's options (read at its start; MALLOC_CONF overrides them). A
// background thread hands freed pages back to the system by itself: without
// it jemalloc purges only while the process allocates, so an idle node kept
// what an import freed (bench/README.md: 334 MB PSS after importing 200,000
// extensions, 236 MB with it). glibc (the sanitizer build) ignores this.
extern "C" {
const char* malloc_conf = "background_thread:true,max_background_threads:1";
}

namespace {

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

// First start: the admin password from the environment, or a generated one
// printed once and left in DATA/admin-password (mode 600).
bool bootstrap_admin(storage::store& store, const std::string& data_dir) {
  if (store.meta("admin_password_hash")) {
    if (auto* env = std::getenv("ACTORPBX_ADMIN_PASSWORD"); env && *env)
      log::warn("ACTORPBX_ADMIN_PASSWORD is ignored: an admin password is stored already "
                "(change it in the shell: admin password NEW)");
    return true;
  }
  std::string pw;
  bool generated = false;
  if (auto* env = std::getenv("ACTORPBX_ADMIN_PASSWORD"); env && *env) {
    pw = env;
  } else {
    pw = password::generate();
    generated = true;
  }
  storage::batch b;
  b.put_meta("admin_password_hash", password::hash(pw));
  if (auto err = store.write(std::move(b)); !err.empty()) {
    log::error("cannot store the admin password: ", err);
    return false;
  }
  if (generated) {
    auto path = data_dir + "/admin-password";
    auto old = ::umask(077);
    std::ofstream out{path, std::ios::trunc};
    out << pw << "\n";
    ::umask(old);
    ::chmod(path.c_str(), 0600);
    std::printf("actorpbx: generated admin password: %s (also in %s)\n", pw.c_str(),
                path.c_str());
    std::fflush(stdout);
  }
  return true;
}

// Extension records written before version 5 hold the SIP password itself;
// they are rewritten once with its digest HA1 only (meta key below). Returns
// an error text, or "" when done.
std::string migrate_sip_passwords(storage::store& store) {
  constexpr const char* done_key = "sip_password_ha1_migrated";
  if (store.meta(done_key))
    return {};
  std::size_t n = 0;
  storage::batch b;
  auto flush = [&]() -> std::string {
    if (b.empty())
      return {};
    auto err = store.write(std::move(b));
    b = storage::batch{};
    return err;
  };
  for (auto& t : store.tenants()) {
    // A page at a time: a tenant may hold a million extensions.
    std::string after;
    for (;;) {
      auto page = store.extensions(t.domain, after, 1000);
      if (page.empty())
        break;
      after = page.back().number;
      for (auto& e : page) {
        if (e.sip_password.empty())
          continue;
        e.sip_ha1 = digest::ha1(e.number, e.domain, e.sip_password);
        e.sip_password.clear();
        b.put(e);
        ++n;
      }
      if (b.size() >= 500)
        if (auto err = flush(); !err.empty())
          return err;
    }
  }
  b.put_meta(done_key, "1");
  if (auto err = flush(); !err.empty())
    return err;
  if (n > 0)
    log::info("kept only the digest HA1 of ", n, " extension passwords");
  return {};
}

std::string random_secret() {
  std::random_device rd;
  std::string s;
  for (int i = 0; i < 32; ++i)
    s += static_cast<char>(rd() & 0xff);
  return s;
}

// libre's loop watches fds below its limit only (1024 by default): the soft
// limit goes up to what the hard limit allows, and libre is told (net/).
int raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return 1024;
  rlim_t want = std::min<rlim_t>(rl.rlim_max, 65536);
  if (rl.rlim_cur < want) {
    rl.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
      getrlimit(RLIMIT_NOFILE, &rl);
  }
  return static_cast<int>(std::min<rlim_t>(rl.rlim_cur, 65536));
}

bool api_on(const node_config& ncfg) {
  return ncfg.api_listen != "off";
}

// The address a generated certificate is made for: the first TLS listener's.
const std::string& tls_listen(const node_config& ncfg) {
  if (!ncfg.sip_tls_listen.empty())
    return ncfg.sip_tls_listen;
  if (!ncfg.shell_tls_listen.empty())
    return ncfg.shell_tls_listen;
  return ncfg.api_listen; // --api-tls
}

// The host a SIP/TLS address names, for a generated certificate: the
// machine's name when it listens on every address.
std::string tls_host(const std::string& listen) {
  auto host = listen.substr(0, listen.rfind(':'));
  if (host.size() > 2 && host.front() == '[')
    host = host.substr(1, host.size() - 2);
  if (host == "0.0.0.0" || host == "::") {
    char name[256] = {};
    if (::gethostname(name, sizeof name - 1) == 0 && name[0])
      return name;
    return "localhost";
  }
  return host;
}

// The SIP/TLS certificate; a self-signed one is made at first start.
bool prepare_tls(const node_config& ncfg, net::tls_identity& id) {
  auto host = tls_host(tls_listen(ncfg));
  if (auto e = net::prepare_identity(ncfg.tls_cert, ncfg.tls_key, ncfg.data_dir, host, id);
      !e.empty()) {
    std::fprintf(stderr, "actorpbx: %s\n", e.c_str());
    return false;
  }
  if (id.generated)
    log::warn("TLS: generated a self-signed certificate for ", host, " (", id.cert_file,
              ", key ", id.key_file, "); phones trust it only if told to. To replace it, "
              "put a PEM certificate and key in those two files, or start with --tls-cert "
              "FILE --tls-key FILE");
  else
    log::info("TLS certificate ", id.cert_file, ": ", id.subject, ", valid until ",
              id.not_after);
  if (id.expired)
    log::warn("TLS certificate ", id.cert_file, " is not valid now (until ", id.not_after,
              "): phones will refuse it");
  return true;
}

int run_node(const node_config& ncfg) {
  log::set_level(ncfg.log_level);
  if (auto e = log::set_security_file(ncfg.security.log_file); !e.empty()) {
    std::fprintf(stderr, "actorpbx: %s\n", e.c_str());
    return 1;
  }
  // Signals are taken by sigwait below; every thread inherits the mask.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  std::string err;
  storage::set_commit_observer(&metrics::lmdb_commit); // actorpbx_lmdb_commit_seconds
  auto store = storage::store::open(ncfg.data_dir, storage::options{}, &err);
  if (!store) {
    std::fprintf(stderr, "actorpbx: cannot open data dir %s: %s\n", ncfg.data_dir.c_str(),
                 err.c_str());
    return 1;
  }
  if (auto r = store->reconciled(); r.files_removed + r.temps_removed + r.records_removed > 0)
    log::warn("voicemail: removed ", r.files_removed, " files without a record, ",
              r.temps_removed, " unfinished files, ", r.records_removed,
              " records whose file was missing or truncated");
  if (!bootstrap_admin(*store, ncfg.data_dir))
    return 1;
  std::uint64_t boot = 1;
  if (auto last = store->meta("boots"))
    boot = std::strtoull(last->c_str(), nullptr, 10) + 1;
  {
    storage::batch b;
    b.put_meta("boots", std::to_string(boot));
    if (auto err = store->write(std::move(b)); !err.empty()) {
      std::fprintf(stderr, "actorpbx: cannot write to the data dir: %s\n", err.c_str());
      return 1;
    }
  }
  net::tls_identity tls;
  if (!ncfg.sip_tls_listen.empty() || !ncfg.shell_tls_listen.empty()
      || (api_on(ncfg) && ncfg.api_tls)) {
    if (!prepare_tls(ncfg, tls))
      return 1;
  } else if (!ncfg.tls_cert.empty()) {
    log::warn("--tls-cert is set but none of --sip-tls-listen, --shell-tls-listen, --api-tls: "
              "no TLS");
  }
  if (auto err = migrate_sip_passwords(*store); !err.empty()) {
    log::error("cannot rewrite extension passwords as HA1: ", err);
    return 1;
  }
  // Every tenant with bindings runs, so that they expire on time; one that
  // ran out while the node was down is erased as its tenant loads it.
  auto live = store->binding_domains();

  local_directory dir;
  net::sip_stack sip;
  // The SIP thread routes new requests by its own copy of these keys, kept
  // by the directory's changes: no lock per request. Set before any actor runs.
  for (const char* prefix : {"t/", "ks/"})
    dir.watch(prefix, [&sip](const std::string& key, const caf::actor& owner) {
      sip.route(key, owner);
    });
  // Outlives the actors: the API actor answers through ctx.api_out until it stops.
  net::api_server api_http;
  node_context ctx;
  ctx.store = store.get();
  ctx.dir = &dir;
  ctx.sip = &sip;
  ctx.registrar = ncfg.registrar;
  ctx.nonce_secret = random_secret();
  ctx.boot = boot;
  ctx.node = static_cast<node_number>(ncfg.node_id);
  ctx.now = unix_now;
  ctx.idle_passivation = std::chrono::seconds(std::max<std::uint32_t>(1, ncfg.passivate_after));
  ctx.security = ncfg.security;
  ctx.api_out = &api_http;
  ctx.api_token_ttl = ncfg.api_token_ttl;
  {
    std::error_code ec;
    auto abs = std::filesystem::absolute(ncfg.data_dir, ec);
    ctx.data_dir = (ec ? std::filesystem::path(ncfg.data_dir) : abs).lexically_normal().string();
    while (ctx.data_dir.size() > 1 && ctx.data_dir.back() == '/')
      ctx.data_dir.pop_back();
  }
  if (!ncfg.prompts_dir.empty()) {
    ctx.system_prompts = ncfg.prompts_dir + "/en";
    log::debug("prompt set ", ctx.system_prompts);
  } else {
    log::warn("no prompt set found beside the executable (--prompts DIR): voicemail is silent");
  }
  int rc = 0;
  {
    caf::actor_system_config cfg;
    add_message_types(cfg);
    // Work sharing wakes a sleeping worker at once; work stealing's polling
    // sleeps (up to 10 ms) cost latency and context switches. One core is
    // left to the SIP thread: measured in bench/README.md.
    cfg.set("scheduler.policy", caf::atom("sharing"));
    cfg.set("scheduler.max-threads", static_cast<size_t>(ncfg.workers));
    bool cluster = !ncfg.cluster_etcd.empty();
    if (cluster) {
      // CAF's middleman carries actor messages between nodes. Its heartbeats
      // notice a half-open peer; etcd's lease still decides who is a member.
      cfg.load<caf::io::middleman>();
      cfg.set("middleman.heartbeat-interval", caf::timespan{std::chrono::seconds(1)});
      cfg.set("middleman.connection-timeout", caf::timespan{std::chrono::seconds(4)});
    }
    // Cluster mode: nothing is placed until membership has read etcd; other
    // members' routers and SIP ports come from their node actors. Declared
    // before the actor system: its actors use them until it is gone.
    ownership nowhere;
    remote_nodes remotes;
    if (cluster) {
      ctx.node_name = ncfg.node_name;
      ctx.placed = &nowhere;
      ctx.remote_sip = [&remotes](node_number n) { return remotes.sip(n); };
      ctx.remote_router = [&remotes](node_number n) { return remotes.router(n); };
    }
    caf::actor_system sys{cfg};
    ctx.router = sys.spawn(router_actor, &ctx);
    ctx.hasher = sys.spawn<caf::detached>(password_hasher);
    ctx.security_actor = sys.spawn(security_actor, &ctx);
    ctx.admin = sys.spawn(admin_actor, &ctx);
    if (api_on(ncfg))
      ctx.api = sys.spawn(api_actor, &ctx);
    auto hub = sys.spawn(shell_hub_actor, &ctx);
    auto retention = sys.spawn(retention_actor, &ctx, std::chrono::hours(1));
    net::stack_config scfg;
    scfg.sip_listen = ncfg.sip_listen;
    scfg.shell_listen = ncfg.shell_listen;
    scfg.sip_tls_listen = ncfg.sip_tls_listen;
    scfg.shell_tls_listen = ncfg.shell_tls_listen;
    scfg.tls_cert_file = tls.cert_file;
    scfg.tls_key_file = tls.key_file;
    scfg.router = ctx.router;
    scfg.node = ctx.node;
    scfg.make_nonce = [&ctx](const std::string& realm) {
      return digest::make_nonce(ctx.nonce_secret, realm, ctx.now());
    };
    scfg.shell_hub = hub;
    scfg.security = ctx.security_actor;
    scfg.shell_max_connections = ncfg.shell_max_connections;
    scfg.shell_max_per_source = ncfg.shell_max_per_source;
    scfg.shell_timeout = ncfg.shell_timeout;
    scfg.rtp_port_min = ncfg.rtp_port_min;
    scfg.rtp_port_max = ncfg.rtp_port_max;
    scfg.max_fds = raise_fd_limit();
    scfg.guard.packet_rate = ncfg.security.packet_rate;
    scfg.guard.unauth_rate = ncfg.security.unauth_rate;
    scfg.guard.ban_time = ncfg.security.ban_time;
    scfg.guard.ua_block = ncfg.security.ua_block;
    scfg.guard.tcp_max_connections = ncfg.tcp_max_connections;
    scfg.guard.tcp_max_per_source = ncfg.tcp_max_per_source;
    scfg.etcd_endpoints = ncfg.cluster_etcd;
    // The REST API's server, on a thread of its own (after raise_fd_limit
    // above: its connections count too). Only with an API actor to serve.
    std::string api_part;
    auto start_api = [&]() -> std::string {
      if (!api_on(ncfg))
        return {};
      if (!ctx.api) {
        log::debug("no API actor: the REST API is not served");
        return {};
      }
      net::api_config acfg;
      acfg.listen = ncfg.api_listen;
      acfg.tls = ncfg.api_tls;
      acfg.tls_cert_file = tls.cert_file;
      acfg.tls_key_file = tls.key_file;
      acfg.max_body = ncfg.api_max_body;
      acfg.timeout = ncfg.api_timeout;
      acfg.api = ctx.api;
      if (auto e = api_http.start(acfg); !e.empty())
        return e;
      api_part = " api=" + api_http.url();
      return {};
    };
    // Cluster mode: publish this node's actor, then register in etcd through
    // the SIP thread's client; `ready` waits for it. False: do not run.
    caf::actor node_actor, sip_port_actor;
    std::atomic<int> joined{static_cast<int>(join_state::waiting)};
    bool stop_signal = false;
    auto join_cluster = [&]() -> bool {
      sip_port_actor = spawn_sip_port_actor(sys, ctx.sip);
      node_actor = spawn_node_actor(sys, ncfg.node_name, ctx.router, sip_port_actor, ctx.store);
      auto colon = ncfg.cluster_listen.rfind(':');
      auto host = ncfg.cluster_listen.substr(0, colon);
      if (host.size() > 2 && host.front() == '[')
        host = host.substr(1, host.size() - 2);
      auto port = static_cast<std::uint16_t>(std::stoul(ncfg.cluster_listen.substr(colon + 1)));
      if (auto p = sys.middleman().publish(node_actor, port, host.c_str(), true); !p) {
        log::error("cluster: cannot listen on --cluster-listen ", ncfg.cluster_listen, ": ",
                   sys.render(p.error()));
        return false;
      }
      cluster_settings cs;
      cs.etcd = ncfg.cluster_etcd;
      cs.node_name = ncfg.node_name;
      cs.listen = ncfg.cluster_listen;
      cs.remotes = &remotes;
      ctx.membership = spawn_membership(sys, &ctx, cs, &joined);
      // From now on the tenants' configuration goes to etcd first.
      ctx.store->set_replicator(config_replicator(ctx.membership));
      // A stop signal while etcd is away must still stop the node.
      timespec tick{0, 100 * 1000 * 1000};
      while (joined.load() == static_cast<int>(join_state::waiting)) {
        if (sigtimedwait(&sigs, nullptr, &tick) > 0) {
          log::info("signal while waiting for etcd: shutting down");
          stop_signal = true;
          return true;
        }
      }
      return joined.load() == static_cast<int>(join_state::joined);
    };
    if (auto e = sip.start(scfg); !e.empty()) {
      std::fprintf(stderr, "actorpbx: %s\n", e.c_str());
      rc = 1;
    } else if (auto e = start_api(); !e.empty()) {
      std::fprintf(stderr, "actorpbx: %s\n", e.c_str());
      rc = 1;
    } else if (cluster && !join_cluster()) {
      rc = 1;
    } else {
      for (auto& domain : live)
        caf::anon_send(ctx.router, activate_extension{domain, {}});
      // Printed whatever the level: scripts and operators wait for it.
      auto tls_part = ncfg.sip_tls_listen.empty() ? "" : " sip_tls=" + ncfg.sip_tls_listen;
      auto shell_tls = ncfg.shell_tls_listen.empty() ? "" : " shell_tls=" + ncfg.shell_tls_listen;
      auto cluster_part = cluster ? " cluster=" + ncfg.node_name + "@" + ncfg.cluster_listen : "";
      if (!stop_signal)
        log::write(log::level::info, "ready sip=" + ncfg.sip_listen + tls_part + " shell="
                                       + ncfg.shell_listen + shell_tls + " data=" + ncfg.data_dir
                                       + api_part + cluster_part);
      int sig = 0;
      if (!stop_signal) {
        sigwait(&sigs, &sig);
        log::info("signal ", sig, ": shutting down");
      }
    }
    // Gone from the others' member lists at once, not when the lease ends.
    if (ctx.membership) {
      leave_cluster(sys, ctx.membership, std::chrono::seconds(2));
      caf::anon_send_exit(ctx.membership, caf::exit_reason::user_shutdown);
    }
    if (node_actor)
      caf::anon_send_exit(node_actor, caf::exit_reason::user_shutdown);
    if (sip_port_actor)
      caf::anon_send_exit(sip_port_actor, caf::exit_reason::user_shutdown);
    // Before the actors stop: what the API still owes is answered 503.
    api_http.stop();
    caf::anon_send_exit(ctx.router, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(hub, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(retention, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(ctx.security_actor, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(ctx.hasher, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(ctx.admin, caf::exit_reason::user_shutdown);
    if (ctx.api)
      caf::anon_send_exit(ctx.api, caf::exit_reason::user_shutdown);
    // Say what holds the shutdown up, once a second (calls end with their CDRs).
    for (int i = 0; sys.registry().running() > 0; ++i) {
      if (i > 0)
        log::warn("shutdown: ", sys.registry().running(), " actors still running, ",
                  dir.list("c/").size(), " calls");
      for (int j = 0; j < 100 && sys.registry().running() > 0; ++j)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    sys.await_all_actors_done();
    sip.stop();
    // The actor system waits for its detached actors' threads, which end
    // when the last handle to their actor is gone.
    ctx.hasher = nullptr;
    ctx.security_actor = nullptr;
    ctx.admin = nullptr;
    ctx.api = nullptr;
    ctx.membership = nullptr;
    ctx.store->set_replicator(nullptr); // it holds the membership actor's handle
    node_actor = nullptr;
    sip_port_actor = nullptr;
    remotes.clear();
  }
  auto commits = store->commits(), writes = store->batches();
  store.reset(); // drains pending writes, closes LMDB
  if (rc == 0) {
    log::info("storage: ", writes, " writes in ", commits, " commits");
    log::info("stopped");
  }
  return rc;
}

} // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::string{argv[1]} == "shell")
    return run_shell_client(argc - 2, argv + 2);
  node_config cfg;
  std::string err;
  switch (parse_config(argc, argv, cfg, err)) {
    case parse_status::help:
      std::fputs(usage().c_str(), stdout);
      return 0;
    case parse_status::error:
      std::fprintf(stderr, "actorpbx: %s\n", err.c_str());
      return 2;
    case parse_status::run:
      break;
  }
  return run_node(cfg);
}
