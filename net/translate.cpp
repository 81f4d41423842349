// SIP -> actor messages (net/translate.hpp): the fields of a decoded request
// that actors need, read the way RFC 3261 means them.

#include "net/translate.hpp"

#include <strings.h>

#include <cctype>
#include <cstring>
#include <string_view>

namespace pbx::net {

namespace {

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

std::string to_string(const struct pl& pl) {
  return pl.p ? std::string{pl.p, pl.l} : std::string{};
}

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

std::string lower_host(const struct pl& host) {
  return lower(to_string(host));
}

flow_info flow_of(const struct sip_msg* msg) {
  flow_info f;
  char ip[64];
  if (sa_ntop(&msg->src, ip, sizeof(ip)) == 0)
    f.ip = ip;
  f.port = sa_port(&msg->src);
  f.transport = lower(sip_transp_name(msg->tp));
  return f;
}

std::string user_agent_of(const struct sip_msg* msg) {
  auto* ua = sip_msg_hdr(msg, SIP_HDR_USER_AGENT);
  return ua ? to_string(ua->val) : std::string{};
}

const char* decode_register(const struct sip_msg* msg, register_request& req) {
  if (pl_strcasecmp(&msg->to.uri.scheme, "sip") != 0
      && pl_strcasecmp(&msg->to.uri.scheme, "sips") != 0)
    return "Bad To URI";
  req.domain = lower(to_string(msg->to.uri.host));
  req.user = uri_user(msg->to.uri.user);
  contact_ctx cc{&req};
  sip_msg_hdr_apply(msg, true, SIP_HDR_CONTACT, contact_handler, &cc);
  if (cc.bad)
    return "Bad Contact";
  if (req.star && !req.contacts.empty())
    return "Contact * with other contacts";
  if (pl_isset(&msg->expires)) {
    req.expires = parse_expires(msg->expires);
    if (req.expires == -2)
      return "Bad Expires";
  }
  decode_credentials(msg, SIP_HDR_AUTHORIZATION, req.auth);
  req.call_id = to_string(msg->callid);
  req.cseq = msg->cseq.num;
  req.source = flow_of(msg);
  req.user_agent = user_agent_of(msg);
  return nullptr;
}

const char* decode_subscribe(const struct sip_msg* msg, subscribe_request& req) {
  if (pl_strcasecmp(&msg->to.uri.scheme, "sip") != 0
      && pl_strcasecmp(&msg->to.uri.scheme, "sips") != 0)
    return "Bad To URI";
  req.domain = lower(to_string(msg->to.uri.host));
  req.user = uri_user(msg->to.uri.user);
  if (pl_isset(&msg->expires)) {
    req.expires = parse_expires(msg->expires);
    if (req.expires == -2)
      return "Bad Expires";
  }
  decode_credentials(msg, SIP_HDR_AUTHORIZATION, req.auth);
  req.source = flow_of(msg);
  req.user_agent = user_agent_of(msg);
  return nullptr;
}

void decode_offer(const struct sip_msg* msg, call_offer& offer) {
  offer.domain = lower_host(msg->from.uri.host);
  offer.caller = uri_user(msg->from.uri.user);
  offer.caller_name = to_string(msg->from.dname);
  offer.callee = uri_user(msg->uri.user);
  offer.to_user = uri_user(msg->to.uri.user);
  if (auto* privacy = sip_msg_xhdr(msg, "Privacy"))
    offer.privacy = to_string(privacy->val);
  decode_credentials(msg, SIP_HDR_PROXY_AUTHORIZATION, offer.auth);
  offer.sdp = body_of(msg);
  offer.max_forwards = pl_isset(&msg->maxfwd) ? pl_u32(&msg->maxfwd) : 70;
  offer.source = flow_of(msg);
  offer.user_agent = user_agent_of(msg);
}

std::string body_of(const struct sip_msg* msg) {
  if (!msg || !msg->mb || mbuf_get_left(msg->mb) == 0)
    return {};
  return std::string{reinterpret_cast<const char*>(mbuf_buf(msg->mb)), mbuf_get_left(msg->mb)};
}

namespace {

bool dialog_needs(enum sip_hdrid id) {
  switch (id) {
    case SIP_HDR_PROXY_AUTHORIZATION:
    case SIP_HDR_AUTHORIZATION:
    case SIP_HDR_USER_AGENT:
    case SIP_HDR_SUBJECT:
    case SIP_HDR_MAX_FORWARDS:
    case SIP_HDR_ACCEPT:
    case SIP_HDR_ACCEPT_ENCODING:
    case SIP_HDR_ACCEPT_LANGUAGE:
    case SIP_HDR_ALLOW_EVENTS:
    case SIP_HDR_ALERT_INFO:
    case SIP_HDR_CALL_INFO:
    case SIP_HDR_DATE:
    case SIP_HDR_ORGANIZATION:
    case SIP_HDR_PRIORITY:
    case SIP_HDR_P_ASSERTED_IDENTITY:
    case SIP_HDR_P_PREFERRED_IDENTITY:
    case SIP_HDR_PRIVACY:
    case SIP_HDR_NONE: // X-...
      return false;
    default:
      return true;
  }
}

} // namespace

struct sip_msg* dialog_copy(const struct sip_msg* msg) {
  if (!msg || !msg->req || !msg->mb)
    return nullptr;
  auto* mb = mbuf_alloc(mbuf_get_left(msg->mb) + 512);
  if (!mb)
    return nullptr;
  int err = mbuf_printf(mb, "%r %r %r\r\n", &msg->met, &msg->ruri, &msg->ver);
  // Every header line in order (a Via line of several values as one per value).
  for (auto* le = list_head(&msg->hdrl); le && !err; le = le->next) {
    auto* h = static_cast<const struct sip_hdr*>(le->data);
    if (dialog_needs(h->id))
      err = mbuf_printf(mb, "%r: %r\r\n", &h->name, &h->val);
  }
  if (!err)
    err = mbuf_write_mem(mb, reinterpret_cast<const uint8_t*>("\r\n"), 2);
  if (!err && mbuf_get_left(msg->mb))
    err = mbuf_write_mem(mb, mbuf_buf(msg->mb), mbuf_get_left(msg->mb));
  if (!err)
    err = mbuf_resize(mb, mb->end); // no slack: it lives as long as the dialog
  struct sip_msg* copy = nullptr;
  mb->pos = 0;
  if (!err)
    err = sip_msg_decode(&copy, mb);
  mem_deref(mb); // the copy holds it
  if (err)
    return nullptr;
  copy->src = msg->src;
  copy->dst = msg->dst;
  copy->tp = msg->tp;
  copy->tag = msg->tag;
  copy->sock = mem_ref(msg->sock); // a sip_msg releases its socket
  return copy;
}

} // namespace pbx::net
