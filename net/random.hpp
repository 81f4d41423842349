#pragma once
// libre's rand_* served from a per-thread buffer of OpenSSL random bytes
// (net/random.cpp says why).

namespace pbx::net {

/// True when libre's rand_* calls reach net/random.cpp (checked at start-up).
bool random_in_use();

} // namespace pbx::net
