// REGISTER in (sip_msg -> register_request) and its answer out
// (sip_reply -> response); OPTIONS and methods we do not serve yet.

#include "net/stack_impl.hpp"

#include <strings.h>

#include <cstring>
#include <string_view>

#include <caf/send.hpp>

#include "engine/log.hpp"

namespace pbx::net {

namespace {

constexpr const char* allow_hdr = "Allow: REGISTER, OPTIONS, INVITE, ACK, BYE, CANCEL\r\n";

std::string lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// An expires value: digits that fit 32 bits, else -2 (malformed).
std::int64_t parse_expires(const struct pl& v) {
  if (!pl_isset(&v) || v.l > 10)
    return -2;
  std::int64_t n = 0;
  for (size_t i = 0; i < v.l; ++i) {
    if (v.p[i] < '0' || v.p[i] > '9')
      return -2;
    n = n * 10 + (v.p[i] - '0');
  }
  return n > 0xffffffffLL ? -2 : n;
}

// Contact header parameters other than expires, kept verbatim.
std::string params_without_expires(const struct pl& params) {
  std::string out;
  auto text = to_string(params);
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto next = text.find(';', pos + 1);
    auto part = text.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
    auto name = lower(part.substr(0, part.find('=')));
    if (name != ";expires" && part != ";")
      out += part;
    if (next == std::string::npos)
      break;
    pos = next;
  }
  return out;
}

// The value of one auth-param that libre's digest decoder does not keep
// (algorithm), unquoted; empty if absent. A scan: the regex it replaces was
// tried at every position of the header. Names match in any case, after a
// comma or white space, with optional white space before '='.
std::string digest_param(const struct pl& val, std::string_view name) {
  std::string_view v{val.p, val.l};
  // `name` is lower case; its first letter is checked before the call.
  for (std::size_t at = 0; at + name.size() < v.size(); ++at) {
    if ((v[at] | 0x20) != name[0] || strncasecmp(v.data() + at, name.data(), name.size()) != 0)
      continue;
    bool starts = at == 0 || v[at - 1] == ',' || v[at - 1] == ' ' || v[at - 1] == '\t';
    auto eq = v.find_first_not_of(" \t", at + name.size());
    if (!starts || eq == std::string_view::npos || v[eq] != '=')
      continue;
    auto first = v.find_first_not_of(" \t\"", eq + 1);
    if (first == std::string_view::npos)
      return {};
    auto last = v.find_first_of(",\" \t\r\n", first);
    return std::string{v.substr(first, last == std::string_view::npos ? last : last - first)};
  }
  return {};
}

struct contact_ctx {
  register_request* req;
  bool bad = false;
};

bool contact_handler(const struct sip_hdr* hdr, const struct sip_msg*, void* arg) {
  auto* c = static_cast<contact_ctx*>(arg);
  if (pl_strcmp(&hdr->val, "*") == 0) {
    c->req->star = true;
    return false;
  }
  struct sip_addr addr;
  if (!decode_contact(hdr, addr)) {
    c->bad = true;
    return true;
  }
  contact_entry e;
  e.uri = to_string(addr.auri);
  struct pl exp;
  if (msg_param_decode(&addr.params, "expires", &exp) == 0) {
    e.expires = parse_expires(exp);
    if (e.expires == -2) {
      c->bad = true;
      return true;
    }
  }
  e.params = params_without_expires(addr.params);
  c->req->contacts.push_back(std::move(e));
  return false;
}

} // namespace

void decode_credentials(const struct sip_msg* msg, enum sip_hdrid id, digest_credentials& out) {
  auto* hdr = sip_msg_hdr(msg, id);
  if (!hdr)
    return;
  out.present = true;
  size_t n = 0;
  while (n < hdr->val.l && hdr->val.p[n] != ' ' && hdr->val.p[n] != '\t')
    ++n;
  out.scheme.assign(hdr->val.p, n);
  if (strcasecmp(out.scheme.c_str(), "Digest") != 0)
    return;
  struct httpauth_digest_resp r;
  if (httpauth_digest_response_decode(&r, &hdr->val) != 0) {
    out.scheme = "Digest-malformed";
    return;
  }
  out.username = to_string(r.username);
  out.realm = to_string(r.realm);
  out.nonce = to_string(r.nonce);
  out.uri = to_string(r.uri);
  out.response = to_string(r.response);
  out.qop = to_string(r.qop);
  out.nc = to_string(r.nc);
  out.cnonce = to_string(r.cnonce);
  out.algorithm = digest_param(hdr->val, "algorithm");
}

std::string uri_user(const struct pl& user) {
  if (!pl_isset(&user) || !std::memchr(user.p, '%', user.l))
    return to_string(user);
  // %-escapes name the same user as their characters (RFC 3261 19.1.4).
  struct mbuf* mb = mbuf_alloc(user.l + 1);
  std::string out = mbuf_printf(mb, "%H", uri_user_unescape, &user) == 0
                      ? std::string{reinterpret_cast<const char*>(mb->buf), mb->end}
                      : to_string(user);
  mem_deref(mb);
  return out;
}

std::string challenge_header(const char* name, const std::string& realm,
                             const std::string& nonce, bool stale) {
  return std::string{name} + ": Digest realm=\"" + realm + "\", nonce=\"" + nonce
         + "\", qop=\"auth\", algorithm=MD5" + (stale ? ", stale=true" : "") + "\r\n";
}

std::string lower_host(const struct pl& host) {
  return lower(to_string(host));
}

void reply_plain(struct sip* sip, const struct sip_msg* msg, uint16_t code,
                 const char* reason, const char* extra) {
  sip_replyf(sip, msg, code, reason, "%sContent-Length: 0\r\n\r\n", extra);
}

bool sip_stack::impl::on_request(const struct sip_msg* msg) {
  // Phones register in bursts (a site after a power cut, a benchmark): a
  // default 208 KiB receive buffer overflows long before the thread is busy.
  // libre does not hand out its UDP socket, so it is tuned on first use.
  if (!udp_tuned && msg->tp == SIP_TRANSP_UDP && msg->sock) {
    udp_tuned = true;
    udp_sockbuf_set(static_cast<struct udp_sock*>(msg->sock), 8 << 20);
  }
  const char* reason = nullptr;
  int verdict = check_request(msg, &reason);
  if (verdict < 0)
    return true;
  if (verdict > 0) {
    std::string extra;
    if (verdict == 420) {
      // Every option tag we were asked for is one we do not support.
      sip_msg_hdr_apply(msg, true, SIP_HDR_REQUIRE,
                        [](const struct sip_hdr* h, const struct sip_msg*, void* arg) {
                          *static_cast<std::string*>(arg) +=
                            "Unsupported: " + to_string(h->val) + "\r\n";
                          return false;
                        },
                        &extra);
    }
    reply_plain(sip, msg, static_cast<uint16_t>(verdict), reason, extra.c_str());
    return true;
  }
  if (pl_strcmp(&msg->met, "REGISTER") == 0) {
    on_register(msg);
  } else if (pl_strcmp(&msg->met, "OPTIONS") == 0) {
    reply_plain(sip, msg, 200, "OK",
                "Allow: REGISTER, OPTIONS, INVITE, ACK, BYE, CANCEL\r\nAccept: application/sdp\r\n");
  } else if (pl_strcmp(&msg->met, "INVITE") == 0 || pl_strcmp(&msg->met, "ACK") == 0
             || pl_strcmp(&msg->met, "BYE") == 0 || pl_strcmp(&msg->met, "CANCEL") == 0
             || pl_strcmp(&msg->met, "INFO") == 0) {
    return false; // dialogs: libre's sipsess (call_legs.cpp) takes them
  } else {
    static const char* known[] = {"PRACK", "UPDATE", "SUBSCRIBE", "NOTIFY", "REFER",
                                  "MESSAGE", "PUBLISH"};
    bool is_known = false;
    for (auto* m : known)
      is_known |= pl_strcmp(&msg->met, m) == 0;
    if (is_known)
      reply_plain(sip, msg, 405, "Method Not Allowed", allow_hdr);
    else
      reply_plain(sip, msg, 501, "Not Implemented", allow_hdr);
  }
  return true;
}

void sip_stack::impl::on_register(const struct sip_msg* msg) {
  register_request req;
  if (pl_strcasecmp(&msg->to.uri.scheme, "sip") != 0
      && pl_strcasecmp(&msg->to.uri.scheme, "sips") != 0) {
    reply_plain(sip, msg, 400, "Bad To URI");
    return;
  }
  req.domain = lower(to_string(msg->to.uri.host));
  req.user = uri_user(msg->to.uri.user);
  contact_ctx cc{&req};
  sip_msg_hdr_apply(msg, true, SIP_HDR_CONTACT, contact_handler, &cc);
  if (cc.bad) {
    reply_plain(sip, msg, 400, "Bad Contact");
    return;
  }
  if (req.star && !req.contacts.empty()) {
    reply_plain(sip, msg, 400, "Contact * with other contacts");
    return;
  }
  if (pl_isset(&msg->expires)) {
    req.expires = parse_expires(msg->expires);
    if (req.expires == -2) {
      reply_plain(sip, msg, 400, "Bad Expires");
      return;
    }
  }
  decode_credentials(msg, SIP_HDR_AUTHORIZATION, req.auth);
  if (!req.auth.present && cfg.make_nonce && cfg.dir && cfg.dir->lookup(tenant_key(req.domain))) {
    auto hdr = challenge_header("WWW-Authenticate", req.domain, cfg.make_nonce(req.domain), false);
    reply_plain(sip, msg, 401, "Unauthorized", hdr.c_str());
    return;
  }
  req.call_id = to_string(msg->callid);
  req.cseq = msg->cseq.num;
  char ip[64];
  sa_ntop(&msg->src, ip, sizeof(ip));
  req.source.ip = ip;
  req.source.port = sa_port(&msg->src);
  req.source.transport = lower(sip_transp_name(msg->tp));
  if (auto* ua = sip_msg_hdr(msg, SIP_HDR_USER_AGENT))
    req.user_agent = to_string(ua->val);
  pending_txn t;
  t.msg = static_cast<struct sip_msg*>(mem_ref(const_cast<struct sip_msg*>(msg)));
  t.since = std::chrono::steady_clock::now();
  req.txn = ++next_txn;
  txns.emplace(req.txn, t);
  // A live extension gets the request straight away; otherwise the router
  // activates tenant and extension (or answers 404/401/403).
  auto ext = cfg.dir ? cfg.dir->lookup(extension_key(req.domain, req.user)) : caf::actor{};
  caf::anon_send(ext ? ext : cfg.router, std::move(req));
}

void sip_stack::impl::send_reply(const sip_reply& r) {
  auto i = txns.find(r.txn);
  if (i == txns.end())
    return; // answered by the sweep already
  auto t = i->second;
  txns.erase(i);
  struct mbuf* hdrs = mbuf_alloc(256);
  for (auto& c : r.contacts)
    mbuf_printf(hdrs, "Contact: <%s>%s;expires=%lld\r\n", c.uri.c_str(),
                c.params.c_str(), static_cast<long long>(c.expires));
  if (!r.challenge_realm.empty())
    mbuf_write_str(hdrs, challenge_header("WWW-Authenticate", r.challenge_realm,
                                          r.challenge_nonce, r.stale)
                           .c_str());
  if (r.min_expires > 0)
    mbuf_printf(hdrs, "Min-Expires: %u\r\n", r.min_expires);
  if (r.code == 405 || r.code == 501)
    mbuf_printf(hdrs, "%s", allow_hdr);
  mbuf_write_u8(hdrs, 0);
  auto reason = r.reason.empty() ? std::string{"OK"} : r.reason;
  int err = sip_replyf(sip, t.msg, r.code, reason.c_str(), "%sContent-Length: 0\r\n\r\n",
                       reinterpret_cast<const char*>(hdrs->buf));
  if (err)
    log::warn("reply ", r.code, " for transaction ", r.txn, " failed: ", strerror(err));
  mem_deref(hdrs);
  mem_deref(t.msg);
}

} // namespace pbx::net
