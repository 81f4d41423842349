// The client side of SIP trunks on the SIP thread: the REGISTER to a
// provider (libre's sipreg: digest answers and refreshes before expiry are
// libre's) and OPTIONS keep-alives. Every answer goes to the trunk actor as a
// trunk_event; the actor decides what it means (online, retry, backoff).
//
// A failed registration ends its client here: sipreg would retry on its own
// schedule (30 s doubling up to 30 min), but the trunk actor keeps its own
// (30 s doubling up to 10 min) and shows when the next attempt comes.
//
// A trunk that is changed restarts: its old client un-REGISTERs as it goes
// and the new one registers the same binding. Sent together, a registrar
// with several workers may apply the un-REGISTER last and drop the new
// binding; so a REGISTER of a binding un-REGISTERed moments ago waits a
// little (unregister_gap) for the un-REGISTER to be answered first.

#include "net/stack_impl.hpp"

#include <caf/send.hpp>

#include "engine/log.hpp"

namespace pbx::net {

struct sip_creds {
  char* user;
  char* password;
};

struct trunk_client {
  sip_stack::impl* stack = nullptr;
  std::string key;
  caf::actor owner;
  trunk_command cmd; // what it registers
  struct sipreg* reg = nullptr;
  struct tmr drop_tmr {};
  struct tmr start_tmr {}; // a deferred first REGISTER
};

namespace {

constexpr std::uint64_t unregister_gap = 2000; // ms

// The binding a registration makes at its registrar.
std::string binding_of(const trunk_command& c) {
  return c.registrar + " " + c.aor + " " + c.contact_user;
}

void creds_destructor(void* arg) {
  auto* c = static_cast<sip_creds*>(arg);
  mem_deref(c->user);
  mem_deref(c->password);
}

// Frees the client; libre un-REGISTERs first if the registration stands.
void drop(trunk_client* c) {
  tmr_cancel(&c->drop_tmr);
  tmr_cancel(&c->start_tmr);
  auto& s = *c->stack;
  auto& clients = s.trunk_clients;
  if (auto i = clients.find(c->key); i != clients.end() && i->second == c)
    clients.erase(i);
  if (c->reg && sipreg_registered(c->reg))
    s.trunk_unregistering[binding_of(c->cmd)] = tmr_jiffies() + unregister_gap;
  c->reg = static_cast<struct sipreg*>(mem_deref(c->reg));
  delete c;
}

void drop_handler(void* arg) {
  drop(static_cast<trunk_client*>(arg));
}

// The code and reason of a transaction that got no final response.
void no_answer(int err, trunk_event& e) {
  if (err == ETIMEDOUT) {
    e.code = 408;
    e.reason = "Request Timeout";
  } else {
    e.code = 503;
    e.reason = err ? strerror(err) : "No Response";
  }
}

// A request that could not even be sent. The stack has no DNS client: a
// host name that is not an IP address ends here (EINVAL).
// A request that could not be sent: its owner hears it as a 503 of `what`.
void cannot_send(const trunk_command& c, trunk_event::kind what, int err) {
  trunk_event e;
  e.what = what;
  e.key = c.key;
  e.code = 503;
  e.reason = std::string{"cannot send: "} + strerror(err)
             + (err == EINVAL ? " (host names are not resolved: use an IP address)" : "");
  caf::anon_send(c.owner, std::move(e));
}

void register_response(int err, const struct sip_msg* msg, void* arg) {
  auto* c = static_cast<trunk_client*>(arg);
  trunk_event e;
  e.key = c->key;
  if (!err && msg && msg->scode >= 200 && msg->scode < 300) {
    e.what = trunk_event::kind::registered;
    e.code = msg->scode;
    e.reason = to_string(msg->reason);
    e.expires = sipreg_proxy_expires(c->reg); // the Contact's (or Expires') grant
    caf::anon_send(c->owner, std::move(e));
    return;
  }
  e.what = trunk_event::kind::register_failed;
  if (!msg || msg->scode < 200) {
    no_answer(err, e);
  } else { // a refusal (a 401 libre could not answer included)
    e.code = msg->scode;
    e.reason = to_string(msg->reason);
  }
  caf::anon_send(c->owner, std::move(e));
  // Not from inside sipreg's own handler: on the loop's next turn.
  tmr_start(&c->drop_tmr, 0, drop_handler, c);
}

void send_register(trunk_client* tc) {
  auto& s = *tc->stack;
  auto& c = tc->cmd;
  const char* routev[] = {c.outbound_proxy.c_str()};
  std::uint32_t routec = c.outbound_proxy.empty() ? 0 : 1;
  auto* creds = creds_alloc(c.auth_user, c.password);
  int err = ENOMEM;
  if (creds)
    err = sipreg_register(&tc->reg, s.sip, c.registrar.c_str(), c.aor.c_str(), nullptr,
                          c.aor.c_str(), c.expires, c.contact_user.c_str(),
                          routec ? routev : nullptr, routec, 0, creds_auth_handler, creds, true,
                          register_response, tc, nullptr, "%s", "");
  mem_deref(creds); // sipreg holds its own reference
  if (!err)
    return;
  log::warn("trunk ", c.key, ": REGISTER to ", c.registrar, " failed: ", strerror(err));
  cannot_send(c, trunk_event::kind::register_failed, err);
  drop(tc);
}

void start_handler(void* arg) {
  send_register(static_cast<trunk_client*>(arg));
}

void register_start(sip_stack::impl& s, const trunk_command& c) {
  if (auto i = s.trunk_clients.find(c.key); i != s.trunk_clients.end())
    drop(i->second);
  auto* tc = new trunk_client;
  tc->stack = &s;
  tc->key = c.key;
  tc->owner = c.owner;
  tc->cmd = c;
  tmr_init(&tc->drop_tmr);
  tmr_init(&tc->start_tmr);
  s.trunk_clients[c.key] = tc;
  auto now = tmr_jiffies();
  for (auto i = s.trunk_unregistering.begin(); i != s.trunk_unregistering.end();)
    i = i->second <= now ? s.trunk_unregistering.erase(i) : std::next(i);
  if (auto u = s.trunk_unregistering.find(binding_of(c)); u != s.trunk_unregistering.end()) {
    tmr_start(&tc->start_tmr, u->second - now, start_handler, tc);
    return;
  }
  send_register(tc);
}

// One OPTIONS in flight: its one-request dialog and whom to tell.
struct options_out {
  struct sip_dialog* dlg = nullptr;
  caf::actor owner;
  std::string key;
};

void options_response(int err, const struct sip_msg* msg, void* arg) {
  auto* o = static_cast<options_out*>(arg);
  if (!err && msg && msg->scode < 200)
    return;
  trunk_event e;
  e.what = trunk_event::kind::options_answer;
  e.key = o->key;
  if (!msg) {
    no_answer(err, e);
  } else {
    e.code = msg->scode;
    e.reason = to_string(msg->reason);
  }
  caf::anon_send(o->owner, std::move(e));
  mem_deref(o->dlg);
  delete o;
}

void send_options(sip_stack::impl& s, const trunk_command& c) {
  const char* routev[] = {c.outbound_proxy.c_str()};
  std::uint32_t routec = c.outbound_proxy.empty() ? 0 : 1;
  auto* o = new options_out;
  o->owner = c.owner;
  o->key = c.key;
  int err = sip_dialog_alloc(&o->dlg, c.registrar.c_str(), c.registrar.c_str(), nullptr,
                             c.aor.c_str(), routec ? routev : nullptr, routec);
  if (!err)
    err = sip_drequestf(nullptr, s.sip, true, "OPTIONS", o->dlg, 0, nullptr, nullptr,
                        options_response, o, "Accept: application/sdp\r\nContent-Length: 0\r\n\r\n");
  if (!err)
    return;
  log::debug("trunk ", c.key, ": OPTIONS to ", c.registrar, " failed: ", strerror(err));
  cannot_send(c, trunk_event::kind::options_answer, err);
  mem_deref(o->dlg);
  delete o;
}

} // namespace

sip_creds* creds_alloc(const std::string& user, const std::string& password) {
  auto* c = static_cast<sip_creds*>(mem_zalloc(sizeof(sip_creds), creds_destructor));
  if (!c)
    return nullptr;
  if (str_dup(&c->user, user.c_str()) != 0 || str_dup(&c->password, password.c_str()) != 0)
    return static_cast<sip_creds*>(mem_deref(c));
  return c;
}

int creds_auth_handler(char** username, char** password, const char* realm, void* arg) {
  (void)realm; // a trunk has one set of credentials, whatever realm asks
  auto* c = static_cast<sip_creds*>(arg);
  if (!c || !c->user || !*c->user)
    return EACCES; // nothing to answer with: the 401/407 ends the request
  int err = str_dup(username, c->user);
  if (!err)
    err = str_dup(password, c->password);
  return err;
}

void on_trunk_command(sip_stack::impl& s, const trunk_command& c) {
  switch (c.what) {
    case trunk_command::op::register_start:
      register_start(s, c);
      break;
    case trunk_command::op::register_stop:
      if (auto i = s.trunk_clients.find(c.key); i != s.trunk_clients.end())
        drop(i->second);
      break;
    case trunk_command::op::options:
      send_options(s, c);
      break;
  }
}

void trunks_close(sip_stack::impl& s) {
  while (!s.trunk_clients.empty())
    drop(s.trunk_clients.begin()->second);
}

} // namespace pbx::net
