#include <catch2/catch.hpp>

#include <cstring>
#include <string>

#include "net/translate.hpp"

using namespace pbx::net;

namespace {

// An INVITE as a phone sends it after a 407: credentials and chatter around what
// the dialog needs, a Via line of two values, and an SDP body.
const char invite_text[] =
  "INVITE sip:102@pbx.example.test SIP/2.0\r\n"
  "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-top;rport, SIP/2.0/UDP 192.0.2.11;branch=z9hG4bK-2\r\n"
  "Via: SIP/2.0/UDP 192.0.2.12;branch=z9hG4bK-3\r\n"
  "Record-Route: <sip:192.0.2.11;lr>\r\n"
  "Max-Forwards: 69\r\n"
  "From: \"Alice\" <sip:101@pbx.example.test>;tag=from-tag-1\r\n"
  "To: <sip:102@pbx.example.test>\r\n"
  "Call-ID: call-id-1@192.0.2.10\r\n"
  "CSeq: 2 INVITE\r\n"
  "Contact: <sip:101@192.0.2.10:5060>\r\n"
  "Proxy-Authorization: Digest username=\"101\", realm=\"pbx.example.test\", nonce=\"abc\", "
  "uri=\"sip:102@pbx.example.test\", response=\"0123456789abcdef0123456789abcdef\"\r\n"
  "User-Agent: Phone 1.0\r\n"
  "Supported: replaces, 100rel\r\n"
  "X-Custom: something\r\n"
  "Subject: hello\r\n"
  "Content-Type: application/sdp\r\n"
  "Content-Length: 13\r\n"
  "\r\n"
  "v=0\r\no=- 1 1\r\n";

struct sip_msg* decode(const char* text) {
  auto* mb = mbuf_alloc(std::strlen(text));
  mbuf_write_mem(mb, reinterpret_cast<const uint8_t*>(text), std::strlen(text));
  mb->pos = 0;
  struct sip_msg* msg = nullptr;
  int err = sip_msg_decode(&msg, mb);
  mem_deref(mb);
  REQUIRE(err == 0);
  return msg;
}

} // namespace

TEST_CASE("an INVITE's dialog copy keeps what the dialog reads and drops the rest") {
  auto* msg = decode(invite_text);
  auto* sock = mem_zalloc(8, nullptr); // stands for the socket a message holds
  msg->sock = sock;
  REQUIRE(sa_set_str(&msg->src, "192.0.2.10", 5060) == 0);
  REQUIRE(sa_set_str(&msg->dst, "192.0.2.1", 5060) == 0);
  msg->tp = SIP_TRANSP_UDP;
  msg->tag = 42;

  auto* copy = dialog_copy(msg);
  REQUIRE(copy != nullptr);
  CHECK(pl_strcmp(&copy->met, "INVITE") == 0);
  CHECK(pl_strcmp(&copy->ruri, "sip:102@pbx.example.test") == 0);
  // every Via value, in order, the top one parsed
  CHECK(sip_msg_hdr_count(copy, SIP_HDR_VIA) == 3);
  CHECK(pl_strcmp(&copy->via.branch, "z9hG4bK-top") == 0);
  CHECK(sip_msg_hdr(copy, SIP_HDR_RECORD_ROUTE) != nullptr);
  CHECK(sip_msg_hdr(copy, SIP_HDR_CONTACT) != nullptr);
  CHECK(sip_msg_hdr_has_value(copy, SIP_HDR_SUPPORTED, "100rel"));
  CHECK(pl_strcmp(&copy->from.tag, "from-tag-1") == 0);
  CHECK(pl_strcmp(&copy->callid, "call-id-1@192.0.2.10") == 0);
  CHECK(copy->cseq.num == 2);
  CHECK(msg_ctype_cmp(&copy->ctyp, "application", "sdp"));
  CHECK(body_of(copy) == "v=0\r\no=- 1 1\r\n");
  // what no dialog reads is gone
  CHECK(sip_msg_hdr(copy, SIP_HDR_PROXY_AUTHORIZATION) == nullptr);
  CHECK(sip_msg_hdr(copy, SIP_HDR_USER_AGENT) == nullptr);
  CHECK(sip_msg_hdr(copy, SIP_HDR_MAX_FORWARDS) == nullptr);
  CHECK(sip_msg_hdr(copy, SIP_HDR_SUBJECT) == nullptr);
  CHECK(sip_msg_xhdr(copy, "X-Custom") == nullptr);
  CHECK(copy->mb->size < msg->mb->size);
  // the same socket and addresses, the socket held by the copy too
  CHECK(copy->sock == sock);
  CHECK(sa_cmp(&copy->src, &msg->src, SA_ALL));
  CHECK(sa_cmp(&copy->dst, &msg->dst, SA_ALL));
  CHECK(copy->tp == SIP_TRANSP_UDP);
  CHECK(copy->tag == 42);
  CHECK(mem_nrefs(sock) == 2);
  mem_deref(msg);
  CHECK(mem_nrefs(sock) == 1);
  mem_deref(copy);
}

TEST_CASE("no dialog copy of a response") {
  auto* msg = decode("SIP/2.0 200 OK\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n");
  CHECK(dialog_copy(msg) == nullptr);
  mem_deref(msg);
}

TEST_CASE("a dialog copy keeps a folded header whole") {
  auto* msg = decode("INVITE sip:102@pbx.example.test SIP/2.0\r\n"
                     "Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK-f\r\n"
                     "From: <sip:101@pbx.example.test>;tag=t\r\n"
                     "To: <sip:102@pbx.example.test>\r\n"
                     "Call-ID: folded@192.0.2.10\r\n"
                     "CSeq: 1 INVITE\r\n"
                     "Contact: <sip:101@192.0.2.10>\r\n"
                     "Supported: replaces,\r\n 100rel\r\n"
                     "User-Agent: a\r\n b\r\n"
                     "Content-Length: 0\r\n"
                     "\r\n");
  auto* copy = dialog_copy(msg);
  REQUIRE(copy != nullptr);
  CHECK(sip_msg_hdr_has_value(copy, SIP_HDR_SUPPORTED, "100rel"));
  CHECK(sip_msg_hdr(copy, SIP_HDR_USER_AGENT) == nullptr);
  CHECK(pl_strcmp(&copy->callid, "folded@192.0.2.10") == 0);
  CHECK(body_of(copy).empty());
  mem_deref(copy);
  mem_deref(msg);
}
