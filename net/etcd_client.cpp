// etcd's JSON gateway over libre's HTTP client, on the SIP thread's loop:
// one POST per etcd_request, its answer (or why there was none) back to the
// requesting actor. A stream (/v3/watch) goes up line by line as it comes.
// The endpoints are tried in turn: a call that fails moves the next one to
// the next endpoint. JSON stays with the caller (engine/etcd_messages.hpp);
// this file only moves bytes.

#include "net/stack_impl.hpp"

#include <cstring>

#include "engine/etcd_messages.hpp"
#include "engine/log.hpp"

namespace pbx::net {

namespace {

// An answer etcd did not give within this is no answer: a lease lives 6 s.
constexpr std::uint32_t call_timeout_ms = 2500;

} // namespace

struct etcd_call;

struct etcd_client {
  struct dnsc* dnsc = nullptr; // libre's client wants one; IP endpoints never use it
  struct http_cli* cli = nullptr;
  std::size_t current = 0;
  std::unordered_map<std::uint64_t, etcd_call*> calls;
};

struct etcd_call {
  etcd_client* client = nullptr;
  std::uint64_t id = 0;
  caf::actor reply_to;
  std::string endpoint;
  struct http_req* req = nullptr; // libre's until it answers (it clears this)
  struct tmr timer {};
  bool stream = false;
  etcd::line_buffer lines; // a stream's bytes after its last complete line
};

namespace {

void finish(etcd_call* call, etcd_response r) {
  tmr_cancel(&call->timer);
  if (r.status == 0)
    ++call->client->current; // the next call tries another endpoint
  r.id = call->id;
  r.endpoint = call->endpoint;
  caf::anon_send(call->reply_to, std::move(r));
  call->client->calls.erase(call->id);
  delete call;
}

void on_response(int err, const struct http_msg* msg, void* arg) {
  auto* call = static_cast<etcd_call*>(arg);
  etcd_response r;
  if (err || !msg) {
    r.error = err ? std::strerror(err) : "no response";
  } else {
    r.status = msg->scode;
    if (call->stream)
      r.body = call->lines.take_rest(); // an error's body, or a last line without newline
    else if (msg->mb)
      r.body.assign(reinterpret_cast<const char*>(mbuf_buf(msg->mb)), mbuf_get_left(msg->mb));
  }
  finish(call, std::move(r));
}

// A stream's body as it arrives: each complete line of a 200 goes up at once.
int on_stream_data(const uint8_t* buf, size_t size, const struct http_msg* msg, void* arg) {
  auto* call = static_cast<etcd_call*>(arg);
  auto* data = reinterpret_cast<const char*>(buf);
  if (!msg || msg->scode != 200) // an error body, kept whole for the end
    return call->lines.feed(data, size, [](std::string) {}) ? 0 : EOVERFLOW;
  bool ok = call->lines.feed(data, size, [call](std::string line) {
    etcd_response r;
    r.id = call->id;
    r.status = 200;
    r.body = std::move(line);
    r.endpoint = call->endpoint;
    r.more = true;
    caf::anon_send(call->reply_to, std::move(r));
  });
  if (!ok)
    log::warn("cluster: etcd at ", call->endpoint,
              " sent a watch line over 4 MiB without its end: stream dropped");
  return ok ? 0 : EOVERFLOW; // libre ends the request; on_response reports it
}

void on_timeout(void* arg) {
  auto* call = static_cast<etcd_call*>(arg);
  call->req = static_cast<struct http_req*>(mem_deref(call->req)); // no answer after this
  etcd_response r;
  r.error = "no answer within " + std::to_string(call_timeout_ms) + " ms";
  finish(call, std::move(r));
}

std::string open_client(sip_stack::impl& s) {
  auto c = std::make_unique<etcd_client>();
  if (int err = dnsc_alloc(&c->dnsc, nullptr, nullptr, 0))
    return std::string{"dnsc_alloc: "} + std::strerror(err);
  if (int err = http_client_alloc(&c->cli, c->dnsc)) {
    mem_deref(c->dnsc);
    return std::string{"http_client_alloc: "} + std::strerror(err);
  }
  s.etcd = c.release();
  return {};
}

} // namespace

void on_etcd_request(sip_stack::impl& s, const etcd_request& r) {
  if (r.cancel) {
    if (!s.etcd)
      return;
    auto it = s.etcd->calls.find(r.id);
    if (it == s.etcd->calls.end())
      return;
    auto* call = it->second;
    tmr_cancel(&call->timer);
    mem_deref(call->req);
    s.etcd->calls.erase(it);
    delete call;
    return;
  }
  etcd_response fail;
  fail.id = r.id;
  auto& endpoints = s.cfg.etcd_endpoints;
  if (endpoints.empty()) {
    fail.error = "no etcd endpoint configured";
    caf::anon_send(r.reply_to, std::move(fail));
    return;
  }
  if (!s.etcd)
    if (auto e = open_client(s); !e.empty()) {
      fail.error = e;
      caf::anon_send(r.reply_to, std::move(fail));
      return;
    }
  auto& client = *s.etcd;
  auto* call = new etcd_call;
  call->client = &client;
  call->id = r.id;
  call->reply_to = r.reply_to;
  call->endpoint = endpoints[client.current % endpoints.size()];
  call->stream = r.stream;
  tmr_init(&call->timer);
  auto uri = "http://" + call->endpoint + r.path;
  int err = http_request(&call->req, client.cli, "POST", uri.c_str(), on_response,
                         r.stream ? on_stream_data : nullptr, call,
                         "Content-Type: application/json\r\n"
                         "Content-Length: %zu\r\n"
                         "\r\n"
                         "%s",
                         r.body.size(), r.body.c_str());
  if (err) {
    fail.error = std::string{"http_request: "} + std::strerror(err);
    fail.endpoint = call->endpoint;
    ++client.current;
    delete call;
    caf::anon_send(r.reply_to, std::move(fail));
    return;
  }
  client.calls.emplace(call->id, call);
  if (!r.stream) // a stream lasts until cancelled or broken
    tmr_start(&call->timer, call_timeout_ms, on_timeout, call);
}

void etcd_close(sip_stack::impl& s) {
  if (!s.etcd)
    return;
  for (auto& [id, call] : s.etcd->calls) {
    tmr_cancel(&call->timer);
    mem_deref(call->req);
    delete call;
  }
  s.etcd->calls.clear();
  mem_deref(s.etcd->cli);
  mem_deref(s.etcd->dnsc);
  delete s.etcd;
  s.etcd = nullptr;
}

} // namespace pbx::net
