#include "actors/binding_index.hpp"

#include <algorithm>
#include <limits>

namespace pbx {

namespace {

constexpr const char* transports[] = {"", "udp", "tcp", "tls", "ws", "wss"};

std::uint16_t clip(std::size_t n) {
  // SIP headers are bounded by the message (64 KiB); a longer field is cut.
  return static_cast<std::uint16_t>(std::min<std::size_t>(n, 65535));
}

} // namespace

binding_index::binding_index(std::string domain, std::int64_t now)
    : domain_(std::move(domain)), wheel_(now) {}

binding_index::packed binding_index::pack(const storage::binding_record& r) {
  packed p;
  const std::string* parts[] = {&r.contact, &r.params, &r.call_id, &r.received_ip,
                                &r.user_agent};
  std::size_t total = 0;
  for (std::size_t i = 0; i < 5; ++i) {
    p.len[i] = clip(parts[i]->size());
    total += p.len[i];
  }
  for (std::uint8_t t = 1; t < std::size(transports); ++t)
    if (r.transport == transports[t])
      p.transport = t;
  p.text.reserve(total + (p.transport ? 0 : r.transport.size()));
  for (std::size_t i = 0; i < 5; ++i)
    p.text.append(parts[i]->data(), p.len[i]);
  if (!p.transport)
    p.text += r.transport;
  p.cseq = r.cseq;
  p.port = r.received_port;
  p.via_node = r.via_node;
  p.expires_at = r.expires_at;
  p.registered_at = r.registered_at;
  return p;
}

storage::binding_record binding_index::unpack(const slot& s, const packed& p) const {
  storage::binding_record r;
  r.domain = domain_;
  r.number = *s.number;
  std::string* parts[] = {&r.contact, &r.params, &r.call_id, &r.received_ip, &r.user_agent};
  std::size_t at = 0;
  for (std::size_t i = 0; i < 5; ++i) {
    parts[i]->assign(p.text, at, p.len[i]);
    at += p.len[i];
  }
  r.transport = p.transport ? transports[p.transport] : p.text.substr(at);
  r.cseq = p.cseq;
  r.received_port = p.port;
  r.via_node = p.via_node;
  r.expires_at = p.expires_at;
  r.registered_at = p.registered_at;
  return r;
}

std::vector<storage::binding_record> binding_index::get(std::string_view number) const {
  std::vector<storage::binding_record> out;
  auto i = by_number_.find(std::string(number));
  if (i == by_number_.end())
    return out;
  auto& s = slots_[i->second];
  out.reserve(s.bindings.size());
  for (auto& p : s.bindings)
    out.push_back(unpack(s, p));
  return out;
}

std::size_t binding_index::live(std::string_view number, std::int64_t now) const {
  auto i = by_number_.find(std::string(number));
  if (i == by_number_.end())
    return 0;
  auto& b = slots_[i->second].bindings;
  return static_cast<std::size_t>(
      std::count_if(b.begin(), b.end(), [&](auto& p) { return p.expires_at > now; }));
}

void binding_index::set(std::string_view number,
                        const std::vector<storage::binding_record>& recs) {
  auto i = by_number_.find(std::string(number));
  if (recs.empty()) {
    if (i == by_number_.end())
      return;
    auto id = i->second;
    auto& s = slots_[id];
    bindings_ -= s.bindings.size();
    // A later generation makes the pending wheel entry stale.
    s = slot{{}, s.gen + 1, 0, nullptr, false, {}};
    s.bindings.shrink_to_fit();
    free_.push_back(id);
    by_number_.erase(i);
    return;
  }
  if (i == by_number_.end()) {
    std::uint32_t id;
    if (!free_.empty()) {
      id = free_.back();
      free_.pop_back();
    } else {
      id = static_cast<std::uint32_t>(slots_.size());
      slots_.emplace_back();
    }
    i = by_number_.emplace(std::string(number), id).first;
    slots_[id].number = &i->first;
  }
  auto& s = slots_[i->second];
  bindings_ -= s.bindings.size();
  s.bindings.clear();
  s.bindings.reserve(recs.size());
  for (auto& r : recs)
    s.bindings.push_back(pack(r));
  s.bindings.shrink_to_fit();
  bindings_ += s.bindings.size();
  schedule(i->second);
}

// The wheel holds one entry per extension that counts: at its earliest
// expiry. A refresh that moves the expiry later leaves it in place (it
// re-arms when it fires); an earlier expiry supersedes it.
void binding_index::schedule(std::uint32_t id) {
  auto& s = slots_[id];
  auto first = std::numeric_limits<std::int64_t>::max();
  for (auto& p : s.bindings)
    first = std::min(first, p.expires_at);
  if (s.scheduled_at != 0 && s.scheduled_at <= first)
    return;
  s.scheduled_at = first;
  wheel_.schedule(id, ++s.gen, first);
}

std::vector<storage::binding_record> binding_index::expire(std::int64_t now) {
  std::vector<storage::binding_record> out;
  wheel_.advance(now, [&](const timer_wheel::entry& e) {
    if (e.id >= slots_.size())
      return;
    auto& s = slots_[e.id];
    if (s.gen != e.gen || !s.number)
      return; // superseded, or the extension's bindings are gone
    s.scheduled_at = 0;
    auto keep = std::partition(s.bindings.begin(), s.bindings.end(),
                               [&](auto& p) { return p.expires_at > now; });
    for (auto j = keep; j != s.bindings.end(); ++j)
      out.push_back(unpack(s, *j));
    auto gone = static_cast<std::size_t>(s.bindings.end() - keep);
    s.bindings.erase(keep, s.bindings.end());
    bindings_ -= gone;
    if (s.bindings.empty()) {
      auto number = *s.number;
      set(number, {});
      return;
    }
    schedule(e.id);
  });
  return out;
}

const binding_index::auth* binding_index::cached_auth(std::string_view number) const {
  auto i = by_number_.find(std::string(number));
  if (i == by_number_.end() || !slots_[i->second].has_auth)
    return nullptr;
  return &slots_[i->second].cached;
}

void binding_index::cache_auth(std::string_view number, auth a) {
  auto i = by_number_.find(std::string(number));
  if (i == by_number_.end())
    return;
  auto& s = slots_[i->second];
  s.cached = std::move(a);
  s.has_auth = true;
}

void binding_index::forget_auth(std::string_view number) {
  auto i = by_number_.find(std::string(number));
  if (i == by_number_.end())
    return;
  auto& s = slots_[i->second];
  s.has_auth = false;
  s.cached = auth{};
}

std::vector<std::string> binding_index::numbers() const {
  std::vector<std::string> out;
  out.reserve(by_number_.size());
  for (auto& [n, id] : by_number_)
    out.push_back(n);
  std::sort(out.begin(), out.end());
  return out;
}

} // namespace pbx
