#include "engine/membership.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <unordered_map>

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor.hpp>

#include "actors/admin_schema.hpp"
#include "actors/messages/admin.hpp"
#include "engine/etcd_command.hpp"
#include "engine/cluster_messages.hpp"
#include "engine/config_sync.hpp"
#include "engine/etcd_messages.hpp"
#include "engine/log.hpp"
#include "engine/member_list.hpp"
#include "engine/ownership.hpp"
#include "engine/sip_port_actor.hpp"
#include "engine/sip_port.hpp"
#include "storage/store.hpp"

namespace pbx {

// A configuration change for etcd (from the store's replicator, any thread).
struct config_write {
  std::shared_ptr<storage::batch> b;
  storage::done_fn done;
};

} // namespace pbx

// Local only: a batch and its callback never cross nodes.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pbx::config_write)

namespace pbx {

namespace {

using tick_atom = caf::atom_constant<caf::atom("ctick")>;
using leave_atom = caf::atom_constant<caf::atom("cleave")>;
using ping_atom = caf::atom_constant<caf::atom("cping")>;
using handles_atom = caf::atom_constant<caf::atom("chandles")>;
using stored_atom = caf::atom_constant<caf::atom("cstored")>;

// One watch and one read cover members, node numbers and tenant claims.
const std::string cluster_prefix = "/actorpbx/v1/";

constexpr std::int64_t lease_ttl = 6;            // seconds (issue 16)
constexpr std::int64_t keepalive_every_ms = 2000;
constexpr std::int64_t wait_log_every_ms = 10000;
constexpr std::int64_t call_stale_ms = 5000;     // net/ answers within 2.5 s: a lost call
// A member whose node actor did not answer is tried again this soon: until then
// this node cannot send it anything (a call's leg commands for its SIP port).
constexpr std::int64_t link_retry_ms = 1000;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

enum class call_kind { grant, join, keepalive, poll, revoke, claim, release, config };

struct call {
  call_kind kind;
  std::int64_t sent_ms = 0;
  std::string domain; // a claim's, release's or configuration change's tenant
};

struct pending_write {
  config_write w;
  std::string domain;
  std::vector<std::string> bodies;
  std::size_t next = 0;
  bool creates = false;
};

struct membership_state {
  static inline const char* name = "membership";
  node_context* ctx = nullptr;
  cluster_settings cfg;
  std::atomic<int>* joined = nullptr;
  member self;
  member_list list;
  std::int64_t lease = 0;
  bool registered = false;
  bool ever_joined = false;
  std::uint64_t next_id = 1;
  std::unordered_map<std::uint64_t, call> calls;
  // The watch on the nodes prefix (0: none; the next tick reads the prefix
  // and starts one from the revision after that read).
  std::uint64_t watch_id = 0;
  std::int64_t watch_from = 0;
  std::int64_t last_keepalive_ms = 0;
  // etcd's state as the last call saw it: 0 reachable, else unreachable since.
  std::int64_t unreachable_since = 0;
  bool unknown = true;         // no call answered yet
  std::int64_t last_wait_log = 0;
  std::string last_endpoint;   // the one that answered last
  std::string taken_said;      // a re-registration conflict, logged once
  caf::response_promise leaving;
  // Each member's node actor through CAF's middleman: "ok" once it answered
  // a ping with its name, else why not (yet). Not membership: etcd decides that.
  struct link {
    std::string state;
    std::string said; // the failure logged last (logged again only when it changes)
    std::int64_t tried_ms = 0;
    caf::actor_addr node; // its node actor, monitored: a lost connection shows at once
  };
  std::map<std::string, link> links;
  ownership owners;                 // claims under owners_prefix over the live members
  std::shared_ptr<const ownership> told; // what the router was last told
  std::map<std::string, std::uint32_t> numbers; // each member's node number, as last seen
  std::map<std::uint64_t, pending_write> writes; // by the id of the call carrying the next txn
  bool config_unseeded_said = false;
  bool alone_said = false;            // registrations kept by the owner alone: logged once
  std::set<std::string> handing;      // tenants whose bindings are on their way to their next owner
  // Changes of a tenant this node is about to claim (just created, or just
  // come to it): tried again as claims land, refused after claim_wait_ms.
  std::vector<std::pair<std::int64_t, config_write>> deferred;
};

using self_ptr = caf::stateful_actor<membership_state>*;

void connect_link(self_ptr self, const std::string& name);
void on_write_answer(self_ptr self, std::uint64_t id, const etcd_response& r, bool reached);
void retry_deferred(self_ptr self);

std::string endpoints(const membership_state& st) {
  std::string out;
  for (auto& e : st.cfg.etcd)
    out += (out.empty() ? "" : ",") + e;
  return out;
}

bool pending(const membership_state& st, call_kind k) {
  for (auto& [id, c] : st.calls)
    if (c.kind == k)
      return true;
  return false;
}

void start_watch(self_ptr self) {
  auto& st = self->state;
  st.watch_id = st.next_id++;
  etcd_request r;
  r.id = st.watch_id;
  r.path = "/v3/watch";
  r.body = etcd::watch_prefix_body(cluster_prefix, st.watch_from);
  r.reply_to = caf::actor_cast<caf::actor>(self);
  r.stream = true;
  st.ctx->sip->etcd(r);
  log::info("cluster: watching ", cluster_prefix, " from revision ", st.watch_from);
}

void cancel_watch(self_ptr self) {
  auto& st = self->state;
  if (st.watch_id == 0)
    return;
  etcd_request r;
  r.id = st.watch_id;
  r.cancel = true;
  st.ctx->sip->etcd(r);
  st.watch_id = 0;
}

void send_call(self_ptr self, call_kind kind, std::string path, std::string body,
               std::string domain = {}) {
  auto& st = self->state;
  auto id = st.next_id++;
  st.calls.emplace(id, call{kind, now_ms(), std::move(domain)});
  etcd_request r;
  r.id = id;
  r.path = std::move(path);
  r.body = std::move(body);
  r.reply_to = caf::actor_cast<caf::actor>(self);
  st.ctx->sip->etcd(r);
}

void join(self_ptr self) {
  auto& st = self->state;
  send_call(self, call_kind::join, "/v3/kv/txn",
            etcd::create_all_body({{nodes_prefix + st.cfg.node_name, member_value(st.self)},
                                   {node_ids_prefix + std::to_string(st.self.node),
                                    st.cfg.node_name}},
                                  st.lease));
}

void poll(self_ptr self) {
  send_call(self, call_kind::poll, "/v3/kv/range", etcd::range_prefix_body(cluster_prefix));
}

bool pending_for(const membership_state& st, call_kind k, const std::string& domain) {
  for (auto& [id, c] : st.calls)
    if (c.kind == k && c.domain == domain)
      return true;
  return false;
}

caf::actor node_actor_of(const membership_state& st, const std::string& name) {
  auto it = st.list.members().find(name);
  return it == st.list.members().end()
           ? caf::actor{}
           : st.cfg.remotes->node(static_cast<node_number>(it->second.node));
}

// The member that keeps a copy of `domain`'s registrations: the next one
// after this node in the tenant's rendezvous order that is reachable over CAF
// (one whose connection broke is skipped while its lease runs out; empty: none).
std::string replica_of_tenant(const membership_state& st, const std::string& domain) {
  for (auto n : st.owners.order(domain)) {
    auto name = st.owners.name_of(n);
    if (name != st.cfg.node_name && node_actor_of(st, name))
      return name;
  }
  return {};
}

// A member's node actor is down (its connection broke, as a kill -9 does):
// routes and replicas skip it now; etcd's lease still decides membership.
void link_down(self_ptr self, const caf::down_msg& m) {
  auto& st = self->state;
  for (auto& [name, l] : st.links) {
    if (l.node != m.source)
      continue;
    log::warn("cluster: lost the connection to member '", name, "' (",
              self->system().render(m.reason), ")");
    l.state = "down";
    l.tried_ms = now_ms();
    l.node = nullptr;
    auto it = st.list.members().find(name);
    if (it != st.list.members().end())
      st.cfg.remotes->drop(static_cast<node_number>(it->second.node));
    return;
  }
}

// The tenant goes back to its preferred member: its bindings first (so no
// phone registers again), then the claim, fenced by its revision. Bindings
// written meanwhile reach that member too: it is this node's replica.
void hand_over(self_ptr self, const std::string& domain, std::int64_t revision) {
  auto& st = self->state;
  auto to = st.owners.preferred(domain);
  auto node = node_actor_of(st, to);
  if (!node)
    return; // not reachable yet: the next tick tries again
  st.handing.insert(domain);
  binding_snapshot snap{domain, st.ctx->store->bindings(domain)};
  auto n = snap.bindings.size();
  self->request(node, std::chrono::seconds(5), std::move(snap))
    .then(
      [=](const std::string& err) {
        self->state.handing.erase(domain);
        if (!err.empty()) {
          log::warn("cluster: '", to, "' did not take tenant ", domain, "'s bindings: ", err);
          return;
        }
        log::info("cluster: giving tenant ", domain, " back to '", to, "' (", n, " bindings)");
        send_call(self, call_kind::release, "/v3/kv/txn",
                  etcd::delete_if_body(owners_prefix + domain, revision), domain);
      },
      [=](caf::error& e) {
        self->state.handing.erase(domain);
        log::warn("cluster: handing tenant ", domain, " to '", to,
                  "' failed: ", self->system().render(e));
      });
}

// The live members as placement sees them, and what it decides for this node:
// the router learns of every change; claims and releases go to etcd. Only
// while registered and etcd answers: without etcd, a node keeps what it has.
void place(self_ptr self) {
  auto& st = self->state;
  std::vector<placed_member> live;
  for (auto& [name, m] : st.list.members())
    live.push_back({name, static_cast<node_number>(m.node)});
  st.owners.set_members(std::move(live));
  if (!st.told || !st.told->same_as(st.owners)) {
    st.told = std::make_shared<ownership>(st.owners);
    self->send(st.ctx->router, placement_update{st.told});
  }
  if (!st.registered || st.unreachable_since != 0 || st.watch_id == 0)
    return;
  std::set<std::string> domains;
  for (auto& t : st.ctx->store->tenants())
    domains.insert(t.domain);
  std::set<std::string> ready{st.cfg.node_name};
  for (auto& [name, l] : st.links)
    if (l.state == "ok")
      ready.insert(name);
  auto plan = st.owners.decide(st.cfg.node_name, domains, ready);
  for (auto& domain : plan.claim)
    if (!pending_for(st, call_kind::claim, domain))
      send_call(self, call_kind::claim, "/v3/kv/txn",
                etcd::create_all_body({{owners_prefix + domain, st.cfg.node_name}}, st.lease),
                domain);
  for (auto& [domain, revision] : plan.release)
    if (!pending_for(st, call_kind::release, domain) && !st.handing.count(domain)) {
      if (!domains.count(domain)) { // the tenant is gone: nothing to hand over
        send_call(self, call_kind::release, "/v3/kv/txn",
                  etcd::delete_if_body(owners_prefix + domain, revision), domain);
        continue;
      }
      hand_over(self, domain, revision);
    }
}

// What the next tick does: get a lease, register on it, then keep it, read
// the members and watch them (read again whenever the watch is down).
void step(self_ptr self) {
  auto& st = self->state;
  auto now = now_ms();
  for (auto it = st.calls.begin(); it != st.calls.end();) {
    if (now - it->second.sent_ms <= call_stale_ms) {
      ++it;
      continue;
    }
    if (it->second.kind == call_kind::config) {
      etcd_response lost;
      lost.error = "no answer";
      on_write_answer(self, it->first, lost, false);
    }
    it = st.calls.erase(it);
  }
  if (st.lease == 0) {
    if (!pending(st, call_kind::grant))
      send_call(self, call_kind::grant, "/v3/lease/grant", etcd::lease_grant_body(lease_ttl));
    return;
  }
  if (!st.registered) {
    if (!pending(st, call_kind::join))
      join(self);
    return;
  }
  if (now - st.last_keepalive_ms >= keepalive_every_ms && !pending(st, call_kind::keepalive)) {
    st.last_keepalive_ms = now;
    send_call(self, call_kind::keepalive, "/v3/lease/keepalive",
              etcd::lease_keepalive_body(st.lease));
  }
  if (st.watch_id == 0 && !pending(st, call_kind::poll))
    poll(self);
  for (auto& [name, l] : st.links)
    if (l.state != "ok" && l.state != "connecting" && now - l.tried_ms >= link_retry_ms)
      connect_link(self, name);
  place(self);
  retry_deferred(self);
}

void unreachable(self_ptr self, const std::string& why) {
  auto& st = self->state;
  auto now = now_ms();
  if (!st.ever_joined) {
    if (st.last_wait_log == 0 || now - st.last_wait_log >= wait_log_every_ms) {
      st.last_wait_log = now;
      log::warn("cluster: waiting for etcd at ", endpoints(st), " (", why, ")");
    }
  } else if (st.unreachable_since == 0) {
    log::warn("cluster: etcd unreachable at ", endpoints(st), " (", why,
              "); serving on, retrying");
  }
  if (st.unreachable_since == 0)
    st.unreachable_since = now;
  st.unknown = false;
}

void reachable(self_ptr self, const std::string& endpoint) {
  auto& st = self->state;
  if (st.unreachable_since != 0 && st.ever_joined)
    log::info("cluster: etcd reachable again at ", endpoint);
  st.unreachable_since = 0;
  st.unknown = false;
  st.last_endpoint = endpoint;
}

void on_join(self_ptr self, const etcd::txn_result& t) {
  auto& st = self->state;
  if (!t.succeeded) {
    // Our own keys (a retry whose first answer was lost) are no conflict.
    // Keys of this node's previous start (same name, number and address:
    // killed, its lease not ended yet) are waited out, not refused.
    std::string taken;
    bool previous = false;
    for (auto& kv : t.existing) {
      if (kv.lease == st.lease)
        continue;
      bool node_key = kv.key.rfind(nodes_prefix, 0) == 0;
      std::string error;
      auto m = node_key ? parse_member(st.cfg.node_name, kv.value, error) : std::nullopt;
      if (node_key ? m && m->address == st.self.address && m->node == st.self.node
                   : kv.value == st.cfg.node_name) {
        previous = true;
        continue;
      }
      taken = node_key
                ? "node name '" + st.cfg.node_name + "' is taken by a live node (" + kv.key + ")"
                : "node number " + std::to_string(st.self.node) + " is taken by node '" + kv.value
                    + "' (" + kv.key + ")";
    }
    if (taken.empty() && previous) {
      if (st.taken_said != "previous")
        log::warn("cluster: a previous start of this node is still registered; waiting for its "
                  "lease to end (at most ", lease_ttl, " s)");
      st.taken_said = "previous";
      return;
    }
    if (!taken.empty()) {
      if (!st.ever_joined) {
        log::error("cluster: ", taken, ": refusing to start");
        send_call(self, call_kind::revoke, "/v3/lease/revoke", etcd::lease_revoke_body(st.lease));
        st.joined->store(static_cast<int>(join_state::refused));
        return;
      }
      if (st.taken_said != taken)
        log::error("cluster: cannot register again: ", taken, "; retrying");
      st.taken_said = taken;
      return;
    }
  }
  st.taken_said.clear();
  st.registered = true;
  st.last_keepalive_ms = now_ms();
  if (!st.ever_joined)
    log::info("cluster: joined as '", st.cfg.node_name, "' (node ", st.self.node, ", ",
              st.self.address, ") through etcd at ", st.last_endpoint);
  else
    log::info("cluster: registered again as '", st.cfg.node_name, "'");
  st.ever_joined = true;
  st.joined->store(static_cast<int>(join_state::joined));
  poll(self);
}

// Why a configuration change cannot go to etcd now (empty: it can).
std::string config_refusal(const membership_state& st) {
  if (st.unreachable_since != 0)
    return "cluster: etcd is unreachable (since " + admin_schema::iso_time_ms(st.unreachable_since)
           + "): configuration changes are refused until it answers";
  if (!st.registered || st.unknown)
    return "cluster: not registered in etcd yet: configuration changes are refused";
  return {};
}

void send_write(self_ptr self, pending_write p) {
  auto& st = self->state;
  auto id = st.next_id++;
  st.calls.emplace(id, call{call_kind::config, now_ms(), p.domain});
  etcd_request r;
  r.id = id;
  r.path = "/v3/kv/txn";
  r.body = p.bodies[p.next];
  r.reply_to = caf::actor_cast<caf::actor>(self);
  st.writes.emplace(id, std::move(p));
  st.ctx->sip->etcd(r);
}

// A change of a tenant's configuration: to etcd, fenced by this node's claim
// on the tenant (a new tenant: by its key being absent), then to LMDB.
// Both the local commit and the replica's: `done` once both have the batch.
struct both_stored {
  std::mutex mtx;
  int left = 2;
  std::string error;
  storage::done_fn done;
  void one(const std::string& err) {
    std::unique_lock<std::mutex> g{mtx};
    if (error.empty() && !err.empty())
      error = err;
    if (--left > 0)
      return;
    g.unlock();
    if (done)
      done(error);
  }
};

// Registrations of a tenant this node owns: in its LMDB and on its replica
// (the next member in rendezvous order) before the 200 goes out.
void write_bindings(self_ptr self, config_write w) {
  auto& st = self->state;
  auto domain = w.b->binding_domain();
  w.b->set_replicated();
  auto replica = replica_of_tenant(st, domain);
  if (replica.empty()) {
    if (!st.alone_said)
      log::info("cluster: no other member: registrations are kept by this node alone");
    st.alone_said = true;
    st.ctx->store->submit(std::move(*w.b), std::move(w.done));
    return;
  }
  st.alone_said = false;
  auto node = node_actor_of(st, replica);
  if (!node)
    return w.done("cluster: replica '" + replica + "' of tenant " + domain
                  + " is not reachable over CAF yet");
  auto join = std::make_shared<both_stored>();
  join->done = std::move(w.done);
  self->request(node, std::chrono::seconds(3), replica_of(*w.b))
    .then([join](const std::string& err) { join->one(err); },
          [=](caf::error& e) {
            join->one("cluster: replica '" + replica + "': " + self->system().render(e));
          });
  st.ctx->store->submit(std::move(*w.b), [join](const std::string& err) { join->one(err); });
}

constexpr std::int64_t claim_wait_ms = 3000;

void write_config(self_ptr self, config_write w, std::int64_t since = 0) {
  auto& st = self->state;
  if (!w.b->has_config_changes())
    return write_bindings(self, std::move(w));
  if (auto why = config_refusal(st); !why.empty())
    return w.done(why);
  auto changes = w.b->config_changes();
  auto domain = w.b->config_domain();
  if (domain.empty())
    return w.done("cluster: a change of several tenants at once is not supported");
  pending_write p;
  p.domain = domain;
  std::vector<etcd::txn_compare> fence;
  auto claim = st.owners.claims().find(domain);
  if (st.owners.claimant(domain) == st.cfg.node_name) {
    fence.push_back({owners_prefix + domain, etcd::txn_compare::target::mod,
                     claim->second.mod_revision});
  } else if (config_sync::creates_tenant(changes)) {
    p.creates = true;
    fence.push_back({config_sync::prefix + "tenants/" + domain, etcd::txn_compare::target::create, 0});
  } else if (st.owners.claimant(domain).empty()
             && st.owners.preferred(domain) == st.cfg.node_name
             && now_ms() - (since ? since : now_ms()) < claim_wait_ms) {
    // Ours to claim (a tenant just added): once the claim lands.
    st.deferred.emplace_back(since ? since : now_ms(), std::move(w));
    place(self);
    return;
  } else {
    auto owner = st.owners.claimant(domain);
    return w.done("cluster: tenant " + domain + " is "
                  + (owner.empty() ? std::string{"not owned by any node"} : "owned by '" + owner + "'")
                  + " at the moment, not by this node: try again");
  }
  p.bodies = config_sync::txn_bodies(changes, fence);
  p.w = std::move(w);
  send_write(self, std::move(p));
}

void on_write_answer(self_ptr self, std::uint64_t id, const etcd_response& r, bool reached) {
  auto& st = self->state;
  auto it = st.writes.find(id);
  if (it == st.writes.end())
    return;
  auto p = std::move(it->second);
  st.writes.erase(it);
  auto& domain = p.domain;
  auto fail = [&](const std::string& why) {
    if (p.next > 0)
      log::error("cluster: a change of tenant ", domain, " stopped after ", p.next, " of ",
                 p.bodies.size(), " parts: ", why);
    p.w.done(why);
  };
  if (!reached)
    return fail("cluster: etcd is unreachable (" + r.endpoint
                + (r.status ? ": HTTP " + std::to_string(r.status) : ": " + r.error)
                + "): configuration changes are refused until it answers");
  auto t = etcd::parse_txn(r.body);
  if (!t.error.empty())
    return fail("cluster: etcd refused the change: " + t.error);
  if (!t.succeeded)
    return fail(p.creates ? "tenant " + domain + " exists in the cluster"
                          : "cluster: this node's claim on tenant " + domain
                              + " changed meanwhile: try again");
  if (++p.next < p.bodies.size())
    return send_write(self, std::move(p));
  p.w.b->set_replicated();
  st.ctx->store->submit(std::move(*p.w.b), std::move(p.w.done));
}

void retry_deferred(self_ptr self) {
  auto waiting = std::move(self->state.deferred);
  self->state.deferred.clear();
  for (auto& [since, w] : waiting)
    write_config(self, std::move(w), since);
}

// Changes other nodes made (and this node's own, again: the same records).
void apply_config(self_ptr self, const std::vector<etcd::watch_event>& events) {
  storage::batch b;
  for (auto& e : events)
    if (auto c = config_sync::change_of(e.kv, e.deleted))
      b.apply(*c);
  if (b.empty())
    return;
  b.set_replicated();
  self->state.ctx->store->submit(std::move(b), [](const std::string& err) {
    if (!err.empty())
      log::error("cluster: applying configuration from etcd failed: ", err);
  });
}

// A read of the prefix: this node's configuration becomes etcd's. A cluster
// whose etcd holds none yet keeps what the node has (said once).
void apply_snapshot(self_ptr self, const std::vector<etcd::key_value>& kvs) {
  auto& st = self->state;
  bool any = false;
  for (auto& kv : kvs)
    any = any || kv.key.rfind(config_sync::prefix, 0) == 0;
  auto local = st.ctx->store->config_keys();
  if (!any && !local.empty()) {
    if (!st.config_unseeded_said)
      log::warn("cluster: etcd holds no configuration; this node's own (", local.size(),
                " records) stays here and is not replicated");
    st.config_unseeded_said = true;
    return;
  }
  std::size_t erased = 0;
  auto b = config_sync::snapshot(kvs, local, &erased);
  if (b.empty())
    return;
  if (erased > 0)
    log::info("cluster: ", erased, " configuration records not in etcd erased here");
  st.ctx->store->submit(std::move(b), [](const std::string& err) {
    if (!err.empty())
      log::error("cluster: loading the configuration from etcd failed: ", err);
  });
}

// Reaches `name`'s published node actor (CAF's middleman, asynchronously) and pings it.
void connect_link(self_ptr self, const std::string& name) {
  auto& st = self->state;
  auto m = st.list.members().find(name);
  if (m == st.list.members().end())
    return;
  auto& l = st.links[name];
  l.state = "connecting";
  l.tried_ms = now_ms();
  auto address = m->second.address;
  auto colon = address.rfind(':');
  auto host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[')
    host = host.substr(1, host.size() - 2);
  std::uint16_t port = 0;
  try {
    port = static_cast<std::uint16_t>(std::stoul(address.substr(colon + 1)));
  } catch (...) {
    l.state = "bad-address";
    return;
  }
  // The link's state after an attempt: "ok" or why not.
  auto settle = [=](const std::string& why) {
    auto it = self->state.links.find(name);
    if (it == self->state.links.end())
      return;
    auto& l = it->second;
    l.state = why;
    if (why == "ok" && !l.said.empty())
      log::info("cluster: reached member '", name, "' over CAF");
    else if (why != "ok" && why != l.said)
      log::warn("cluster: cannot reach member '", name, "' over CAF (", why,
                "); trying again every ", link_retry_ms, " ms");
    l.said = why == "ok" ? std::string{} : why;
  };
  self
    ->request(self->system().middleman().actor_handle(), std::chrono::seconds(5),
              caf::connect_atom::value, host, port)
    .then(
      [=](const caf::node_id&, caf::strong_actor_ptr& ptr, const std::set<std::string>&) {
        if (!ptr)
          return settle("no-actor");
        auto node = caf::actor_cast<caf::actor>(ptr);
        self->request(node, std::chrono::seconds(3), ping_atom::value)
          .then(
            [=](const std::string& answer) {
              if (answer != name)
                return settle("answers-as-" + answer);
              self->request(node, std::chrono::seconds(3), handles_atom::value)
                .then(
                  [=](caf::actor& router, caf::actor& port) {
                    auto m = self->state.list.members().find(name);
                    if (m == self->state.list.members().end())
                      return;
                    self->state.cfg.remotes->set(static_cast<node_number>(m->second.node),
                                                 std::move(router), std::move(port), node);
                    self->monitor(node);
                    self->state.links[name].node = node.address();
                    settle("ok");
                    place(self);
                  },
                  [=](caf::error&) { settle("no-handles"); });
            },
            [=](caf::error&) { settle("no-pong"); });
      },
      [=](caf::error&) { settle("unreachable"); });
}

void report(self_ptr self, const member_list::changes& c) {
  auto& st = self->state;
  for (auto& line : c.refused)
    log::warn(line);
  for (auto& name : c.joined)
    if (name != st.cfg.node_name) {
      auto& m = st.list.members().at(name);
      log::info("cluster: member '", name, "' (node ", m.node, ", ", m.address, ") is up");
      connect_link(self, name);
    }
  for (auto& name : c.left) {
    log::info("cluster: member '", name, "' is gone");
    st.links.erase(name);
    // Its router and SIP port go with it (unless its number is already back).
    auto n = st.numbers.find(name);
    if (n != st.numbers.end()) {
      bool back = false;
      for (auto& [other, m] : st.list.members())
        back = back || m.node == n->second;
      if (!back)
        st.cfg.remotes->drop(static_cast<node_number>(n->second));
      st.numbers.erase(n);
    }
  }
  for (auto& [name, m] : st.list.members())
    st.numbers[name] = m.node;
  place(self);
}

void on_watch(self_ptr self, const etcd_response& r) {
  auto& st = self->state;
  if (!r.more) { // the stream ended: read the prefix again, then watch anew
    st.watch_id = 0;
    if (r.status == 0)
      unreachable(self, r.endpoint + ": " + r.error);
    else
      log::debug("cluster: watch ended (HTTP ", r.status, ") ", r.body);
    return;
  }
  reachable(self, r.endpoint);
  auto w = etcd::parse_watch(r.body);
  if (!w.error.empty()) {
    log::warn("cluster: bad watch line: ", w.error);
    return;
  }
  if (w.canceled) {
    log::info("cluster: watch canceled by etcd (compacted at ", w.compact_revision,
              "); reading the members again");
    cancel_watch(self);
    return;
  }
  st.owners.apply(w.events);
  apply_config(self, w.events);
  retry_deferred(self);
  report(self, st.list.apply(w.events, now_ms()));
  for (auto& e : w.events)
    st.watch_from = std::max(st.watch_from, e.kv.mod_revision + 1);
}

void on_response(self_ptr self, const etcd_response& r) {
  auto& st = self->state;
  if (st.watch_id != 0 && r.id == st.watch_id)
    return on_watch(self, r);
  auto it = st.calls.find(r.id);
  if (it == st.calls.end())
    return; // answered after we gave up on it
  auto kind = it->second.kind;
  auto domain = std::move(it->second.domain);
  st.calls.erase(it);
  // etcd's own errors (4xx with an error body) are answers; no answer or 5xx is not.
  if (kind == call_kind::config)
    on_write_answer(self, r.id, r, r.status != 0 && r.status < 500);
  if (r.status == 0 || r.status >= 500) {
    unreachable(self, r.status == 0 ? r.endpoint + ": " + r.error
                                    : r.endpoint + ": HTTP " + std::to_string(r.status));
    if (kind == call_kind::revoke && st.leaving.pending())
      st.leaving.deliver(caf::unit);
    return;
  }
  reachable(self, r.endpoint);
  switch (kind) {
    case call_kind::grant: {
      auto g = etcd::parse_lease_grant(r.body);
      if (!g.error.empty()) {
        log::warn("cluster: lease grant failed: ", g.error);
        return;
      }
      st.lease = g.id;
      st.registered = false;
      join(self);
      return;
    }
    case call_kind::join: {
      auto t = etcd::parse_txn(r.body);
      if (!t.error.empty()) {
        log::warn("cluster: registration failed: ", t.error);
        // A lease that ended between grant and txn: start over.
        if (t.error.find("lease not found") != std::string::npos)
          st.lease = 0;
        return;
      }
      on_join(self, t);
      return;
    }
    case call_kind::keepalive: {
      auto k = etcd::parse_keepalive(r.body);
      if (k.error.empty() && k.ttl > 0)
        return;
      log::warn("cluster: lease ", st.lease, " expired", k.error.empty() ? "" : " (" + k.error + ")",
                "; registering again on a new lease");
      st.lease = 0;
      st.registered = false;
      step(self);
      return;
    }
    case call_kind::poll: {
      auto p = etcd::parse_range(r.body);
      if (!p.error.empty()) {
        log::warn("cluster: reading the members failed: ", p.error);
        return;
      }
      st.owners.set_claims(p.kvs);
      apply_snapshot(self, p.kvs);
      st.watch_from = p.revision + 1;
      if (st.registered && st.watch_id == 0)
        start_watch(self);
      report(self, st.list.apply(p.kvs, now_ms()));
      return;
    }
    case call_kind::claim: {
      auto t = etcd::parse_txn(r.body);
      if (!t.error.empty())
        log::warn("cluster: claiming tenant ", domain, " failed: ", t.error);
      else if (t.succeeded)
        log::info("cluster: this node owns tenant ", domain);
      // Else taken meanwhile: the watch says by whom.
      return;
    }
    case call_kind::release: {
      auto t = etcd::parse_txn(r.body);
      if (!t.error.empty())
        log::warn("cluster: giving up tenant ", domain, " failed: ", t.error);
      return;
    }
    case call_kind::config:
      return; // answered above
    case call_kind::revoke:
      if (st.leaving.pending())
        st.leaving.deliver(caf::unit);
      return;
  }
}

std::string link_state(const membership_state& st, const std::string& name) {
  auto it = st.links.find(name);
  return it == st.links.end() ? "none" : it->second.state;
}

// A member's tenants for `cluster status`: comma-separated, the first 20 and a count.
std::string owned_list(const std::vector<std::string>& domains) {
  if (domains.empty())
    return "-";
  std::string out;
  for (std::size_t i = 0; i < domains.size() && i < 20; ++i)
    out += (i ? "," : "") + domains[i];
  if (domains.size() > 20)
    out += ",...(" + std::to_string(domains.size()) + " in all)";
  return out;
}

admin_reply status(self_ptr self) {
  auto& st = self->state;
  admin_reply r;
  auto now = now_ms();
  // One key=value line first, like the records: scripts parse both alike.
  if (st.unknown)
    r.notes.push_back("etcd=unknown endpoints=" + endpoints(st));
  else if (st.unreachable_since != 0)
    r.notes.push_back("etcd=unreachable since=" + admin_schema::iso_time_ms(st.unreachable_since)
                      + " endpoints=" + endpoints(st));
  else
    r.notes.push_back("etcd=reachable endpoint=" + st.last_endpoint);
  for (auto& [name, m] : st.list.members())
    r.records.push_back(field_list{
      {"name", name},
      {"node", std::to_string(m.node)},
      {"address", m.address},
      {"state", name == st.cfg.node_name ? "this-node" : "alive"},
      {"lease_age", std::to_string((now - m.seen_ms) / 1000) + "s"},
      {"caf", name == st.cfg.node_name ? std::string{"local"} : link_state(st, name)},
      {"owns", owned_list(st.owners.owned_by(name))},
    });
  return r;
}

caf::behavior membership_actor(self_ptr self, node_context* ctx, cluster_settings cfg,
                               std::atomic<int>* joined) {
  auto& st = self->state;
  st.ctx = ctx;
  st.cfg = std::move(cfg);
  st.joined = joined;
  st.self.name = st.cfg.node_name;
  st.self.node = ctx->node;
  st.self.address = st.cfg.listen;
  st.self.wire = cluster_wire_version;
  st.self.start_ms = now_ms();
  self->set_down_handler([=](caf::down_msg& m) { link_down(self, m); });
  self->send(self, tick_atom::value);
  return {
    [=](tick_atom) {
      if (self->state.joined->load() == static_cast<int>(join_state::refused))
        return;
      step(self);
      self->delayed_send(self, std::chrono::seconds(1), tick_atom::value);
    },
    [=](const etcd_response& r) { on_response(self, r); },
    [=](const cluster_status_query&) { return status(self); },
    [=](config_write& w) { write_config(self, std::move(w)); },
    [=](leave_atom) {
      auto& st = self->state;
      st.joined->store(static_cast<int>(join_state::refused)); // no more ticks
      cancel_watch(self);
      auto rp = self->make_response_promise();
      if (st.lease == 0) {
        rp.deliver(caf::unit);
        return rp;
      }
      st.leaving = rp;
      send_call(self, call_kind::revoke, "/v3/lease/revoke", etcd::lease_revoke_body(st.lease));
      return rp;
    },
  };
}

struct node_state {
  static inline const char* name = "node";
  std::uint64_t next = 0;
  std::map<std::uint64_t, caf::response_promise> waiting; // answered once stored
};

caf::behavior node_actor(caf::stateful_actor<node_state>* self, std::string name,
                         caf::actor router, caf::actor sip_port, storage::store* store) {
  // Another member's registrations for this node's LMDB: answered "" once committed.
  auto keep = [=](storage::batch b) {
    auto id = ++self->state.next;
    auto rp = self->make_response_promise();
    self->state.waiting.emplace(id, rp);
    auto me = caf::actor_cast<caf::actor>(self);
    store->submit(std::move(b), [me, id](const std::string& err) {
      caf::anon_send(me, stored_atom::value, id, err);
    });
    return rp;
  };
  return {
    [=](ping_atom) { return name; },
    [=](handles_atom) { return caf::make_message(router, sip_port); },
    [=](const binding_replica& r) { return keep(batch_of(r)); },
    [=](const binding_snapshot& s) { return keep(batch_of(s)); },
    [=](stored_atom, std::uint64_t id, const std::string& err) {
      auto it = self->state.waiting.find(id);
      if (it == self->state.waiting.end())
        return;
      it->second.deliver(err);
      self->state.waiting.erase(it);
    },
  };
}

} // namespace

caf::actor spawn_membership(caf::actor_system& sys, node_context* ctx, cluster_settings cfg,
                            std::atomic<int>* joined) {
  return sys.spawn(membership_actor, ctx, std::move(cfg), joined);
}

void leave_cluster(caf::actor_system& sys, const caf::actor& membership,
                   std::chrono::milliseconds timeout) {
  caf::scoped_actor waiter{sys};
  waiter->request(membership, timeout, leave_atom::value)
    .receive([](caf::unit_t) {}, [](caf::error&) {});
}

storage::store::replicator_fn config_replicator(caf::actor membership) {
  return [membership](storage::batch b, storage::done_fn done) {
    caf::anon_send(membership,
                   config_write{std::make_shared<storage::batch>(std::move(b)), std::move(done)});
  };
}

caf::actor spawn_node_actor(caf::actor_system& sys, std::string name, caf::actor router,
                            caf::actor sip_port, storage::store* store) {
  return sys.spawn(node_actor, std::move(name), std::move(router), std::move(sip_port), store);
}

} // namespace pbx
