// The media endpoints on a libre loop run by the test itself: real RTP over
// loopback from a UDP socket of the test (SIPp's g711a.pcap, RFC 4733
// packets from its dtmf pcaps, tones made here), the recorded WAV read back
// with librem's aufile, the RTP a play sends decoded with librem's g711.

#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <functional>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>
#include <unistd.h>

#include <re.h>
#include <rem.h>
#undef MIN
#undef MAX

#include "net/media.hpp"

using namespace pbx;
using namespace pbx::net;
using bytes = std::vector<std::uint8_t>;

namespace {

const char* g711a_pcap = "/usr/share/sip-tester/g711a.pcap";

std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

// The UDP payloads of a pcap (Ethernet, IPv4, UDP): a trivial format.
std::vector<bytes> pcap_rtp(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  bytes d{std::istreambuf_iterator<char>(in), {}};
  std::vector<bytes> out;
  if (d.size() < 24)
    return out;
  std::size_t off = 24;
  while (off + 16 <= d.size()) {
    std::uint32_t incl;
    std::memcpy(&incl, &d[off + 8], 4); // little-endian pcap (a1b2c3d4 as written here)
    off += 16;
    if (off + incl > d.size())
      break;
    const std::uint8_t* pkt = &d[off];
    std::size_t ihl = (pkt[14] & 0x0f) * 4;
    std::size_t udp = 14 + ihl;
    if (udp + 8 < incl)
      out.emplace_back(pkt + udp + 8, pkt + incl);
    off += incl;
  }
  return out;
}

bytes rtp_packet(std::uint8_t pt, std::uint16_t seq, std::uint32_t ts, const bytes& payload,
                 bool marker = false) {
  bytes p(12);
  p[0] = 0x80;
  p[1] = static_cast<std::uint8_t>((marker ? 0x80 : 0) | pt);
  p[2] = seq >> 8;
  p[3] = seq & 0xff;
  for (int i = 0; i < 4; ++i)
    p[4 + i] = static_cast<std::uint8_t>(ts >> (24 - 8 * i));
  p[8] = 0x12, p[9] = 0x34, p[10] = 0x56, p[11] = 0x78;
  p.insert(p.end(), payload.begin(), payload.end());
  return p;
}

std::vector<std::int16_t> tone(std::size_t n) {
  std::vector<std::int16_t> v(n);
  for (std::size_t i = 0; i < n; ++i)
    v[i] = static_cast<std::int16_t>(6000 * std::sin(2 * M_PI * 440 * i / 8000.0));
  return v;
}

// A-law packets of `pcm`, 160 samples each, seq/ts from `seq`/`ts`.
std::vector<bytes> alaw_packets(const std::vector<std::int16_t>& pcm, std::uint16_t seq,
                                std::uint32_t ts) {
  std::vector<bytes> out;
  for (std::size_t i = 0; i + 160 <= pcm.size(); i += 160) {
    bytes pl(160);
    for (std::size_t k = 0; k < 160; ++k)
      pl[k] = g711_pcm2alaw(pcm[i + k]);
    out.push_back(rtp_packet(8, seq++, ts, pl));
    ts += 160;
  }
  return out;
}

std::vector<std::int16_t> read_wav(const std::string& path, aufile_prm& prm) {
  struct aufile* af = nullptr;
  std::vector<std::int16_t> out;
  if (aufile_open(&af, &prm, path.c_str(), AUFILE_READ) != 0)
    return out;
  std::int16_t buf[512];
  for (;;) {
    std::size_t sz = sizeof buf;
    if (aufile_read(af, reinterpret_cast<std::uint8_t*>(buf), &sz) != 0 || sz == 0)
      break;
    out.insert(out.end(), buf, buf + sz / 2);
  }
  mem_deref(af);
  return out;
}

void write_wav(const std::string& path, const std::vector<std::int16_t>& pcm) {
  struct aufile* af = nullptr;
  struct aufile_prm prm {8000, 1, AUFMT_S16LE};
  REQUIRE(aufile_open(&af, &prm, path.c_str(), AUFILE_WRITE) == 0);
  REQUIRE(aufile_write(af, reinterpret_cast<const std::uint8_t*>(pcm.data()), pcm.size() * 2) == 0);
  mem_deref(af);
}

struct received {
  struct rtp_header hdr;
  bytes payload;
  std::int64_t at;
};

// The test's side: a libre loop, a UDP socket playing the caller, the plane.
// A range of 11 ports nobody holds now: ctest runs test cases of this binary
// side by side, and a fixed range made them take each other's ports.
std::uint16_t free_port_base() {
  auto free_udp = [](std::uint16_t port) {
    struct udp_sock* u = nullptr;
    struct sa a;
    sa_set_str(&a, "127.0.0.1", port);
    bool ok = udp_listen(&u, &a, [](const struct sa*, struct mbuf*, void*) {}, nullptr) == 0;
    mem_deref(u);
    return ok;
  };
  // Below the ephemeral range and above the node's default RTP range (10000-20000).
  for (unsigned k = 0; k < 900; ++k) {
    auto base = static_cast<std::uint16_t>(21000 + ((getpid() + k * 7) % 900) * 12);
    bool all = true;
    for (std::uint16_t p = base; all && p <= base + 10; ++p)
      all = free_udp(p);
    if (all)
      return base;
  }
  FAIL("no free range of 11 UDP ports in 21000-31800");
  return 0;
}

struct fixture {
  std::string dir;
  struct udp_sock* sock = nullptr;
  struct sa local {};
  std::vector<received> got;
  std::vector<media_event> events;
  std::unique_ptr<media::plane> plane;
  std::uint16_t base = 0; // the plane's ports: base .. base + 10
  // Packets to send, each at its time (ms after send() started).
  std::vector<std::pair<std::int64_t, bytes>> to_send;
  std::size_t sent = 0;
  std::int64_t send_start = 0;
  struct sa dst {};
  struct tmr send_tmr {};
  struct tmr poll_tmr {};
  struct tmr deadline_tmr {};
  std::function<bool()> until;

  fixture() {
    REQUIRE(libre_init() == 0);
    char tmpl[] = "/tmp/media_test_XXXXXX";
    REQUIRE(mkdtemp(tmpl));
    dir = tmpl;
    tmr_init(&send_tmr);
    tmr_init(&poll_tmr);
    tmr_init(&deadline_tmr);
    sa_set_str(&local, "127.0.0.1", 0);
    REQUIRE(udp_listen(&sock, &local, recv_handler, this) == 0);
    REQUIRE(udp_local_get(sock, &local) == 0);
    base = free_port_base();
    plane = std::make_unique<media::plane>("127.0.0.1",
                                           media::port_range{base, std::uint16_t(base + 10)});
  }

  ~fixture() {
    tmr_cancel(&send_tmr);
    tmr_cancel(&poll_tmr);
    tmr_cancel(&deadline_tmr);
    plane.reset();
    mem_deref(sock);
    libre_close();
    std::string cmd = "rm -rf '" + dir + "'";
    if (std::system(cmd.c_str()) != 0)
      WARN("could not remove " << dir);
  }

  static void recv_handler(const struct sa*, struct mbuf* mb, void* arg) {
    auto* f = static_cast<fixture*>(arg);
    received r;
    if (rtp_hdr_decode(&r.hdr, mb) != 0)
      return;
    r.payload.assign(mbuf_buf(mb), mbuf_buf(mb) + mbuf_get_left(mb));
    r.at = now_ms();
    f->got.push_back(std::move(r));
  }

  // `dir`: an a= direction line to add; `port` 0: our socket's; `ip`: c=.
  std::string offer(const std::string& fmts = "8 0 101", const std::string& dir = "",
                    std::uint16_t port = 0, const char* ip = "127.0.0.1") const {
    char buf[640];
    std::snprintf(buf, sizeof buf,
                  "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"
                  "m=audio %u RTP/AVP %s\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n"
                  "a=rtpmap:18 G729/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
                  "a=fmtp:101 0-15\r\na=ptime:20\r\n%s%s",
                  ip, port ? port : sa_port(&local), fmts.c_str(), dir.empty() ? "" : "a=",
                  dir.empty() ? "" : (dir + "\r\n").c_str());
    return buf;
  }

  media::answer_result open(std::uint64_t leg, const std::string& sdp) {
    auto res = plane->open(leg, sdp, [this](media_event e) { events.push_back(std::move(e)); });
    if (res.code == 200) {
      sa_set_str(&dst, "127.0.0.1", plane->port_of(leg));
    }
    return res;
  }

  static void send_handler(void* arg) {
    auto* f = static_cast<fixture*>(arg);
    auto now = now_ms() - f->send_start;
    while (f->sent < f->to_send.size() && f->to_send[f->sent].first <= now) {
      auto& p = f->to_send[f->sent++].second;
      struct mbuf* mb = mbuf_alloc(p.size());
      mbuf_write_mem(mb, p.data(), p.size());
      mb->pos = 0;
      udp_send(f->sock, &f->dst, mb);
      mem_deref(mb);
    }
    if (f->sent < f->to_send.size())
      tmr_start(&f->send_tmr, 5, send_handler, f);
  }

  // Sends `packets` every `interval` ms from now.
  void send(const std::vector<bytes>& packets, std::int64_t interval) {
    to_send.clear();
    sent = 0;
    for (std::size_t i = 0; i < packets.size(); ++i)
      to_send.emplace_back(static_cast<std::int64_t>(i) * interval, packets[i]);
    send_start = now_ms();
    tmr_start(&send_tmr, 0, send_handler, this);
  }

  static void poll_handler(void* arg) {
    auto* f = static_cast<fixture*>(arg);
    if (f->until && f->until()) {
      re_cancel();
      return;
    }
    tmr_start(&f->poll_tmr, 5, poll_handler, f);
  }

  // Runs the loop until `pred` holds or `timeout_ms` passed; returns pred().
  bool run(std::function<bool()> pred, std::uint64_t timeout_ms) {
    until = std::move(pred);
    tmr_start(&poll_tmr, 0, poll_handler, this);
    tmr_start(&deadline_tmr, timeout_ms, [](void*) { re_cancel(); }, nullptr);
    re_main(nullptr);
    tmr_cancel(&poll_tmr);
    tmr_cancel(&deadline_tmr);
    return until();
  }

  bool all_sent() const { return sent == to_send.size(); }

  const media_event* find(media_event_kind k) const {
    for (auto& e : events)
      if (e.kind == k)
        return &e;
    return nullptr;
  }
  bool has(media_event_kind k) const { return find(k) != nullptr; }

  void command(media_command c) { REQUIRE(plane->command(c)); }
};

media_command record_cmd(std::uint64_t leg, std::string file, std::uint32_t max_ms,
                         std::uint32_t silence_ms, std::uint32_t id) {
  media_command c;
  c.what = media_command::op::record;
  c.leg = leg;
  c.file = std::move(file);
  c.max_ms = max_ms;
  c.silence_ms = silence_ms;
  c.id = id;
  return c;
}

media_command simple(media_command::op op, std::uint64_t leg) {
  media_command c;
  c.what = op;
  c.leg = leg;
  return c;
}

std::string m_line(const std::string& sdp) {
  auto p = sdp.find("m=audio");
  return p == std::string::npos ? "" : sdp.substr(p, sdp.find('\r', p) - p);
}

// The m-line's payload types, without the port (a port may contain "18").
std::vector<std::string> formats(const std::string& sdp) {
  std::istringstream in(m_line(sdp));
  std::string word;
  std::vector<std::string> out;
  for (int i = 0; in >> word; ++i)
    if (i >= 3)
      out.push_back(word);
  return out;
}

bool offers(const std::string& sdp, const std::string& pt) {
  auto f = formats(sdp);
  return std::find(f.begin(), f.end(), pt) != f.end();
}

} // namespace

TEST_CASE("the answer takes the caller's codec order and a port of the range") {
  fixture f;
  auto a = f.open(1, f.offer("8 0 101"));
  REQUIRE(a.code == 200);
  CHECK(a.codec == "PCMA");
  auto port = f.plane->port_of(1);
  CHECK(port % 2 == 0);
  CHECK(port >= f.base);
  CHECK(port <= f.base + 10);
  CHECK(m_line(a.sdp) == "m=audio " + std::to_string(port) + " RTP/AVP 8 0 101");
  CHECK(a.sdp.find("c=IN IP4 127.0.0.1") != std::string::npos);
  CHECK(a.sdp.find("telephone-event/8000") != std::string::npos);

  auto b = f.open(2, f.offer("18 0 8"));
  REQUIRE(b.code == 200);
  CHECK(b.codec == "PCMU");
  CHECK(f.plane->port_of(2) != port);
  CHECK(m_line(b.sdp).find("RTP/AVP 0 8") != std::string::npos);
  CHECK_FALSE(offers(b.sdp, "18"));

  CHECK(f.open(3, f.offer("18")).code == 488);   // no common codec
  CHECK(f.open(4, "").code == 488);              // no offer
  CHECK(f.open(1, f.offer()).code == 481);       // leg 1 has its endpoint
  CHECK(f.plane->endpoints() == 2);
  CHECK(f.plane->ports_in_use() == 2);

  f.command(simple(media_command::op::close, 1));
  CHECK(f.plane->endpoints() == 1);
  CHECK(f.plane->ports_in_use() == 1);
  CHECK_FALSE(f.plane->command(simple(media_command::op::stop, 1)));
  CHECK(f.events.empty()); // close reports nothing
}

TEST_CASE("a busy port is skipped and the range can run out") {
  fixture f;
  // Someone else holds the first four ports of the range.
  struct udp_sock* other[4] = {};
  for (int i = 0; i < 4; ++i) {
    struct sa a;
    sa_set_str(&a, "127.0.0.1", static_cast<std::uint16_t>(f.base + i));
    REQUIRE(udp_listen(&other[i], &a, [](const struct sa*, struct mbuf*, void*) {}, nullptr) == 0);
  }
  std::vector<std::uint16_t> ports;
  for (std::uint64_t leg = 1; leg <= 4; ++leg) {
    REQUIRE(f.open(leg, f.offer()).code == 200);
    ports.push_back(f.plane->port_of(leg));
  }
  for (auto p : ports)
    CHECK(p >= f.base + 4);
  CHECK(f.open(5, f.offer()).code == 503); // base+4..base+10: 4 even ports, all taken
  for (auto* s : other)
    mem_deref(s);
}

TEST_CASE("a recording holds what the caller sent, lost packets as silence") {
  fixture f;
  auto all = pcap_rtp(g711a_pcap);
  if (all.empty()) {
    WARN("no " << g711a_pcap << " (package sip-tester): skipped");
    return;
  }
  REQUIRE(all.size() > 100);
  std::vector<bytes> pkts(all.begin(), all.begin() + 100); // 3 s of 30 ms packets
  REQUIRE(f.open(1, f.offer()).code == 200);
  auto file = f.dir + "/rec.wav";
  f.command(record_cmd(1, file, 0, 0, 42));
  // The expected audio: every payload decoded with librem's tables, the
  // packet we leave out as 240 samples of silence.
  std::vector<std::int16_t> expected;
  std::vector<bytes> sending;
  for (std::size_t i = 0; i < pkts.size(); ++i) {
    auto& p = pkts[i];
    REQUIRE((p[1] & 0x7f) == 8);
    if (i == 50) {
      expected.insert(expected.end(), p.size() - 12, 0);
      continue;
    }
    for (std::size_t k = 12; k < p.size(); ++k)
      expected.push_back(g711_alaw2pcm(p[k]));
    sending.push_back(p);
  }
  std::swap(sending[70], sending[71]); // reordered on the way: the buffer sorts it
  f.send(sending, 30);
  REQUIRE(f.run([&] { return f.all_sent(); }, 10000));
  // The last packets are still buffered: stop takes them in first.
  f.run([] { return false; }, 100);
  f.command(simple(media_command::op::stop, 1));
  auto* done = f.find(media_event_kind::record_done);
  REQUIRE(done);
  CHECK(done->leg == 1);
  CHECK(done->id == 42);
  CHECK(done->reason == "stopped");
  CHECK(done->file == file);
  CHECK(done->packets == 99);
  CHECK(done->duration_ms == 3000);
  aufile_prm prm{};
  auto wav = read_wav(file, prm);
  CHECK(prm.srate == 8000);
  CHECK(prm.channels == 1);
  REQUIRE(wav.size() == expected.size());
  CHECK(wav == expected);
}

TEST_CASE("silence ends a recording, and is cut from it") {
  fixture f;
  REQUIRE(f.open(1, f.offer()).code == 200);
  auto file = f.dir + "/silence.wav";
  f.command(record_cmd(1, file, 0, 400, 7));
  auto pcm = tone(8000);                          // 1 s of sound
  pcm.insert(pcm.end(), 8000, 0);                 // 1 s of silence
  f.send(alaw_packets(pcm, 100, 16000), 20);
  REQUIRE(f.run([&] { return f.has(media_event_kind::record_done); }, 5000));
  auto* done = f.find(media_event_kind::record_done);
  CHECK(done->reason == "silence");
  CHECK(done->duration_ms == 1000);
  CHECK(done->packets == 50);
  aufile_prm prm{};
  auto wav = read_wav(file, prm);
  REQUIRE(wav.size() == 8000);
  for (std::size_t i = 0; i < wav.size(); ++i)
    if (wav[i] != g711_alaw2pcm(g711_pcm2alaw(pcm[i])))
      FAIL("sample " << i << " differs");
  // It ended before the caller stopped sending (400 ms into the silence).
  CHECK_FALSE(f.all_sent());
}

TEST_CASE("max_ms ends a recording") {
  fixture f;
  REQUIRE(f.open(1, f.offer()).code == 200);
  auto file = f.dir + "/max.wav";
  f.command(record_cmd(1, file, 500, 5000, 9));
  f.send(alaw_packets(tone(16000), 1, 0), 20);
  REQUIRE(f.run([&] { return f.has(media_event_kind::record_done); }, 5000));
  auto* done = f.find(media_event_kind::record_done);
  CHECK(done->reason == "max");
  CHECK(done->duration_ms == 500);
  CHECK(done->packets == 25);
  aufile_prm prm{};
  CHECK(read_wav(file, prm).size() == 4000);
}

TEST_CASE("hang-up ends a recording: the file is closed, record_done, then hangup") {
  fixture f;
  REQUIRE(f.open(1, f.offer()).code == 200);
  auto file = f.dir + "/hangup.wav";
  f.command(record_cmd(1, file, 0, 0, 3));
  f.send(alaw_packets(tone(4000), 1, 0), 20);
  REQUIRE(f.run([&] { return f.all_sent(); }, 5000));
  f.run([] { return false; }, 60);
  f.plane->leg_gone(1);
  REQUIRE(f.events.size() == 2);
  CHECK(f.events[0].kind == media_event_kind::record_done);
  CHECK(f.events[0].reason == "hangup");
  CHECK(f.events[0].duration_ms == 500);
  CHECK(f.events[0].packets == 25);
  CHECK(f.events[1].kind == media_event_kind::hangup);
  CHECK(f.events[1].leg == 1);
  aufile_prm prm{};
  CHECK(read_wav(file, prm).size() == 4000); // the header is written: the file is whole
  CHECK(f.plane->endpoints() == 0);
  CHECK(f.plane->ports_in_use() == 0);
}

TEST_CASE("RFC 4733 events become one digit each") {
  fixture f;
  auto pound = pcap_rtp("/usr/share/sip-tester/dtmf_2833_pound.pcap");
  auto five = pcap_rtp("/usr/share/sip-tester/dtmf_2833_5.pcap");
  if (pound.empty() || five.empty()) {
    WARN("no sip-tester dtmf pcaps: skipped");
    return;
  }
  REQUIRE(pound.size() >= 8); // several packets per event, the end sent three times
  REQUIRE(f.open(1, f.offer()).code == 200);
  auto packets = pound;
  packets.insert(packets.end(), five.begin(), five.end());
  // The same key again: a new event (a later timestamp), its first packets lost.
  auto again = five;
  for (auto& p : again)
    p[7] = static_cast<std::uint8_t>(p[7] + 1);
  packets.insert(packets.end(), again.begin() + 3, again.end());
  f.send(packets, 20);
  REQUIRE(f.run([&] { return f.all_sent(); }, 5000));
  f.run([] { return false; }, 40);
  std::string digits;
  for (auto& e : f.events)
    if (e.kind == media_event_kind::digit)
      digits += e.digit;
  CHECK(digits == "#55");
  // SIP INFO digits take the same way.
  CHECK(f.plane->digit(1, '*'));
  CHECK(f.events.back().digit == '*');
  CHECK_FALSE(f.plane->digit(2, '*'));
}

TEST_CASE("a play sends the files' audio paced by the 20 ms clock") {
  fixture f;
  REQUIRE(f.open(1, f.offer("0 8 101")).code == 200); // PCMU
  auto a = tone(2400);                                // 15 frames
  std::vector<std::int16_t> b(880);                   // 5.5 frames: the last one padded
  for (std::size_t i = 0; i < b.size(); ++i)
    b[i] = static_cast<std::int16_t>((i * 37) % 4000 - 2000);
  write_wav(f.dir + "/a.wav", a);
  write_wav(f.dir + "/b.wav", b);
  media_command c;
  c.what = media_command::op::play;
  c.leg = 1;
  c.files = {f.dir + "/a.wav", f.dir + "/b.wav"};
  c.id = 5;
  f.command(c);
  REQUIRE(f.run([&] { return f.has(media_event_kind::play_done); }, 5000));
  f.run([] { return false; }, 40); // the last packet's way over loopback
  auto* done = f.find(media_event_kind::play_done);
  CHECK(done->id == 5);
  CHECK(done->reason == "end");
  REQUIRE(f.got.size() == 21);
  std::vector<std::int16_t> expected = a;
  expected.insert(expected.end(), b.begin(), b.end());
  expected.resize(21 * 160, 0);
  for (std::size_t i = 0; i < f.got.size(); ++i) {
    auto& r = f.got[i];
    CHECK(r.hdr.pt == 0);
    CHECK(r.hdr.m == (i == 0));
    CHECK(r.payload.size() == 160);
    if (i > 0) {
      CHECK(r.hdr.seq == static_cast<std::uint16_t>(f.got[i - 1].hdr.seq + 1));
      CHECK(r.hdr.ts == f.got[i - 1].hdr.ts + 160);
      CHECK(r.hdr.ssrc == f.got[0].hdr.ssrc);
    }
    for (std::size_t k = 0; k < 160 && k < r.payload.size(); ++k) {
      auto want = g711_ulaw2pcm(g711_pcm2ulaw(expected[i * 160 + k]));
      if (g711_ulaw2pcm(r.payload[k]) != want)
        FAIL("packet " << i << " sample " << k << " differs");
    }
  }
  // Paced, not sent in a burst: 21 packets span about 400 ms.
  CHECK(f.got.back().at - f.got.front().at >= 300);
}

TEST_CASE("a play of a missing file ends in error; stop ends a play") {
  fixture f;
  REQUIRE(f.open(1, f.offer()).code == 200);
  media_command c;
  c.what = media_command::op::play;
  c.leg = 1;
  c.files = {f.dir + "/missing.wav"};
  c.id = 1;
  f.command(c);
  REQUIRE(f.events.size() == 1);
  CHECK(f.events[0].kind == media_event_kind::play_done);
  CHECK(f.events[0].reason == "error");

  write_wav(f.dir + "/long.wav", tone(16000));
  c.files = {f.dir + "/long.wav", f.dir + "/missing.wav"};
  c.id = 2;
  f.command(c);
  f.run([&] { return f.got.size() >= 5; }, 2000);
  f.command(simple(media_command::op::stop, 1));
  REQUIRE(f.events.size() == 2);
  CHECK(f.events[1].reason == "stopped");
  CHECK(f.events[1].id == 2);
  auto n = f.got.size();
  f.run([] { return false; }, 100);
  CHECK(f.got.size() <= n + 1); // nothing after the stop (one may be on its way)
}

namespace {

std::string o_line(const std::string& sdp) {
  auto p = sdp.find("o=");
  return p == std::string::npos ? "" : sdp.substr(p, sdp.find('\r', p) - p);
}

media_command play_cmd(std::uint64_t leg, std::vector<std::string> files, std::uint32_t id) {
  media_command c;
  c.what = media_command::op::play;
  c.leg = leg;
  c.files = std::move(files);
  c.id = id;
  return c;
}

} // namespace

TEST_CASE("a re-INVITE holds the endpoint's RTP and another resumes it") {
  fixture f;
  auto first = f.open(1, f.offer());
  REQUIRE(first.code == 200);
  CHECK(first.sdp.find("a=sendrecv") != std::string::npos);
  auto port = f.plane->port_of(1);
  write_wav(f.dir + "/long.wav", tone(8000 * 3));
  f.command(play_cmd(1, {f.dir + "/long.wav"}, 1));
  REQUIRE(f.run([&] { return f.got.size() >= 5; }, 2000));

  auto hold = f.plane->reoffer(1, f.offer("8 0 101", "sendonly"));
  REQUIRE(hold.code == 200);
  CHECK(hold.codec == "PCMA");
  CHECK(hold.sdp.find("a=recvonly") != std::string::npos);
  CHECK(m_line(hold.sdp) == "m=audio " + std::to_string(port) + " RTP/AVP 8 0 101");
  // The same session, its version one up (RFC 3264 8).
  unsigned id1 = 0, v1 = 0, id2 = 0, v2 = 0;
  REQUIRE(std::sscanf(o_line(first.sdp).c_str(), "o=- %u %u", &id1, &v1) == 2);
  REQUIRE(std::sscanf(o_line(hold.sdp).c_str(), "o=- %u %u", &id2, &v2) == 2);
  CHECK(id2 == id1);
  CHECK(v2 == v1 + 1);
  CHECK_FALSE(f.plane->sending(1));
  f.run([] { return false; }, 40); // a packet already on its way
  auto n = f.got.size();
  f.run([] { return false; }, 300);
  CHECK(f.got.size() == n); // nothing while on hold
  CHECK_FALSE(f.has(media_event_kind::play_done)); // the play goes on, unheard

  auto resume = f.plane->reoffer(1, f.offer("8 0 101", "sendrecv"));
  REQUIRE(resume.code == 200);
  CHECK(resume.sdp.find("a=sendrecv") != std::string::npos);
  CHECK(f.plane->sending(1));
  REQUIRE(f.run([&] { return f.got.size() >= n + 5; }, 2000));
  CHECK(f.got[n].hdr.m); // a new talkspurt
  CHECK(f.got[n].hdr.pt == 8);
  CHECK(f.got[n].hdr.ssrc == f.got[0].hdr.ssrc);
  CHECK(f.got[n].hdr.seq == static_cast<std::uint16_t>(f.got[n - 1].hdr.seq + 1));
  CHECK(f.got[n].hdr.ts - f.got[n - 1].hdr.ts >= 160 * 10); // the clock ran on

  // inactive, and the old hold (c=0.0.0.0) send nothing too.
  auto inactive = f.plane->reoffer(1, f.offer("8 0 101", "inactive"));
  CHECK(inactive.code == 200);
  CHECK(inactive.sdp.find("a=inactive") != std::string::npos);
  CHECK_FALSE(f.plane->sending(1));
  CHECK(f.plane->reoffer(1, f.offer()).code == 200);
  CHECK(f.plane->sending(1));
  CHECK(f.plane->reoffer(1, f.offer("8 0 101", "", 0, "0.0.0.0")).code == 200);
  CHECK_FALSE(f.plane->sending(1));
  CHECK(f.plane->reoffer(1, f.offer()).code == 200);
  CHECK(f.plane->sending(1));
  CHECK(f.plane->endpoints() == 1);
  CHECK(f.plane->reoffer(2, f.offer()).code == 481);
}

TEST_CASE("a re-INVITE keeps the codec while offered, moves the address, or is refused") {
  fixture f;
  REQUIRE(f.open(1, f.offer("8 0 101")).code == 200); // PCMA
  // The caller now prefers PCMU but still offers PCMA: we stay on PCMA.
  auto same = f.plane->reoffer(1, f.offer("0 8 101"));
  REQUIRE(same.code == 200);
  CHECK(same.codec == "PCMA");
  // No PCMA any more: the offer's first of ours.
  auto moved = f.plane->reoffer(1, f.offer("18 0 101"));
  REQUIRE(moved.code == 200);
  CHECK(moved.codec == "PCMU");
  CHECK_FALSE(offers(moved.sdp, "18"));
  CHECK(offers(moved.sdp, "0"));
  // Nothing we have: 488, and the session stays as it was (PCMU, here).
  CHECK(f.plane->reoffer(1, f.offer("18")).code == 488);
  CHECK(f.plane->reoffer(1, "v=0\r\nnonsense").code == 488);
  // A new address: the RTP goes there.
  struct udp_sock* other = nullptr;
  struct sa other_addr;
  sa_set_str(&other_addr, "127.0.0.1", 0);
  std::vector<std::uint8_t> pts;
  REQUIRE(udp_listen(&other, &other_addr,
                     [](const struct sa*, struct mbuf* mb, void* arg) {
                       struct rtp_header hdr;
                       if (rtp_hdr_decode(&hdr, mb) == 0)
                         static_cast<std::vector<std::uint8_t>*>(arg)->push_back(hdr.pt);
                     },
                     &pts) == 0);
  REQUIRE(udp_local_get(other, &other_addr) == 0);
  auto there = f.plane->reoffer(1, f.offer("0 101", "", sa_port(&other_addr)));
  REQUIRE(there.code == 200);
  CHECK(there.codec == "PCMU");
  write_wav(f.dir + "/short.wav", tone(1600));
  f.command(play_cmd(1, {f.dir + "/short.wav"}, 2));
  REQUIRE(f.run([&] { return pts.size() >= 10; }, 2000));
  CHECK(f.got.empty()); // none to the old address
  for (auto pt : pts)
    CHECK(pt == 0);
  mem_deref(other);
}
