#pragma once
// libre's rand_* served from a per-thread buffer of OpenSSL random bytes
// (net/random.cpp says why).

namespace pbx::net {

/// rand_* calls served on this thread so far (the start-up self-test sees
/// libre's own draws land here: net/self_test.cpp).
unsigned long random_draws();

} // namespace pbx::net
