#include "net/stack_impl.hpp"
#include "net/libre_log.hpp"
#include "net/self_test.hpp"

#include <future>

#include <caf/send.hpp>

#include "engine/log.hpp"
#include "engine/metrics.hpp"

namespace pbx::net {

namespace {

void mqueue_handler(int id, void* data, void* arg) {
  auto* s = static_cast<sip_stack::impl*>(arg);
  switch (id) {
    case cmd_drain:
      s->drain();
      break;
    case cmd_stop:
      re_cancel();
      break;
    default:
      break;
  }
}

bool request_handler(const struct sip_msg* msg, void* arg) {
  return static_cast<sip_stack::impl*>(arg)->on_request(msg);
}

void sweep_handler(void* arg) {
  static_cast<sip_stack::impl*>(arg)->sweep();
}

// How late this timer fires is how long the loop was busy elsewhere.
void lag_handler(void* arg) {
  auto& s = *static_cast<sip_stack::impl*>(arg);
  auto now = std::chrono::steady_clock::now();
  auto late = std::max(now - s.lag_due, std::chrono::steady_clock::duration::zero());
  metrics::sip_loop_lag(static_cast<std::uint64_t>(
    std::chrono::duration_cast<std::chrono::nanoseconds>(late).count()));
  s.lag_due = now + std::chrono::milliseconds(metrics::sip_lag_period_ms);
  tmr_start(&s.lag_tmr, metrics::sip_lag_period_ms, lag_handler, &s);
}

// libre's own diagnostics go to our log at debug level; the node reports
// what matters (a port in use) in its own words.
void dbg_to_log(int level, const char* p, size_t len, void*) {
  std::string text{p, len};
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
    text.pop_back();
  log::debug("libre[", level, "]: ", text);
}

bool parse_addr(const std::string& text, struct sa& out) {
  return sa_decode(&out, text.c_str(), text.size()) == 0;
}

// Sets up every libre object on the SIP thread; returns an error text.
std::string setup(sip_stack::impl& s) {
  struct sa sip_addr, shell_addr;
  if (!parse_addr(s.cfg.sip_listen, sip_addr))
    return "bad --sip-listen address '" + s.cfg.sip_listen + "' (want IP:PORT)";
  if (sa_is_any(&sip_addr))
    return "--sip-listen " + s.cfg.sip_listen + ": give the IP address phones reach (libre "
           "puts it in Via and Contact; the any address 0.0.0.0 or :: cannot be used)";
  s.sip_laddr = sip_addr;
  if (auto err = media_open(s, sip_addr); !err.empty())
    return err;
  s.guard = ingress_guard{s.cfg.guard};
  watch_tcp_accepts(s);
  struct sa tls_addr;
  bool tls = !s.cfg.sip_tls_listen.empty();
  if (tls && !parse_addr(s.cfg.sip_tls_listen, tls_addr))
    return "bad --sip-tls-listen address '" + s.cfg.sip_tls_listen + "' (want IP:PORT)";
  if (!parse_addr(s.cfg.shell_listen, shell_addr))
    return "bad --shell-listen address '" + s.cfg.shell_listen + "' (want IP:PORT)";
  if (int err = mqueue_alloc(&s.mq, mqueue_handler, &s))
    return std::string{"mqueue: "} + strerror(err);
  // Hash sizes must be powers of two.
  if (int err = sip_alloc(&s.sip, nullptr, 1024, 16384, 1024, "actorpbx", nullptr, nullptr))
    return std::string{"sip: "} + strerror(err);
  if (int err = sip_transp_add(s.sip, SIP_TRANSP_UDP, &sip_addr))
    return "cannot listen on UDP " + s.cfg.sip_listen + ": " + strerror(err);
  if (int err = sip_transp_add(s.sip, SIP_TRANSP_TCP, &sip_addr))
    return "cannot listen on TCP " + s.cfg.sip_listen + ": " + strerror(err);
  widen_listen_backlog(sip_addr);
  if (tls)
    if (auto err = tls_listen(s, tls_addr); !err.empty())
      return err;
  if (int err = sip_listen(&s.lsnr, s.sip, true, request_handler, &s))
    return std::string{"sip listen: "} + strerror(err);
  if (int err = mwi_listen(s))
    return std::string{"sipevent listen: "} + strerror(err);
  // Registered after our listener: requests are checked before sipsess sees them.
  if (int err = calls_listen(s))
    return std::string{"sipsess listen: "} + strerror(err);
  if (int err = shell_listen(s, shell_addr))
    return "cannot listen on shell " + s.cfg.shell_listen + ": " + strerror(err);
  if (!s.cfg.shell_tls_listen.empty()) {
    struct sa shell_tls_addr;
    if (!parse_addr(s.cfg.shell_tls_listen, shell_tls_addr))
      return "bad --shell-tls-listen address '" + s.cfg.shell_tls_listen + "' (want IP:PORT)";
    if (auto err = tls_context(s); !err.empty())
      return err;
    if (int err = shell_listen(s, shell_tls_addr, true))
      return "cannot listen on shell (TLS) " + s.cfg.shell_tls_listen + ": " + strerror(err);
  }
  tmr_init(&s.sweep_tmr);
  tmr_start(&s.sweep_tmr, 5000, sweep_handler, &s);
  tmr_init(&s.lag_tmr);
  s.lag_due = std::chrono::steady_clock::now() + std::chrono::milliseconds(metrics::sip_lag_period_ms);
  tmr_start(&s.lag_tmr, metrics::sip_lag_period_ms, lag_handler, &s);
  return {};
}

void teardown(sip_stack::impl& s) {
  tmr_cancel(&s.sweep_tmr);
  tmr_cancel(&s.lag_tmr);
  tmr_cancel(&s.registers_tmr);
  s.pending_registers.clear();
  s.flush_udp_sends();
  s.sip_udp = nullptr;
  // Ours to release while the socket lives; the connections free their own.
  s.udp_helper = static_cast<struct udp_helper*>(mem_deref(s.udp_helper));
  for (auto* p : s.tcp_peers)
    delete p;
  s.tcp_peers.clear();
  for (auto& [id, t] : s.txns)
    mem_deref(t.msg);
  s.txns.clear();
  trunks_close(s);
  etcd_close(s);
  mwi_close(s);
  calls_close(s);
  media_close(s); // after the legs: their endpoints report hangup as they end
  shell_close_all(s);
  s.lsnr = static_cast<struct sip_lsnr*>(mem_deref(s.lsnr));
  if (s.sip)
    sip_close(s.sip, true);
  s.sip = static_cast<struct sip*>(mem_deref(s.sip));
  s.tls = static_cast<struct tls*>(mem_deref(s.tls));
  s.mq = static_cast<struct mqueue*>(mem_deref(s.mq));
}

} // namespace

void sip_stack::impl::sweep() {
  // An answer that never came (a lost message) must not hold the phone forever.
  auto now = std::chrono::steady_clock::now();
  for (auto i = txns.begin(); i != txns.end();) {
    if (now - i->second.since > std::chrono::seconds(16)) {
      log::warn("no answer for transaction ", i->first, ": 500");
      reply_plain(sip, i->second.msg, 500, "Server Timeout");
      mem_deref(i->second.msg);
      i = txns.erase(i);
    } else {
      ++i;
    }
  }
  shell_sweep(*this);
  sweep_tcp();
  calls_sweep(*this);
  mwi_sweep(*this);
  libre_lines_flush();
  tmr_start(&sweep_tmr, 5000, sweep_handler, this);
}

sip_stack::sip_stack() : impl_(std::make_unique<impl>()) {
  // nop
}

sip_stack::~sip_stack() {
  stop();
}

std::string sip_stack::start(const stack_config& cfg) {
  impl_->cfg = cfg;
  impl_->next_leg = qualify(cfg.node, 0);
  impl_->next_txn = qualify(cfg.node, 0);
  std::promise<std::string> ready;
  auto result = ready.get_future();
  impl_->thread = std::thread([this, &ready] {
    auto& s = *impl_;
    pthread_setname_np(pthread_self(), "pbx.sip");
    dbg_init(DBG_WARNING, DBG_NONE);
    dbg_handler_set(dbg_to_log, nullptr);
    if (int err = libre_init()) {
      ready.set_value(std::string{"libre_init: "} + strerror(err));
      return;
    }
    if (s.cfg.max_fds > 1024)
      fd_setsize(s.cfg.max_fds);
    auto err = setup(s);
    if (!err.empty()) {
      teardown(s);
      libre_close();
      ready.set_value(err);
      return;
    }
    // Commands posted while the thread started (the security actor's bans)
    // wait in the queue until now.
    {
      std::lock_guard<std::mutex> guard{s.cmd_mtx};
      s.running = true;
    }
    s.drain();
    // Ready once libre proved it calls our replacements (net/self_test.hpp).
    self_test_start(s, [&ready](const std::string& failure) {
      if (failure.empty()) {
        ready.set_value({});
        return;
      }
      ready.set_value("libre self-test failed: " + failure
                      + "; this node cannot run on this build of libre");
      re_cancel();
    });
    re_main(nullptr);
    {
      std::lock_guard<std::mutex> guard{s.cmd_mtx};
      s.running = false;
      s.stopped = true;
      s.cmds.clear();
    }
    teardown(s);
    libre_close();
  });
  auto err = result.get();
  if (!err.empty())
    impl_->thread.join();
  return err;
}

void sip_stack::stop() {
  if (!impl_->thread.joinable())
    return;
  if (impl_->running)
    mqueue_push(impl_->mq, cmd_stop, nullptr);
  impl_->thread.join();
}

void sip_stack::impl::post(stack_command cmd) {
  bool ring;
  {
    std::lock_guard<std::mutex> guard{cmd_mtx};
    if (stopped)
      return;
    ring = running && cmds.empty();
    cmds.push_back(std::move(cmd));
  }
  if (ring)
    mqueue_push(mq, cmd_drain, nullptr);
}

void sip_stack::impl::drain() {
  std::vector<stack_command> batch;
  {
    std::lock_guard<std::mutex> guard{cmd_mtx};
    batch.swap(cmds);
  }
  for (auto& cmd : batch) {
    if (auto* r = std::get_if<sip_reply>(&cmd))
      send_reply(*r);
    else if (auto* o = std::get_if<shell_output>(&cmd))
      shell_send(*this, *o);
    else if (auto* c = std::get_if<leg_command>(&cmd))
      on_leg_command(*c);
    else if (auto* g = std::get_if<guard_command>(&cmd))
      on_guard_command(*g);
    else if (auto* m = std::get_if<media_command>(&cmd))
      on_media_command(*this, *m);
    else if (auto* w = std::get_if<mwi_command>(&cmd))
      on_mwi_command(*this, *w);
    else if (auto* t = std::get_if<trunk_command>(&cmd))
      on_trunk_command(*this, *t);
    else if (auto* e = std::get_if<etcd_request>(&cmd))
      on_etcd_request(*this, *e);
    else if (auto* u = std::get_if<route_update>(&cmd)) {
      if (u->owner)
        routes[u->key] = std::move(u->owner);
      else
        routes.erase(u->key);
    }
  }
}

caf::actor sip_stack::impl::route_of(const std::string& key) const {
  auto i = routes.find(key);
  return i == routes.end() ? caf::actor{} : i->second;
}

void sip_stack::route(std::string key, caf::actor owner) {
  impl_->post(route_update{std::move(key), std::move(owner)});
}

void sip_stack::reply(sip_reply r) {
  impl_->post(std::move(r));
}

void sip_stack::leg(leg_command c) {
  impl_->post(std::move(c));
}

void sip_stack::media(media_command c) {
  impl_->post(std::move(c));
}

void sip_stack::mwi(mwi_command c) {
  impl_->post(std::move(c));
}

void sip_stack::trunk(trunk_command c) {
  impl_->post(std::move(c));
}

void sip_stack::etcd(const etcd_request& r) {
  impl_->post(r);
}

void sip_stack::shell_write(shell_output out) {
  impl_->post(std::move(out));
}

} // namespace pbx::net
