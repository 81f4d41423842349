// libre 1.1.0 writes a fixed "Max-Forwards: 70" into every request it builds
// (sip_drequestf, sip_requestf) with mbuf_write_str and offers no parameter,
// so a B leg would reset the caller's count and a loop through two PBXes
// would never end. A B2BUA passes the count on less one (RFC 3261 16.6 step 3,
// as a proxy does). Like net/timers.cpp this file defines a libre function,
// mbuf_write_str, that libre calls through its PLT: inside a
// max_forwards_scope that one header line is written with the scope's value.

#include "net/max_forwards.hpp"


#include <cerrno>
#include <cstring>

#include <re.h>

namespace {

constexpr char libre_line[] = "Max-Forwards: 70\r\n";
thread_local int override_value = -1;

} // namespace

extern "C" int mbuf_write_str(struct mbuf* mb, const char* str) {
  if (!str)
    return EINVAL;
  if (override_value >= 0 && str[0] == 'M' && std::strcmp(str, libre_line) == 0)
    return mbuf_printf(mb, "Max-Forwards: %d\r\n", override_value);
  return mbuf_write_mem(mb, reinterpret_cast<const uint8_t*>(str), std::strlen(str));
}

namespace pbx::net {

max_forwards_scope::max_forwards_scope(unsigned value) : saved_(override_value) {
  override_value = static_cast<int>(value > 255 ? 255 : value);
}

max_forwards_scope::~max_forwards_scope() {
  override_value = saved_;
}


} // namespace pbx::net
