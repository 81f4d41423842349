// The media plane's endpoints: libre's sdp, rtp, jbuf and telev, librem's
// aufile and g711, on the SIP thread. The decisions (ports, clock, silence,
// max) are net/media_math's; this file applies them to sockets and files.
//
// RTP: one even port per endpoint from the range, bound to the SIP address's
// IP; libre's rtp_listen also binds port+1 for RTCP, which we neither send
// nor read. Packets go to the offer's c=/m= address (no latching onto the
// source: SIPp and phones may send from another port than they receive on).
// Received audio goes through a jitter buffer only while a record runs.

#include "net/media.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <unordered_map>

#include <re.h>
#include <rem.h>
#undef MIN
#undef MAX

#include "engine/log.hpp"

namespace pbx::net::media {

namespace {

// Jitter buffer: `jb_keep` packets stay buffered (reordering room) while
// the stream runs; up to `jb_pull` leave per tick (packets of 30 ms or a
// sender's faster clock are absorbed); all of them leave when the record ends.
constexpr std::uint32_t jb_max = 32;
constexpr std::uint32_t jb_keep = 4;
constexpr std::uint32_t jb_pull = 4;
constexpr std::uint32_t max_packet_samples = 1024;
constexpr std::uint32_t max_gap_samples = 5 * 8000; // more: a new timeline, not a loss

std::int64_t mono_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

enum class law : std::uint8_t { pcmu, pcma };

std::int16_t decode(std::uint8_t pt, std::uint8_t b) {
  return pt == 0 ? g711_ulaw2pcm(b) : g711_alaw2pcm(b);
}

} // namespace

struct endpoint {
  plane::impl* owner = nullptr;
  std::uint64_t leg = 0;
  sink events;
  struct rtp_sock* rtp = nullptr;
  std::uint16_t port = 0;
  struct sa remote {};
  // The SDP session of the first answer: a re-INVITE's offer is decoded into
  // it and answered from it (same o= id, the version counts up).
  struct sdp_session* sess = nullptr;
  struct sdp_media* sdpm = nullptr;
  bool sending = true;   // false while the caller holds (sendonly, inactive)
  law codec = law::pcmu;
  std::uint8_t pt = 0;   // our audio payload type
  int te_pt = -1;        // telephone-event, as the offer numbers it
  struct telev* tel = nullptr;
  bool te_seen = false;
  std::uint32_t te_ts = 0; // RTP timestamp of the last reported event
  struct mbuf* tx = nullptr;
  std::uint32_t ts = 0;  // our RTP clock, 160 per tick whether we send or not
  struct {
    bool active = false;
    std::uint32_t id = 0;
    std::vector<std::string> files;
    std::size_t next = 0;
    struct aufile* af = nullptr;
    bool marker = false;
  } play;
  struct {
    bool active = false;
    std::uint32_t id = 0;
    std::string file;
    struct aufile* af = nullptr;
    recorder logic{recorder::limits{}};
    bool have_expected = false;
    std::uint32_t expected_ts = 0;
    std::uint32_t ticks = 0, quiet_ticks = 0; // since the start, since the last audio packet
    std::uint32_t max_ms = 0, silence_ms = 0;
  } rec;
  struct jbuf* jb = nullptr;
  std::uint32_t buffered = 0; // packets in jb (jbuf keeps no count we can read)
  std::vector<std::int16_t> out; // scratch: samples bound for the file

  void emit(media_event e) {
    e.leg = leg;
    if (events)
      events(std::move(e));
  }
};

struct plane::impl {
  std::string ip;
  port_pool ports;
  std::unordered_map<std::uint64_t, std::unique_ptr<endpoint>> eps;
  struct tmr clock_tmr {};
  frame_clock clock;
  bool clock_running = false;

  impl(std::string addr, port_range r) : ip(std::move(addr)), ports(r) { tmr_init(&clock_tmr); }

  void start_clock();
  void stop_clock() {
    tmr_cancel(&clock_tmr);
    clock_running = false;
  }
  void destroy(endpoint* ep);
};

namespace {

// -- play

void play_close(endpoint* ep) {
  ep->play.af = static_cast<struct aufile*>(mem_deref(ep->play.af));
  ep->play.active = false;
  ep->play.files.clear();
}

void play_done(endpoint* ep, const char* reason) {
  media_event e;
  e.kind = media_event_kind::play_done;
  e.id = ep->play.id;
  e.reason = reason;
  play_close(ep);
  ep->emit(std::move(e));
}

// Opens the next file of the play; false (warning logged) if it cannot be read.
bool play_open_next(endpoint* ep) {
  auto& p = ep->play;
  const auto& file = p.files[p.next++];
  struct aufile_prm prm {};
  if (int err = aufile_open(&p.af, &prm, file.c_str(), AUFILE_READ)) {
    log::warn("media: leg ", ep->leg, ": cannot play '", file, "': ", strerror(err));
    p.af = nullptr;
    return false;
  }
  if (prm.srate != 8000 || prm.channels != 1 || prm.fmt != AUFMT_S16LE) {
    log::warn("media: leg ", ep->leg, ": '", file, "' is not 8 kHz mono PCM16 (", prm.srate,
              " Hz, ", unsigned{prm.channels}, " channels)");
    p.af = static_cast<struct aufile*>(mem_deref(p.af));
    return false;
  }
  return true;
}

void send_frame(endpoint* ep, const std::int16_t* pcm) {
  auto* mb = ep->tx;
  mb->pos = mb->end = RTP_HEADER_SIZE;
  auto* dst = mbuf_buf(mb);
  if (mbuf_get_space(mb) < frame_samples)
    return;
  for (std::uint32_t i = 0; i < frame_samples; ++i)
    dst[i] = ep->codec == law::pcmu ? g711_pcm2ulaw(pcm[i]) : g711_pcm2alaw(pcm[i]);
  mb->end = RTP_HEADER_SIZE + frame_samples;
  if (!ep->sending)
    return; // on hold: the play goes on unheard, nothing goes out
  int err = rtp_send(ep->rtp, &ep->remote, false, ep->play.marker, ep->pt, ep->ts, mb);
  if (err)
    log::debug("media: leg ", ep->leg, ": RTP send: ", strerror(err));
  ep->play.marker = false;
}

void play_tick(endpoint* ep) {
  auto& p = ep->play;
  std::int16_t pcm[frame_samples];
  std::size_t got = 0;
  while (got < frame_samples) {
    if (!p.af) {
      if (p.next >= p.files.size())
        break;
      if (!play_open_next(ep)) {
        play_done(ep, "error");
        return;
      }
    }
    std::size_t sz = (frame_samples - got) * sizeof(std::int16_t);
    if (aufile_read(p.af, reinterpret_cast<std::uint8_t*>(pcm + got), &sz) != 0 || sz == 0) {
      p.af = static_cast<struct aufile*>(mem_deref(p.af)); // this file is done
      continue;
    }
    got += sz / sizeof(std::int16_t);
  }
  if (got > 0) {
    std::fill(pcm + got, pcm + frame_samples, 0);
    send_frame(ep, pcm);
  }
  if (got < frame_samples)
    play_done(ep, "end");
}

// -- record

void rec_write(endpoint* ep) {
  auto& r = ep->rec;
  if (ep->out.empty())
    return;
  if (r.af) {
    int err = aufile_write(r.af, reinterpret_cast<const std::uint8_t*>(ep->out.data()),
                           ep->out.size() * sizeof(std::int16_t));
    if (err) {
      log::warn("media: leg ", ep->leg, ": cannot write '", r.file, "': ", strerror(err));
      r.af = static_cast<struct aufile*>(mem_deref(r.af));
    }
  }
  ep->out.clear();
}

void rec_done(endpoint* ep, const char* reason);

// One packet from the jitter buffer into the recording; false when the
// recording ended with it (max or silence).
bool rec_packet(endpoint* ep, const struct rtp_header& hdr, struct mbuf* mb) {
  auto& r = ep->rec;
  std::int16_t pcm[max_packet_samples];
  auto n = std::min<std::size_t>(mbuf_get_left(mb), max_packet_samples);
  const auto* p = mbuf_buf(mb);
  for (std::size_t i = 0; i < n; ++i)
    pcm[i] = decode(hdr.pt, p[i]);
  auto end = recorder::end::none;
  if (r.have_expected)
    if (auto gap = timestamp_gap(r.expected_ts, hdr.ts, max_gap_samples))
      end = r.logic.feed(nullptr, gap, false, ep->out); // lost: silence keeps the timing
  if (end == recorder::end::none)
    end = r.logic.feed(pcm, n, true, ep->out);
  r.expected_ts = hdr.ts + static_cast<std::uint32_t>(n);
  r.have_expected = true;
  rec_write(ep);
  if (end == recorder::end::max)
    rec_done(ep, "max");
  else if (end == recorder::end::silence)
    rec_done(ep, "silence");
  return end == recorder::end::none;
}

// Takes one packet from the jitter buffer into the recording; false when
// there was none or the recording ended.
bool rec_pull(endpoint* ep) {
  struct rtp_header hdr;
  void* mem = nullptr;
  int err = jbuf_get(ep->jb, &hdr, &mem);
  if (err && err != EAGAIN) {
    ep->buffered = 0;
    return false;
  }
  if (ep->buffered)
    --ep->buffered;
  auto* mb = static_cast<struct mbuf*>(mem);
  bool more = mb ? rec_packet(ep, hdr, mb) : true;
  mem_deref(mb);
  return more;
}

void rec_end(endpoint* ep, const char* reason);

void rec_tick(endpoint* ep) {
  for (std::uint32_t i = 0; i < jb_pull && ep->rec.active && ep->buffered > jb_keep; ++i)
    if (!rec_pull(ep))
      break;
  auto& r = ep->rec;
  if (!r.active)
    return;
  // A caller that sends nothing (DTX, a muted or one-way phone) is silent
  // too, and the maximum holds by the clock when no packet comes to count it.
  ++r.ticks;
  ++r.quiet_ticks;
  if (r.silence_ms && r.quiet_ticks * frame_ms >= r.silence_ms)
    rec_end(ep, "silence");
  else if (r.max_ms && r.ticks * frame_ms >= r.max_ms + 1000)
    rec_end(ep, "max");
}

void rec_close(endpoint* ep) {
  ep->rec.af = static_cast<struct aufile*>(mem_deref(ep->rec.af)); // writes the WAV header
  ep->rec.active = false;
  jbuf_flush(ep->jb);
  ep->buffered = 0;
}

// The recording ends: what is buffered goes in first (stop, hang-up), the
// file is closed, then record_done.
void rec_end(endpoint* ep, const char* reason) {
  auto& r = ep->rec;
  while (r.active && rec_pull(ep)) {
  }
  if (!r.active)
    return; // ended by max or silence meanwhile
  rec_done(ep, reason);
}

void rec_done(endpoint* ep, const char* reason) {
  auto& r = ep->rec;
  r.logic.finish(ep->out);
  rec_write(ep);
  bool write_failed = !r.af;
  rec_close(ep);
  media_event e;
  e.kind = media_event_kind::record_done;
  e.id = r.id;
  e.reason = write_failed ? "error" : reason;
  e.file = r.file;
  e.duration_ms = r.logic.duration_ms();
  e.packets = r.logic.packets();
  ep->emit(std::move(e));
}

// -- receive

void on_telev(endpoint* ep, const struct rtp_header* hdr, struct mbuf* mb) {
  int event = 0;
  bool end = false;
  if (telev_recv(ep->tel, mb, &event, &end) != 0)
    return;
  // Every packet of one event carries its start timestamp: once per event,
  // whether its first packets or only its end arrived.
  if (ep->te_seen && ep->te_ts == hdr->ts)
    return;
  ep->te_seen = true;
  ep->te_ts = hdr->ts;
  int d = telev_code2digit(event);
  if (d < 0)
    return;
  media_event e;
  e.kind = media_event_kind::digit;
  e.digit = static_cast<char>(d);
  ep->emit(std::move(e));
}

void rtp_handler(const struct sa*, const struct rtp_header* hdr, struct mbuf* mb, void* arg) {
  auto* ep = static_cast<endpoint*>(arg);
  if (ep->te_pt >= 0 && hdr->pt == ep->te_pt) {
    on_telev(ep, hdr, mb);
    return;
  }
  if (!ep->rec.active || (hdr->pt != 0 && hdr->pt != 8) || mbuf_get_left(mb) == 0)
    return;
  // The buffer holds a reference to the packet's mbuf (libre allocates one per read).
  ep->rec.quiet_ticks = 0;
  if (jbuf_put(ep->jb, hdr, mb) == 0)
    ep->buffered = std::min(ep->buffered + 1, jb_max);
}

// -- the clock

void clock_handler(void* arg) {
  auto* p = static_cast<plane::impl*>(arg);
  auto now = mono_ms();
  auto n = p->clock.due(now);
  for (std::uint32_t i = 0; i < n; ++i)
    for (auto& [leg, ep] : p->eps) {
      if (ep->play.active)
        play_tick(ep.get());
      if (ep->rec.active)
        rec_tick(ep.get());
      ep->ts += frame_samples;
    }
  if (p->eps.empty()) {
    p->clock_running = false;
    return;
  }
  tmr_start(&p->clock_tmr, static_cast<std::uint64_t>(p->clock.delay(mono_ms())), clock_handler,
            p);
}

// The offer's first audio codec we have (its order wins) and its
// telephone-event payload type. `keep`: a re-INVITE keeps the codec in use
// when the new offer still has it.
struct choice {
  law codec = law::pcmu;
  std::uint8_t pt = 0;
  int te_pt = -1;
};

bool negotiate(struct sdp_media* m, choice& c, const choice* keep = nullptr) {
  bool found = false, kept = false;
  c.te_pt = -1;
  for (auto* le = list_head(sdp_media_format_lst(m, false)); le; le = le->next) {
    auto* f = static_cast<const struct sdp_format*>(le->data);
    if (!f->sup || !f->name)
      continue;
    bool pcmu = str_casecmp(f->name, "PCMU") == 0;
    if (pcmu || str_casecmp(f->name, "PCMA") == 0) {
      auto l = pcmu ? law::pcmu : law::pcma;
      if (keep && !kept && l == keep->codec) {
        kept = found = true;
        c.codec = l;
        c.pt = static_cast<std::uint8_t>(f->pt);
      } else if (!found) {
        found = true;
        c.codec = l;
        c.pt = static_cast<std::uint8_t>(f->pt);
      }
    } else if (c.te_pt < 0 && str_casecmp(f->name, telev_rtpfmt) == 0) {
      c.te_pt = f->pt;
    }
  }
  return found;
}

const char* codec_name(law l) { return l == law::pcmu ? "PCMU" : "PCMA"; }

// Whether we send, from the negotiated direction (libre keeps the offer's
// direction from our side: its sendonly is our recvonly) and the address:
// c=0.0.0.0 or port 0 (RFC 2543 hold, a disabled stream) sends nothing.
bool may_send(struct sdp_media* m) {
  return (sdp_media_dir(m) & SDP_SENDONLY) && sa_isset(sdp_media_raddr(m), SA_ALL);
}

struct mbuf* text_mbuf(const std::string& text) {
  auto* mb = mbuf_alloc(text.size() + 1);
  if (!mb)
    return nullptr;
  mbuf_write_mem(mb, reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
  mb->pos = 0;
  return mb;
}

// Binds the endpoint's RTP socket on the first free port of the range.
bool bind_port(plane::impl& p, endpoint* ep) {
  struct sa ip;
  if (sa_set_str(&ip, p.ip.c_str(), 0) != 0)
    return false;
  for (std::size_t tries = 0; tries < p.ports.size(); ++tries) {
    auto port = p.ports.take();
    if (!port)
      return false;
    int err = rtp_listen(&ep->rtp, IPPROTO_UDP, &ip, *port, static_cast<std::uint16_t>(*port + 1),
                         false, rtp_handler, nullptr, ep);
    if (!err) {
      ep->port = *port;
      return true;
    }
    ep->rtp = nullptr;
    p.ports.release(*port); // busy (another program): the round robin moves past it
  }
  return false;
}

void free_endpoint(plane::impl& p, endpoint* ep) {
  ep->sess = static_cast<struct sdp_session*>(mem_deref(ep->sess)); // frees sdpm too
  ep->sdpm = nullptr;
  ep->play.af = static_cast<struct aufile*>(mem_deref(ep->play.af));
  ep->rec.af = static_cast<struct aufile*>(mem_deref(ep->rec.af));
  ep->rtp = static_cast<struct rtp_sock*>(mem_deref(ep->rtp));
  ep->jb = static_cast<struct jbuf*>(mem_deref(ep->jb));
  ep->tel = static_cast<struct telev*>(mem_deref(ep->tel));
  ep->tx = static_cast<struct mbuf*>(mem_deref(ep->tx));
  if (ep->port)
    p.ports.release(ep->port);
  ep->port = 0;
}

} // namespace

void plane::impl::start_clock() {
  if (clock_running)
    return;
  clock_running = true;
  clock.start(mono_ms());
  tmr_start(&clock_tmr, 0, clock_handler, this);
}

void plane::impl::destroy(endpoint* ep) {
  free_endpoint(*this, ep);
  auto leg = ep->leg;
  eps.erase(leg); // deletes ep
  if (eps.empty())
    stop_clock();
}

plane::plane(std::string ip, port_range ports)
    : impl_(std::make_unique<impl>(std::move(ip), ports)) {
}

plane::~plane() {
  close_all();
}

answer_result plane::open(std::uint64_t leg, const std::string& offer, sink events) {
  answer_result res;
  auto& p = *impl_;
  if (p.eps.count(leg)) {
    res.code = 481;
    res.reason = "Call Leg/Transaction Does Not Exist";
    return res;
  }
  auto ep = std::make_unique<endpoint>();
  ep->owner = impl_.get();
  ep->leg = leg;
  ep->events = std::move(events);
  struct sdp_session* sess = nullptr;
  struct sdp_media* m = nullptr;
  struct mbuf* offer_mb = nullptr;
  struct mbuf* answer_mb = nullptr;
  auto fail = [&](std::uint16_t code, const char* reason) {
    res.code = code;
    res.reason = reason;
    mem_deref(answer_mb);
    mem_deref(offer_mb);
    mem_deref(sess);
    free_endpoint(p, ep.get());
    return res;
  };
  if (offer.empty())
    return fail(488, "Not Acceptable Here");
  if (!bind_port(p, ep.get())) {
    log::warn("media: leg ", leg, ": no free RTP port in the range");
    return fail(503, "Service Unavailable");
  }
  int err = sdp_session_alloc(&sess, rtp_local(ep->rtp));
  if (!err)
    err = sdp_media_add(&m, sess, "audio", ep->port, "RTP/AVP");
  // Our formats; libre answers with those the offer has, in the offer's order.
  if (!err)
    err = sdp_format_add(nullptr, m, false, "0", "PCMU", 8000, 1, nullptr, nullptr, nullptr,
                         false, nullptr);
  if (!err)
    err = sdp_format_add(nullptr, m, false, "8", "PCMA", 8000, 1, nullptr, nullptr, nullptr,
                         false, nullptr);
  if (!err)
    err = sdp_format_add(nullptr, m, false, "101", telev_rtpfmt, 8000, 1, nullptr, nullptr,
                         nullptr, false, "0-15");
  if (err)
    return fail(500, "Server Internal Error");
  offer_mb = text_mbuf(offer);
  if (!offer_mb || sdp_decode(sess, offer_mb, true) != 0)
    return fail(488, "Not Acceptable Here");
  choice c;
  if (!negotiate(m, c) || !sa_isset(sdp_media_raddr(m), SA_ALL))
    return fail(488, "Not Acceptable Here");
  ep->codec = c.codec;
  ep->pt = c.pt;
  ep->te_pt = c.te_pt;
  ep->remote = *sdp_media_raddr(m);
  ep->sending = may_send(m);
  if (sdp_encode(&answer_mb, sess, false) != 0)
    return fail(500, "Server Internal Error");
  res.sdp.assign(reinterpret_cast<const char*>(answer_mb->buf), answer_mb->end);
  err = jbuf_alloc(&ep->jb, 0, jb_max);
  if (!err)
    err = telev_alloc(&ep->tel, TELEV_PTIME);
  ep->tx = mbuf_alloc(RTP_HEADER_SIZE + frame_samples);
  if (err || !ep->tx)
    return fail(500, "Server Internal Error");
  mem_deref(answer_mb);
  mem_deref(offer_mb);
  ep->sess = sess; // kept for re-INVITEs
  ep->sdpm = m;
  ep->ts = rand_u32();
  res.code = 200;
  res.reason = "OK";
  res.codec = codec_name(c.codec);
  p.eps.emplace(leg, std::move(ep));
  p.start_clock();
  return res;
}

answer_result plane::reoffer(std::uint64_t leg, const std::string& offer) {
  answer_result res;
  auto i = impl_->eps.find(leg);
  if (i == impl_->eps.end()) {
    res.code = 481;
    res.reason = "Call Leg/Transaction Does Not Exist";
    return res;
  }
  auto* ep = i->second.get();
  auto reject = [&](std::uint16_t code, const char* reason) {
    res.code = code;
    res.reason = reason;
    return res;
  };
  // On a 488 the session stays as it was (RFC 3261 14.2): the endpoint's
  // codec, address and direction change only once the offer is accepted.
  auto* offer_mb = text_mbuf(offer);
  int err = offer_mb ? sdp_decode(ep->sess, offer_mb, true) : ENOMEM;
  mem_deref(offer_mb);
  if (err)
    return reject(488, "Not Acceptable Here");
  choice keep{ep->codec, ep->pt, ep->te_pt}, c;
  if (!negotiate(ep->sdpm, c, &keep))
    return reject(488, "Not Acceptable Here");
  struct mbuf* answer_mb = nullptr;
  if (sdp_encode(&answer_mb, ep->sess, false) != 0)
    return reject(500, "Server Internal Error");
  res.sdp.assign(reinterpret_cast<const char*>(answer_mb->buf), answer_mb->end);
  mem_deref(answer_mb);
  if (c.codec != ep->codec)
    log::info("media: leg ", leg, ": the re-INVITE moves the codec to ", codec_name(c.codec));
  ep->codec = c.codec;
  ep->pt = c.pt;
  if (ep->te_pt != c.te_pt)
    ep->te_seen = false; // another numbering: the next event counts whatever its timestamp
  ep->te_pt = c.te_pt;
  // A hold's c=0.0.0.0 (or port 0) keeps the old address for the resume.
  if (sa_isset(sdp_media_raddr(ep->sdpm), SA_ALL))
    ep->remote = *sdp_media_raddr(ep->sdpm);
  bool was_sending = ep->sending;
  ep->sending = may_send(ep->sdpm);
  if (ep->sending && !was_sending)
    ep->play.marker = true; // the talkspurt starts again
  if (ep->sending != was_sending)
    log::debug("media: leg ", leg, ep->sending ? ": resumed" : ": on hold");
  res.code = 200;
  res.reason = "OK";
  res.codec = codec_name(c.codec);
  return res;
}

bool plane::sending(std::uint64_t leg) const {
  auto i = impl_->eps.find(leg);
  return i != impl_->eps.end() && i->second->sending;
}

bool plane::has(std::uint64_t leg) const {
  return impl_->eps.count(leg) != 0;
}

bool plane::command(const media_command& c) {
  auto i = impl_->eps.find(c.leg);
  if (i == impl_->eps.end())
    return false;
  auto* ep = i->second.get();
  switch (c.what) {
    case media_command::op::play:
      play_close(ep); // a new play replaces the running one (no play_done)
      ep->play.active = true;
      ep->play.id = c.id;
      ep->play.files = c.files;
      ep->play.next = 0;
      ep->play.marker = true;
      if (ep->play.files.empty())
        play_done(ep, "end");
      else if (!play_open_next(ep))
        play_done(ep, "error");
      break;
    case media_command::op::record: {
      if (ep->rec.active) // a new record replaces the running one (no record_done)
        rec_close(ep);
      auto& r = ep->rec;
      r.id = c.id;
      r.file = c.file;
      r.logic = recorder{recorder::limits{c.max_ms, c.silence_ms}};
      r.ticks = r.quiet_ticks = 0;
      r.max_ms = c.max_ms;
      r.silence_ms = c.silence_ms;
      r.have_expected = false;
      struct aufile_prm prm {8000, 1, AUFMT_S16LE};
      if (int err = aufile_open(&r.af, &prm, c.file.c_str(), AUFILE_WRITE)) {
        log::warn("media: leg ", ep->leg, ": cannot record to '", c.file, "': ", strerror(err));
        r.af = nullptr;
        media_event e;
        e.kind = media_event_kind::record_done;
        e.id = c.id;
        e.reason = "error";
        e.file = c.file;
        ep->emit(std::move(e));
        break;
      }
      jbuf_flush(ep->jb);
      ep->buffered = 0;
      r.active = true;
      break;
    }
    case media_command::op::stop:
      if (ep->play.active)
        play_done(ep, "stopped");
      if (ep->rec.active)
        rec_end(ep, "stopped");
      break;
    case media_command::op::close:
      impl_->destroy(ep);
      break;
    case media_command::op::answer:
      return false;
  }
  return true;
}

bool plane::digit(std::uint64_t leg, char d) {
  auto i = impl_->eps.find(leg);
  if (i == impl_->eps.end())
    return false;
  media_event e;
  e.kind = media_event_kind::digit;
  e.digit = d;
  i->second->emit(std::move(e));
  return true;
}

void plane::leg_gone(std::uint64_t leg) {
  auto i = impl_->eps.find(leg);
  if (i == impl_->eps.end())
    return;
  auto* ep = i->second.get();
  if (ep->rec.active)
    rec_end(ep, "hangup");
  if (ep->play.active)
    play_close(ep);
  auto events = ep->events;
  impl_->destroy(ep);
  media_event e;
  e.leg = leg;
  e.kind = media_event_kind::hangup;
  if (events)
    events(std::move(e));
}

void plane::close_all() {
  while (!impl_->eps.empty())
    impl_->destroy(impl_->eps.begin()->second.get());
  impl_->stop_clock();
}

std::size_t plane::endpoints() const {
  return impl_->eps.size();
}

std::size_t plane::ports_in_use() const {
  return impl_->ports.in_use();
}

std::uint16_t plane::port_of(std::uint64_t leg) const {
  auto i = impl_->eps.find(leg);
  return i == impl_->eps.end() ? 0 : i->second->port;
}

} // namespace pbx::net::media
