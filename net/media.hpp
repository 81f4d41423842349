#pragma once
// The media plane's endpoints, for net/ and the tests only: an endpoint is
// one answered call's RTP (a UDP port of the configured range, the SDP
// answer, the jitter buffer, play and record), all on the thread that runs
// libre's loop. One 20 ms timer drives every endpoint. Events go to the
// endpoint's sink; net/media_legs.cpp ties endpoints to A legs and actors.
// No <re.h> here: tests/unit/media.test.cpp includes it beside its own.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "actors/messages/media.hpp"
#include "net/media_math.hpp"

namespace pbx::net::media {

using sink = std::function<void(media_event)>;

struct answer_result {
  std::uint16_t code = 0; // 200, or what the leg is rejected with (488, 503)
  std::string reason;
  std::string sdp;        // 200: our answer
  std::string codec;      // 200: PCMU or PCMA
};

class plane {
public:
  /// `ip`: the address the RTP sockets bind to (the SIP listen address's IP).
  plane(std::string ip, port_range ports);
  ~plane();
  plane(const plane&) = delete;
  plane& operator=(const plane&) = delete;

  /// Opens endpoint `leg` answering `offer` (PCMU, PCMA, telephone-event in
  /// the offer's order). On 200 the endpoint exists and reports to `events`.
  answer_result open(std::uint64_t leg, const std::string& offer, sink events);
  bool has(std::uint64_t leg) const;

  /// A re-INVITE's `offer` on endpoint `leg` (hold, resume, a new address or
  /// a session refresh), answered from the endpoint's SDP session: 200 with
  /// our answer (the codec in use kept when still offered, else the offer's
  /// first we have); 488 (nothing changes) when the offer has no codec of
  /// ours or cannot be decoded; 481 when there is no such endpoint. The
  /// direction holds from then on: the caller's sendonly or inactive (or a
  /// c=0.0.0.0 / port 0 hold) stops our RTP, a play going on unheard;
  /// sendrecv or recvonly resumes it.
  answer_result reoffer(std::uint64_t leg, const std::string& offer);
  /// Whether the endpoint sends RTP (false: on hold, or no such endpoint).
  bool sending(std::uint64_t leg) const;

  /// play, record, stop or close of an open endpoint (false: no such endpoint).
  bool command(const media_command& c);

  /// A digit from SIP INFO on the endpoint's leg (false: no such endpoint).
  bool digit(std::uint64_t leg, char d);

  /// The leg ended: a running record ends (record_done reason=hangup, the
  /// file closed first), then `hangup`; the endpoint is gone.
  void leg_gone(std::uint64_t leg);

  /// Closes every endpoint without events (shutdown).
  void close_all();

  std::size_t endpoints() const;
  std::size_t ports_in_use() const;
  std::uint16_t port_of(std::uint64_t leg) const; // 0 if none

  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

} // namespace pbx::net::media
