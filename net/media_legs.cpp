// The media plane on the SIP thread: media_command from actors, A legs
// answered by an endpoint (call_legs.cpp keeps the legs), SIP INFO digits,
// re-INVITEs (the endpoint answers them itself) and the leg's end. The endpoints themselves are net/media.cpp's.

#include "net/stack_impl.hpp"

#include <caf/send.hpp>

#include "engine/log.hpp"
#include "net/media.hpp"

namespace pbx::net {

namespace {

void fail(const caf::actor& owner, std::uint64_t leg, std::uint16_t code, std::string reason) {
  if (!owner)
    return;
  media_event ev;
  ev.leg = leg;
  ev.kind = media_event_kind::failed;
  ev.code = code;
  ev.reason = std::move(reason);
  caf::anon_send(owner, std::move(ev));
}

void answer(sip_stack::impl& s, const media_command& c) {
  std::string invite_offer;
  if (!s.media || !leg_answerable(s, c.leg, &invite_offer)) {
    fail(c.owner, c.leg, 481, "no such leg, or answered already");
    return;
  }
  const auto& offer = c.sdp.empty() ? invite_offer : c.sdp;
  auto owner = c.owner;
  auto res = s.media->open(c.leg, offer, [owner](media_event e) {
    if (owner)
      caf::anon_send(owner, std::move(e));
  });
  if (res.code != 200) {
    leg_reject(s, c.leg, res.code, res.reason, c.owner);
    fail(c.owner, c.leg, res.code, res.reason);
    return;
  }
  if (!leg_answer_media(s, c.leg, res.sdp)) {
    s.media->command(media_command{media_command::op::close, c.leg});
    fail(c.owner, c.leg, 500, "the answer could not be sent");
    return;
  }
  media_event ev;
  ev.leg = c.leg;
  ev.kind = media_event_kind::ready;
  ev.codec = res.codec;
  if (c.owner)
    caf::anon_send(c.owner, std::move(ev));
}

} // namespace

std::string media_open(sip_stack::impl& s, const struct sa& sip_laddr) {
  char ip[64];
  if (sa_ntop(&sip_laddr, ip, sizeof ip) != 0)
    return "media: cannot print the SIP address";
  media::port_pool probe{{s.cfg.rtp_port_min, s.cfg.rtp_port_max}};
  if (probe.size() == 0)
    return "--rtp-ports holds no even port";
  s.media = new media::plane(ip, {s.cfg.rtp_port_min, s.cfg.rtp_port_max});
  return {};
}

void media_close(sip_stack::impl& s) {
  delete s.media;
  s.media = nullptr;
}

void on_media_command(sip_stack::impl& s, const media_command& c) {
  if (c.what == media_command::op::answer) {
    answer(s, c);
    return;
  }
  if (s.media)
    s.media->command(c); // an endpoint already gone: its hangup was sent
}

bool media_info(sip_stack::impl& s, std::uint64_t leg, const std::string& content_type,
                const std::string& body) {
  if (!s.media || !media::is_dtmf_info(content_type))
    return false;
  if (char d = media::info_digit(content_type, body))
    s.media->digit(leg, d);
  else
    log::debug("media: leg ", leg, ": INFO ", content_type, " without a digit");
  return true; // answered 200 either way: it was meant for us
}

bool media_reinvite(sip_stack::impl& s, std::uint64_t leg, const std::string& offer,
                    std::uint16_t& code, std::string& reason, std::string& sdp) {
  if (!s.media || !s.media->has(leg))
    return false;
  auto res = s.media->reoffer(leg, offer);
  if (res.code == 481)
    return false;
  if (res.code != 200)
    log::info("media: leg ", leg, ": re-INVITE refused (", res.code, ")");
  code = res.code;
  reason = std::move(res.reason);
  sdp = std::move(res.sdp);
  return true;
}

void media_leg_gone(sip_stack::impl& s, std::uint64_t leg) {
  if (s.media)
    s.media->leg_gone(leg);
}

} // namespace pbx::net
