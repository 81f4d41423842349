#pragma once
// Messages of the media plane: what an actor asks of a media endpoint (an
// answered A leg whose RTP the node terminates, owned by net/ on the SIP
// thread) and what the endpoint reports back. The same plane serves
// voicemail today and IVR, recording, music on hold and conferences later.

#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/meta/type_name.hpp>

namespace pbx {

/// Actor -> SIP thread (through sip_port::media).
/// `answer` answers A leg `leg` with 200 and the node's own SDP (PCMU, PCMA,
/// telephone-event/8000 in the caller's order), opens RTP on a port of the
/// configured range and sends every media_event of the endpoint to `owner`.
/// `play` sends `files` (8 kHz mono PCM16 WAV) one after another, paced by
/// the 20 ms clock; a new play or record replaces what runs (no play_done for
/// the replaced one). `record` writes what the caller sends to `file` (WAV
/// PCM16 8 kHz mono; written, not yet fsync'd) until `max_ms`, `silence_ms`
/// of silence (0: off), `stop` or hang-up. `stop` ends a play or record (its
/// *_done follows). `close` ends the endpoint (no hangup event: the owner
/// hangs the leg up or knows it is gone).
struct media_command {
  enum class op : std::uint8_t { answer, play, record, stop, close };
  op what = op::play;
  std::uint64_t leg = 0;
  caf::actor owner;               // answer
  std::string sdp;                // answer: the caller's offer
  std::vector<std::string> files; // play
  std::string file;               // record
  std::uint32_t max_ms = 0;       // record
  std::uint32_t silence_ms = 0;   // record
  std::uint32_t id = 0;           // play/record: echoed by its *_done event
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, media_command& x) {
  return f(caf::meta::type_name("media_command"), x.what, x.leg, x.owner, x.sdp, x.files,
           x.file, x.max_ms, x.silence_ms, x.id);
}

/// SIP thread -> the endpoint's owner.
enum class media_event_kind : std::uint8_t {
  ready,       // answered; RTP flows (codec names the negotiated payload)
  failed,      // answer failed (no common codec, no port): the leg was rejected with `code`
  digit,       // RFC 4733 or SIP INFO application/dtmf-relay: `digit` (0-9 * # A-D)
  play_done,   // play `id` finished (`reason`: end | stopped | error)
  record_done, // record `id` ended (`reason`: max | silence | stopped | hangup | error)
  hangup,      // the leg ended (BYE, CANCEL, timeout): the endpoint is gone
};

struct media_event {
  std::uint64_t leg = 0;
  media_event_kind kind = media_event_kind::hangup;
  char digit = 0;
  std::uint32_t id = 0;
  std::uint16_t code = 0;
  std::string reason;
  std::string codec;              // ready: PCMU or PCMA
  std::string file;               // record_done
  std::uint32_t duration_ms = 0;  // record_done: audio kept in the file
  std::uint64_t packets = 0;      // record_done: RTP audio packets written
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, media_event& x) {
  return f(caf::meta::type_name("media_event"), x.leg, x.kind, x.digit, x.id, x.code, x.reason,
           x.codec, x.file, x.duration_ms, x.packets);
}

} // namespace pbx
