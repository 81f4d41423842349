// What libre's decoder lets through but RFC 3261 says a UAS must reject:
// missing or repeated mandatory headers, mismatched CSeq, bad versions,
// schemes we do not serve, out-of-range numbers, and broken name-addrs.

#include "net/translate.hpp"

#include <cctype>
#include <cstring>

namespace pbx::net {

namespace {

bool digits_fit_u32(const struct pl& v) {
  if (!pl_isset(&v) || v.l > 10)
    return false;
  uint64_t n = 0;
  for (size_t i = 0; i < v.l; ++i) {
    if (v.p[i] < '0' || v.p[i] > '9')
      return false;
    n = n * 10 + static_cast<uint64_t>(v.p[i] - '0');
  }
  return n <= 0xffffffffULL;
}

bool token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("-.!%*_+`'~", c);
}

// libre's name-addr decoder is lenient: it takes an unbalanced quote or an
// unquoted display name with separators. RFC 3261 25.1 allows a quoted
// string or tokens before '<'.
bool display_name_ok(const struct pl& val) {
  std::string v = to_string(val);
  bool quoted = false;
  std::size_t lt = std::string::npos;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (quoted && v[i] == '\\') {
      ++i;
    } else if (v[i] == '"') {
      quoted = !quoted;
    } else if (!quoted && v[i] == '<') {
      lt = i;
      break;
    }
  }
  if (quoted)
    return false;
  if (lt == std::string::npos)
    return true; // addr-spec form, no display name
  auto name = v.substr(0, lt);
  while (!name.empty() && std::isspace(static_cast<unsigned char>(name.back())))
    name.pop_back();
  if (name.empty() || name.front() == '"')
    return true;
  for (char c : name)
    if (!token_char(c) && c != ' ' && c != '\t')
      return false;
  return true;
}

// From and To were decoded by libre already; only the display name needs a look.
bool addr_ok(const struct sip_taddr& t) {
  return pl_isset(&t.auri) && display_name_ok(t.val);
}

bool check_contact(const struct sip_hdr* hdr, const struct sip_msg*, void* arg) {
  if (pl_strcmp(&hdr->val, "*") == 0)
    return false;
  struct sip_addr addr;
  if (!decode_contact(hdr, addr)) {
    *static_cast<bool*>(arg) = true;
    return true;
  }
  return false;
}

} // namespace

bool decode_contact(const struct sip_hdr* hdr, struct sip_addr& addr) {
  if (sip_addr_decode(&addr, &hdr->val) != 0 || !pl_isset(&addr.auri)
      || !display_name_ok(hdr->val))
    return false;
  // A URI with headers ('?') must sit inside <>.
  bool bracketed = addr.auri.p > hdr->val.p && addr.auri.p[-1] == '<';
  if (!bracketed && std::memchr(addr.auri.p, '?', addr.auri.l) != nullptr)
    return false;
  // Empty parameters (";;") are malformed.
  for (size_t i = 0; i < addr.params.l; ++i)
    if (addr.params.p[i] == ';' && (i + 1 == addr.params.l || addr.params.p[i + 1] == ';'))
      return false;
  return true;
}

namespace {

bool via_params_ok(const struct sip_msg* msg) {
  auto params = to_string(msg->via.params);
  return params.find(";;") == std::string::npos && params.find(",,") == std::string::npos
         && (params.empty() || params.back() != ';');
}

} // namespace

int check_request(const struct sip_msg* msg, const char** reason) {
  *reason = "Bad Request";
  if (pl_strcmp(&msg->ver, "SIP/2.0") != 0) {
    *reason = "Version Not Supported";
    return 505;
  }
  // Responses never reach here (request listener); keep the guard anyway.
  if (!msg->req)
    return -1;
  const enum sip_hdrid single[] = {SIP_HDR_FROM, SIP_HDR_TO, SIP_HDR_CALL_ID,
                                   SIP_HDR_CSEQ, SIP_HDR_MAX_FORWARDS,
                                   SIP_HDR_CONTENT_LENGTH, SIP_HDR_EXPIRES,
                                   SIP_HDR_CONTENT_TYPE};
  for (auto id : single) {
    auto n = sip_msg_hdr_count(msg, id);
    bool required = id == SIP_HDR_FROM || id == SIP_HDR_TO || id == SIP_HDR_CALL_ID
                    || id == SIP_HDR_CSEQ;
    if (n > 1 || (required && n == 0)) {
      *reason = n > 1 ? "Repeated Header" : "Missing Header";
      return 400;
    }
  }
  if (sip_msg_hdr_count(msg, SIP_HDR_VIA) == 0) {
    *reason = "Missing Via";
    return 400;
  }
  if (!via_params_ok(msg)) {
    *reason = "Bad Via";
    return 400;
  }
  if (pl_cmp(&msg->cseq.met, &msg->met) != 0) {
    *reason = "CSeq Method Mismatch";
    return 400;
  }
  // libre keeps only 32 bits of the number: look at its digits.
  auto* cseq = sip_msg_hdr(msg, SIP_HDR_CSEQ);
  struct pl num = cseq ? cseq->val : pl{};
  while (num.l > 0 && (*num.p == ' ' || *num.p == '\t')) {
    ++num.p;
    --num.l;
  }
  size_t digits = 0;
  while (digits < num.l && num.p[digits] >= '0' && num.p[digits] <= '9')
    ++digits;
  num.l = digits;
  if (!cseq || !digits_fit_u32(num)) {
    *reason = "Bad CSeq";
    return 400;
  }
  if (pl_isset(&msg->expires) && !digits_fit_u32(msg->expires)) {
    *reason = "Bad Expires";
    return 400;
  }
  if (pl_isset(&msg->maxfwd) && !digits_fit_u32(msg->maxfwd)) {
    *reason = "Bad Max-Forwards";
    return 400;
  }
  if (pl_isset(&msg->clen)) {
    if (!digits_fit_u32(msg->clen)) {
      *reason = "Bad Content-Length";
      return 400;
    }
    if (mbuf_get_left(msg->mb) < pl_u32(&msg->clen)) {
      *reason = "Content-Length Exceeds Body";
      return 400;
    }
  }
  if (!addr_ok(msg->from) || !addr_ok(msg->to)) {
    *reason = "Bad From or To";
    return 400;
  }
  // REGISTER's contacts are decoded (with the same checks) by the registrar endpoint.
  bool bad_contact = false;
  if (pl_strcmp(&msg->met, "REGISTER") != 0)
    sip_msg_hdr_apply(msg, true, SIP_HDR_CONTACT, check_contact, &bad_contact);
  if (bad_contact) {
    *reason = "Bad Contact";
    return 400;
  }
  if (pl_strcasecmp(&msg->uri.scheme, "sip") != 0
      && pl_strcasecmp(&msg->uri.scheme, "sips") != 0) {
    *reason = "Unsupported URI Scheme";
    return 416;
  }
  if (sip_msg_hdr(msg, SIP_HDR_REQUIRE) && pl_strcmp(&msg->met, "ACK") != 0
      && pl_strcmp(&msg->met, "CANCEL") != 0) {
    *reason = "Bad Extension";
    return 420;
  }
  return 0;
}

} // namespace pbx::net
