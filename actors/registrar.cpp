#include "actors/registrar.hpp"

#include "engine/node_id.hpp"

#include <algorithm>

namespace pbx::registrar {

namespace {

outcome fail(std::uint16_t code, std::string reason,
             std::vector<storage::binding_record> live,
             std::vector<std::string> expired) {
  outcome out;
  out.code = code;
  out.reason = std::move(reason);
  out.bindings = std::move(live);
  out.removed = std::move(expired);
  return out;
}

} // namespace

outcome apply(const std::vector<storage::binding_record>& current,
              const register_request& req, const registrar_settings& cfg,
              std::int64_t now) {
  // Bindings that ran out are gone whatever the request says.
  std::vector<storage::binding_record> live;
  std::vector<std::string> expired;
  for (auto& b : current) {
    if (b.expires_at > now)
      live.push_back(b);
    else
      expired.push_back(b.contact);
  }
  if (req.star) {
    if (req.expires != 0 || req.contacts.size() > 0)
      return fail(400, "Contact * needs Expires: 0 and no other contact",
                  std::move(live), std::move(expired));
    for (auto& b : live) {
      if (b.call_id == req.call_id && req.cseq <= b.cseq)
        return fail(400, "CSeq out of order", std::move(live), std::move(expired));
    }
    outcome out;
    out.removed = std::move(expired);
    for (auto& b : live)
      out.removed.push_back(b.contact);
    return out;
  }
  // Check the whole request before changing anything.
  std::vector<std::int64_t> lifetimes;
  for (auto& c : req.contacts) {
    std::int64_t e = c.expires >= 0 ? c.expires
                     : req.expires >= 0 ? req.expires
                                        : cfg.default_expires;
    if (e > 0 && e < cfg.min_expires) {
      auto out = fail(423, "Interval Too Brief", std::move(live), std::move(expired));
      out.min_expires = cfg.min_expires;
      return out;
    }
    lifetimes.push_back(std::min<std::int64_t>(e, cfg.max_expires));
  }
  // Replies are stateless (no transaction kept for 32 s per request), so a
  // retransmission reaches us: the same Call-ID and CSeq is answered with
  // the current bindings and changes nothing. A lower CSeq fails.
  bool retransmission = false;
  std::size_t added = 0;
  for (std::size_t k = 0; k < req.contacts.size(); ++k) {
    auto& c = req.contacts[k];
    auto i = std::find_if(live.begin(), live.end(),
                          [&](auto& b) { return b.contact == c.uri; });
    if (i == live.end())
      added += lifetimes[k] > 0 ? 1 : 0;
    if (i == live.end() || i->call_id != req.call_id)
      continue;
    if (req.cseq < i->cseq)
      return fail(400, "CSeq out of order", std::move(live), std::move(expired));
    retransmission |= req.cseq == i->cseq;
  }
  if (!retransmission && live.size() + added > cfg.max_bindings)
    return fail(403, "Too Many Contacts", std::move(live), std::move(expired));
  if (retransmission) {
    outcome out;
    out.removed = std::move(expired);
    out.bindings = std::move(live);
    return out;
  }
  outcome out;
  out.removed = std::move(expired);
  for (std::size_t k = 0; k < req.contacts.size(); ++k) {
    auto& c = req.contacts[k];
    auto i = std::find_if(live.begin(), live.end(),
                          [&](auto& b) { return b.contact == c.uri; });
    if (lifetimes[k] == 0) {
      if (i != live.end()) {
        out.removed.push_back(i->contact);
        live.erase(i);
      }
      continue;
    }
    storage::binding_record rec;
    if (i != live.end())
      rec = *i;
    else
      rec.registered_at = now;
    rec.domain = req.domain;
    rec.number = req.user;
    rec.contact = c.uri;
    rec.params = c.params;
    rec.call_id = req.call_id;
    rec.cseq = req.cseq;
    rec.expires_at = now + lifetimes[k];
    rec.received_ip = req.source.ip;
    rec.received_port = req.source.port;
    rec.transport = req.source.transport;
    rec.via_node = node_of(req.txn); // the SIP thread that holds its flow
    rec.user_agent = req.user_agent;
    if (i != live.end())
      *i = rec;
    else
      live.push_back(rec);
    out.upserts.push_back(std::move(rec));
  }
  out.bindings = std::move(live);
  return out;
}

std::vector<listed_contact> listing(const std::vector<storage::binding_record>& b,
                                    std::int64_t now) {
  std::vector<listed_contact> out;
  for (auto& x : b)
    if (x.expires_at > now)
      out.push_back(listed_contact{x.contact, x.params, x.expires_at - now});
  return out;
}

} // namespace pbx::registrar
