// One UDP datagram the way the SIP thread takes it: libre's decoder (whose
// re_regex calls land in net/regex.cpp), then the request checks, then the
// translation of a REGISTER or an initial INVITE into its message.

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "net/regex.hpp"
#include "net/translate.hpp"

using namespace pbx;
using namespace pbx::net;

namespace {

// Parsed numbers are 32-bit values, or -1 when absent (registration.hpp).
bool expires_ok(std::int64_t e) {
  return e >= -1 && e <= 0xffffffffLL;
}

void take_request(const struct sip_msg* msg) {
  const char* reason = nullptr;
  int verdict = check_request(msg, &reason);
  // The statuses check_request answers with, and always a reason (sip_stack replies with it).
  if (!reason
      || (verdict != -1 && verdict != 0 && verdict != 400 && verdict != 416 && verdict != 420
          && verdict != 505))
    __builtin_trap();
  if (verdict != 0)
    return;
  if (pl_strcmp(&msg->met, "REGISTER") == 0) {
    register_request req;
    if (decode_register(msg, req) == nullptr) {
      if ((req.star && !req.contacts.empty()) || !expires_ok(req.expires))
        __builtin_trap();
      for (auto& c : req.contacts)
        if (!expires_ok(c.expires) || c.uri.empty())
          __builtin_trap();
    }
  } else if (pl_strcmp(&msg->met, "INVITE") == 0 && !msg->to.tag.p) {
    call_offer offer;
    decode_offer(msg, offer);
  }
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (libre_init() != 0) {
    std::fprintf(stderr, "libre_init failed\n");
    std::abort();
  }
  // Also links net/regex.cpp in: nothing else names it, libre reaches it by
  // its PLT. Proved by behaviour: libre's URI decoder must call ours.
  auto before = regex_calls();
  struct uri u;
  struct pl text;
  pl_set_str(&text, "sip:probe@example.test");
  if (uri_decode(&u, &text) != 0 || regex_calls() == before) {
    std::fprintf(stderr, "libre's re_regex is not net/regex.cpp's\n");
    std::abort();
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Exactly `size` bytes, so a read past the datagram hits ASan's redzone.
  struct mbuf* mb = mbuf_alloc(size > 0 ? size : 1);
  if (!mb || mbuf_write_mem(mb, data, size) != 0)
    std::abort();
  mb->pos = 0;
  struct sip_msg* msg = nullptr;
  if (sip_msg_decode(&msg, mb) == 0) {
    // What libre's UDP transport fills in before the request handler runs.
    sa_set_str(&msg->src, "192.0.2.7", 5062);
    msg->tp = SIP_TRANSP_UDP;
    if (msg->req)
      take_request(msg);
    mem_deref(msg);
  }
  mem_deref(mb);
  return 0;
}
