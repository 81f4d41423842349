#pragma once
// Internals of the SIP thread shared by net/'s .cpp files. Includes <re.h>:
// never include this outside net/.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include <caf/send.hpp>

#include <re.h>
#define DEBUG_MODULE "actorpbx"
#define DEBUG_LEVEL 5
#include <re_dbg.h>
#undef MIN
#undef MAX

#include "engine/directory.hpp" // key names only: net/ reads its own routes
#include "engine/etcd_command.hpp"
#include "net/answered_requests.hpp"
#include "net/guard.hpp"
#include "net/sip_stack.hpp"
#include "net/translate.hpp"
#include "net/udp_sends.hpp"

namespace pbx::net {

namespace media {
class plane;
}

/// A request waiting for an actor's answer. Answers are stateless: the
/// registrar treats a retransmission (same Call-ID and CSeq) as idempotent,
/// so no server transaction is kept for 32 s after every REGISTER.
struct pending_txn {
  struct sip_msg* msg = nullptr; // referenced until answered
  std::chrono::steady_clock::time_point since;
};

struct shell_conn;
struct call_leg;
struct mwi_sub;
struct trunk_client;
struct etcd_client;

/// A directory change the SIP thread routes by (engine/directory.hpp's
/// watch): `key` is now `owner`'s, or nobody's when `owner` is invalid.
struct route_update {
  std::string key;
  caf::actor owner;
};

/// What actors ask of the SIP thread (engine/sip_port.hpp).
using stack_command = std::variant<sip_reply, shell_output, leg_command, guard_command,
                                   media_command, mwi_command, trunk_command, route_update,
                                   etcd_request>;

/// A SIP connection (TCP or TLS) libre accepted: its fd and peer, so the
/// per-source caps can count it and a ban can close it. libre tells nobody
/// when it frees a connection; the sweep sees the fd gone or reused.
struct tcp_peer {
  sip_stack::impl* stack = nullptr;
  int fd = -1;
  struct sa peer {};
  ip_addr ip;
};

struct sip_stack::impl {
  stack_config cfg;
  std::thread thread;
  struct sip* sip = nullptr;
  struct sip_lsnr* lsnr = nullptr;
  struct tls* tls = nullptr; // SIP/TLS, when listening
  struct mqueue* mq = nullptr;
  int shell_fd = -1;
  int shell_tls_fd = -1;
  struct tmr sweep_tmr;
  struct tmr lag_tmr; // fires every metrics::sip_lag_period_ms; how late is the loop's lag
  std::chrono::steady_clock::time_point lag_due;
  std::uint64_t next_txn = 0;
  std::unordered_map<std::uint64_t, pending_txn> txns;
  std::uint64_t next_conn = 0;
  std::unordered_map<std::uint64_t, shell_conn*> conns;
  std::unordered_map<std::string, std::uint32_t> conns_per_source; // by IP
  std::atomic<bool> running{false}; // the loop takes commands (set under cmd_mtx)
  bool stopped = false;              // the loop ended: commands are dropped (cmd_mtx)
  // Commands from actors. The mqueue only rings a doorbell when the queue
  // turns non-empty, so a burst of replies costs one wakeup, not one each.
  std::mutex cmd_mtx;
  std::vector<stack_command> cmds;
  // The ingress guard: bans, rate limits, scanners, connection caps.
  struct sa sip_laddr {};
  ingress_guard guard;
  struct udp_helper* udp_helper = nullptr; // on libre's SIP UDP socket
  struct udp_sock* sip_udp = nullptr;      // libre's, known once the helper is on it
  udp_send_queue sends;                    // this pass's datagrams (net/udp_sends.hpp)
  struct tmr sends_tmr {};
  bool udp_read_one = false; // the helper saw a datagram (net/udp_reads.hpp)
  bool udp_batched = false;  // the socket's reads are batched
  static constexpr unsigned udp_reads_per_pass = 16;
  std::vector<tcp_peer*> tcp_peers;
  std::uint64_t refused_tcp = 0;
  // INVITE dialogs (call_legs.cpp).
  struct sipsess_sock* sess_sock = nullptr;
  std::uint64_t next_leg = 0;
  std::unordered_map<std::uint64_t, call_leg*> legs;
  std::unordered_multimap<std::string_view, call_leg*> dialogs; // by Call-ID (the leg's own)
  answered_requests answered{64 * SIP_T1}; // A legs' 2xx'd INVITEs and the callers' BYEs
  struct sip_lsnr* dlg_req_lsnr = nullptr;  // in-dialog requests, ahead of sipsess
  struct sip_lsnr* dlg_resp_lsnr = nullptr; // 2xx retransmissions to our re-INVITEs
  // The media plane (media_legs.cpp): RTP endpoints on answered A legs.
  media::plane* media = nullptr;
  // message-summary subscriptions (mwi_endpoint.cpp), by id.
  struct sipevent_sock* evsock = nullptr;
  std::unordered_map<std::uint64_t, mwi_sub*> subs;
  // Call-ID, From tag and CSeq of each SUBSCRIBE pending or accepted: a UDP
  // retransmission must not become a second subscription.
  std::unordered_map<std::string, std::uint64_t> sub_keys;
  // Registrations to trunk providers (trunk_client.cpp), by trunk_command::key.
  std::unordered_map<std::string, trunk_client*> trunk_clients;
  // Bindings un-REGISTERed moments ago: a new REGISTER of one waits until then (jiffies).
  std::unordered_map<std::string, std::uint64_t> trunk_unregistering;
  // etcd's gateway (etcd_client.cpp), made at the first call: cluster mode only.
  etcd_client* etcd = nullptr;

  // The one way up for a new request: the owners of tenants ("t/DOMAIN") and
  // trunk sources ("ks/IP") as the directory last told this thread; what is
  // not here goes to cfg.router, which resolves and activates. Only this
  // thread reads or writes it.
  std::unordered_map<std::string, caf::actor> routes;
  // REGISTERs read in this pass of the loop, with their tenant keys: a
  // zero-delay timer (it fires after the pass's reads) hands them up, one
  // message per tenant (register_batch) instead of one each.
  std::vector<std::pair<std::string, register_request>> pending_registers;
  struct tmr registers_tmr {};

  void post(stack_command cmd);
  /// The actor that owns `key`, or an invalid handle.
  caf::actor route_of(const std::string& key) const;
  /// Sends a new request to the owner of `key`, or to the router when unknown.
  template <class T>
  void hand_up(const std::string& key, T&& msg) {
    auto owner = route_of(key);
    caf::anon_send(owner ? owner : cfg.router, std::forward<T>(msg));
  }
  void on_guard_command(const guard_command& c);
  void attach_udp(void* udp_sock);
  void flush_udp_sends();
  bool admit_tcp(struct tcp_conn* tc);
  void sweep_tcp(const ip_addr* only = nullptr);
  void report_ban(const struct sa& src, const std::string& transport, const char* limit,
                  std::uint32_t rate, const struct sip_msg* msg = nullptr);
  std::int64_t now_ms() const;
  void on_invite(const struct sip_msg* msg);
  void on_leg_command(const leg_command& c);
  void drain();

  // Called on the SIP thread.
  bool on_request(const struct sip_msg* msg);
  bool admit(const struct sip_msg* msg);
  void on_register(const struct sip_msg* msg);
  void flush_registers();
  void on_subscribe(const struct sip_msg* msg);
  void send_reply(const sip_reply& r);
  void sweep();
};

/// mqueue ids.
enum command_id : int { cmd_drain = 1, cmd_stop };

/// Answers `msg` statelessly with `code` (validation failures, OPTIONS, 501).
void reply_plain(struct sip* sip, const struct sip_msg* msg, uint16_t code,
                 const char* reason, const char* extra = "");

/// Counts a final response to a REGISTER that was sent (actorpbx_register_responses_total).
void count_register_reply(const struct sip_msg* msg, uint16_t code);

/// A digest challenge header line (`name` is WWW-Authenticate or Proxy-Authenticate).
std::string challenge_header(const char* name, const std::string& realm,
                             const std::string& nonce, bool stale);

// INVITE dialogs (call_legs.cpp).
int calls_listen(sip_stack::impl& s);
void calls_close(sip_stack::impl& s);
void calls_sweep(sip_stack::impl& s); // A legs whose offer no actor took

// The media plane (media_legs.cpp): endpoints that terminate RTP on answered A legs.
std::string media_open(sip_stack::impl& s, const struct sa& sip_laddr); // error text
void media_close(sip_stack::impl& s); // after calls_close
void on_media_command(sip_stack::impl& s, const media_command& c);
// An INFO on a leg with an endpoint: true if it was DTMF (the owner got the digit).
bool media_info(sip_stack::impl& s, std::uint64_t leg, const std::string& content_type,
                const std::string& body);
void media_leg_gone(sip_stack::impl& s, std::uint64_t leg); // from forget()
// A re-INVITE's offer on a leg with an endpoint, answered by the endpoint:
// `code` 200 with our `sdp`, or 488. False: the leg has no endpoint (any
// more); the re-INVITE goes to the leg's owner as on other legs.
bool media_reinvite(sip_stack::impl& s, std::uint64_t leg, const std::string& offer,
                    std::uint16_t& code, std::string& reason, std::string& sdp);

// A legs for the media plane (call_legs.cpp). Answerable: an A leg not
// answered, cancelled or taken by an endpoint yet; `offer` gets its INVITE's body.
bool leg_answerable(sip_stack::impl& s, std::uint64_t leg, std::string* offer = nullptr);
// 200 with `sdp` through the path leg_command::answer takes; the leg is the
// endpoint's from then on. False: the leg is gone (its owner was told 500).
bool leg_answer_media(sip_stack::impl& s, std::uint64_t leg, const std::string& sdp);
// Rejects an answerable leg; its owner hears `closed` unless it is `told`.
void leg_reject(sip_stack::impl& s, std::uint64_t leg, std::uint16_t code,
                const std::string& reason, const caf::actor& told);

// message-summary subscriptions (mwi_endpoint.cpp): libre's sipevent
// notifier. Listens after our own listener, which takes initial SUBSCRIBEs.
int mwi_listen(sip_stack::impl& s);
void mwi_close(sip_stack::impl& s);
void on_mwi_command(sip_stack::impl& s, const mwi_command& c);
void mwi_sweep(sip_stack::impl& s); // keys of SUBSCRIBEs answered with an error

// The trunks' client side (trunk_client.cpp): REGISTER to a provider
// (libre's sipreg) and OPTIONS keep-alives; results go to the trunk actor.
void on_trunk_command(sip_stack::impl& s, const trunk_command& c);
void trunks_close(sip_stack::impl& s); // before sip_close

// etcd's HTTP gateway (etcd_client.cpp): the answer goes to r.reply_to.
void on_etcd_request(sip_stack::impl& s, const etcd_request& r);
void etcd_close(sip_stack::impl& s);

/// Credentials for libre's auth handlers (sip_auth_h), a libre object: pass
/// it with aref=true, then mem_deref your own reference.
struct sip_creds;
sip_creds* creds_alloc(const std::string& user, const std::string& password);
int creds_auth_handler(char** username, char** password, const char* realm, void* arg);

// SIP over TLS (sip_tls.cpp): listens on `laddr`; returns an error text.
std::string tls_listen(sip_stack::impl& s, const struct sa& laddr);
// The node's TLS context (certificate, protocol floor, ciphers) in s.tls,
// made once for SIP and the shell; returns an error text.
std::string tls_context(sip_stack::impl& s);

// Shell server (shell_server.cpp).
int shell_listen(sip_stack::impl& s, const struct sa& laddr, bool tls = false);
void shell_send(sip_stack::impl& s, const shell_output& out);
void shell_sweep(sip_stack::impl& s); // timeouts, from the sweep timer
void shell_drop_source(sip_stack::impl& s, const std::string& ip); // a ban: its connections end

// The ingress guard's hooks (ingress.cpp).
void watch_tcp_accepts(sip_stack::impl& s);
void widen_listen_backlog(const struct sa& laddr);
void shell_close_all(sip_stack::impl& s);

} // namespace pbx::net
