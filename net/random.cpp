// libre's random numbers, drawn from OpenSSL in blocks.
//
// libre 1.1.0 asks OpenSSL's RAND_bytes for every rand_u32 (rand_u64 asks
// twice). Every reply without a To tag, every branch and Call-ID draws one,
// and each RAND_bytes call takes the DRBG's lock and reseed checks: 5% of the
// SIP thread under REGISTER load (bench/README.md). This file defines libre's
// rand_u16/u32/u64 and rand_bytes, which libre calls through its PLT, so they
// land here (proved at start-up by net/self_test.cpp). The bytes are still
// OpenSSL's CSPRNG output, only fetched 512 at a time per thread. The node
// never forks after start-up, so no two processes share a buffer.

#include "net/random.hpp"


#include <cstdint>
#include <cstdlib>
#include <cstring>

#include <openssl/rand.h>

namespace {

struct pool {
  unsigned char buf[512];
  std::size_t left = 0;
};

thread_local pool tl_pool;
thread_local unsigned long tl_draws = 0;

void take(void* out, std::size_t n) {
  ++tl_draws;
  auto* dst = static_cast<unsigned char*>(out);
  auto& p = tl_pool;
  while (n > 0) {
    if (p.left == 0) {
      // Without randomness tags and branches could repeat: stop rather than guess.
      if (RAND_bytes(p.buf, sizeof(p.buf)) != 1)
        std::abort();
      p.left = sizeof(p.buf);
    }
    auto k = n < p.left ? n : p.left;
    std::memcpy(dst, p.buf + sizeof(p.buf) - p.left, k);
    std::memset(p.buf + sizeof(p.buf) - p.left, 0, k); // served bytes don't linger
    p.left -= k;
    dst += k;
    n -= k;
  }
}

} // namespace

extern "C" {

uint16_t rand_u16(void) {
  uint16_t v;
  take(&v, sizeof(v));
  return v;
}

uint32_t rand_u32(void) {
  uint32_t v;
  take(&v, sizeof(v));
  return v;
}

uint64_t rand_u64(void) {
  uint64_t v;
  take(&v, sizeof(v));
  return v;
}

void rand_bytes(uint8_t* p, size_t size) {
  take(p, size);
}

} // extern "C"

namespace pbx::net {

unsigned long random_draws() {
  return tl_draws;
}

} // namespace pbx::net
