#pragma once
// The media plane's arithmetic, without libre, librem or CAF: the RTP port
// pool, the 20 ms clock's schedule, the recorder's decisions (silence, max,
// lost packets) and the SIP INFO DTMF bodies. net/media.cpp applies them to
// sockets and files; tests/unit/media_math.test.cpp drives them directly.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pbx::net::media {

/// Samples of one 20 ms frame at 8 kHz.
constexpr std::uint32_t frame_samples = 160;
constexpr std::uint32_t frame_ms = 20;

/// "LO-HI" (e.g. "10000-20000"): an inclusive UDP port range holding at
/// least one even port; std::nullopt when malformed.
struct port_range {
  std::uint16_t lo = 10000;
  std::uint16_t hi = 20000;
};
std::optional<port_range> parse_port_range(std::string_view text);

/// Even RTP ports of a range (RTCP would be port+1: it stays unused, so it is
/// never handed out either). Round-robin, so a port just released is the last
/// to come back (late packets of the old call do not reach the next one).
class port_pool {
public:
  explicit port_pool(port_range r);

  /// The next free port, now taken; std::nullopt when all are taken.
  std::optional<std::uint16_t> take();
  /// Gives a taken port back (a port that was busy at bind time included).
  void release(std::uint16_t port);
  std::size_t size() const { return used_.size(); }
  std::size_t in_use() const { return taken_; }

private:
  std::uint16_t first_;
  std::vector<bool> used_; // by (port - first_) / 2
  std::size_t next_ = 0;
  std::size_t taken_ = 0;
};

/// The 20 ms clock: tick n is due at start + n * 20 ms (no drift from late
/// wake-ups); after a stall at most `max_catch_up` ticks run at once and the
/// rest are skipped. Times are milliseconds of a monotonic clock.
class frame_clock {
public:
  explicit frame_clock(std::uint32_t max_catch_up = 3) : max_catch_up_(max_catch_up) {}

  void start(std::int64_t now_ms);
  /// How many ticks to run at `now_ms` (0 when woken early).
  std::uint32_t due(std::int64_t now_ms);
  /// Milliseconds until the next tick is due (0: already due).
  std::int64_t delay(std::int64_t now_ms) const;
  std::uint64_t ticks() const { return done_; }
  std::uint64_t skipped() const { return skipped_; }

private:
  std::uint32_t max_catch_up_;
  std::int64_t start_ = 0;
  std::uint64_t done_ = 0;
  std::uint64_t skipped_ = 0;
};

/// Mean square of a block of PCM16 samples (0 for an empty block).
double frame_energy(const std::int16_t* pcm, std::size_t n);

/// Samples missing between the audio expected next (`expected_ts`, RTP
/// timestamp units = samples) and a packet stamped `ts`: 0 when it follows
/// on (or is older, or jumps more than `max_gap` samples: a new timeline,
/// not a loss to fill).
std::uint32_t timestamp_gap(std::uint32_t expected_ts, std::uint32_t ts, std::uint32_t max_gap);

/// A recording's decisions. Audio goes in packet by packet (and lost audio
/// as silence); what may go to the file comes out. A silent stretch is held
/// back until sound follows it, so a recording that ends on `silence_ms` of
/// silence leaves that silence out of the file: the file is exactly the
/// audio kept, and duration_ms() its length.
class recorder {
public:
  enum class end { none, max, silence };

  struct limits {
    std::uint32_t max_ms = 0;      // 0: no limit
    std::uint32_t silence_ms = 0;  // 0: no silence detection
    double threshold = 200.0 * 200.0; // mean square under this is silence (~ -44 dBFS)
  };

  explicit recorder(limits l) : lim_(l) {}

  /// One packet's samples (`packet`) or a lost stretch written as silence
  /// (`!packet`, pcm ignored: zeros). Appends to `out` what goes to the file
  /// now; returns why the recording ends, if it does with this input (then
  /// nothing more goes in).
  end feed(const std::int16_t* pcm, std::size_t n, bool packet, std::vector<std::int16_t>& out);
  /// The recording ends for another reason (stop, hang-up): the held-back
  /// silence goes to the file too.
  void finish(std::vector<std::int16_t>& out);

  std::uint64_t samples() const { return kept_; }
  std::uint64_t packets() const { return packets_; }
  std::uint32_t duration_ms() const { return static_cast<std::uint32_t>(kept_ / 8); }
  bool ended() const { return ended_; }

private:
  void flush(std::vector<std::int16_t>& out);
  limits lim_;
  std::vector<std::int16_t> held_; // the current silent stretch
  std::uint64_t held_packets_ = 0;
  std::uint64_t kept_ = 0;
  std::uint64_t packets_ = 0;
  bool ended_ = false;
};

/// The digit of a SIP INFO body: `application/dtmf-relay` ("Signal=5",
/// "Signal=#" or "Signal=11") or `application/dtmf` ("5"); 0 if none.
char info_digit(std::string_view content_type, std::string_view body);

/// Whether a SIP INFO of this Content-Type carries a digit for the plane.
bool is_dtmf_info(std::string_view content_type);

} // namespace pbx::net::media
