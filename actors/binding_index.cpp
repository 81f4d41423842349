#include "actors/binding_index.hpp"

#include <algorithm>
#include <functional>
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
  if (!p.transport)
    p.spelled = static_cast<std::uint8_t>(std::min<std::size_t>(r.transport.size(), 255));
  p.text = std::make_unique<char[]>(total + p.spelled);
  auto* at = p.text.get();
  for (std::size_t i = 0; i < 5; ++i)
    at = std::copy_n(parts[i]->data(), p.len[i], at);
  std::copy_n(r.transport.data(), p.spelled, at);
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
  r.number = s.number;
  std::string* parts[] = {&r.contact, &r.params, &r.call_id, &r.received_ip, &r.user_agent};
  const char* at = p.text.get();
  for (std::size_t i = 0; i < 5; ++i) {
    parts[i]->assign(at, p.len[i]);
    at += p.len[i];
  }
  r.transport = p.transport ? std::string(transports[p.transport]) : std::string(at, p.spelled);
  r.cseq = p.cseq;
  r.received_port = p.port;
  r.via_node = p.via_node;
  r.expires_at = p.expires_at;
  r.registered_at = p.registered_at;
  return r;
}

std::size_t binding_index::home(std::string_view number) const {
  return std::hash<std::string_view>{}(number) & (table_.size() - 1);
}

std::uint32_t binding_index::find(std::string_view number) const {
  if (table_.empty())
    return none;
  for (auto i = home(number);; i = (i + 1) & (table_.size() - 1)) {
    auto id = table_[i];
    if (id == none || slots_[id].number == number)
      return id;
  }
}

void binding_index::grow() {
  std::vector<std::uint32_t> old(std::max<std::size_t>(16, table_.size() * 2), none);
  old.swap(table_);
  used_ = 0;
  for (auto id : old)
    if (id != none)
      insert(id);
}

void binding_index::insert(std::uint32_t id) {
  // At most 70% full, so that a probe ends soon at an empty entry.
  if ((used_ + 1) * 10 > table_.size() * 7)
    grow();
  auto i = home(slots_[id].number);
  while (table_[i] != none)
    i = (i + 1) & (table_.size() - 1);
  table_[i] = id;
  ++used_;
}

void binding_index::remove(std::uint32_t id) {
  auto mask = table_.size() - 1;
  auto hole = home(slots_[id].number);
  while (table_[hole] != id)
    hole = (hole + 1) & mask;
  table_[hole] = none;
  --used_;
  // Backward shift: an entry after the hole moves into it unless its home
  // lies cyclically in (hole, j], so that every probe still finds it.
  for (auto j = (hole + 1) & mask; table_[j] != none; j = (j + 1) & mask) {
    auto h = home(slots_[table_[j]].number);
    bool stays = hole < j ? (h > hole && h <= j) : (h > hole || h <= j);
    if (stays)
      continue;
    table_[hole] = table_[j];
    table_[j] = none;
    hole = j;
  }
}

std::vector<storage::binding_record> binding_index::get(std::string_view number) const {
  std::vector<storage::binding_record> out;
  auto id = find(number);
  if (id == none)
    return out;
  auto& s = slots_[id];
  out.reserve(s.bindings.size());
  for (auto& p : s.bindings)
    out.push_back(unpack(s, p));
  return out;
}

std::size_t binding_index::live(std::string_view number, std::int64_t now) const {
  auto id = find(number);
  if (id == none)
    return 0;
  auto& b = slots_[id].bindings;
  return static_cast<std::size_t>(
      std::count_if(b.begin(), b.end(), [&](auto& p) { return p.expires_at > now; }));
}

void binding_index::set(std::string_view number,
                        const std::vector<storage::binding_record>& recs) {
  auto id = find(number);
  if (recs.empty()) {
    if (id == none)
      return;
    remove(id);
    auto& s = slots_[id];
    bindings_ -= s.bindings.size();
    // A later generation makes the pending wheel entry stale.
    s = slot{{}, {}, 0, s.gen + 1};
    free_.push_back(id);
    return;
  }
  if (id == none) {
    if (!free_.empty()) {
      id = free_.back();
      free_.pop_back();
    } else {
      id = static_cast<std::uint32_t>(slots_.size());
      slots_.emplace_back();
    }
    slots_[id].number.assign(number);
    insert(id);
  }
  auto& s = slots_[id];
  bindings_ -= s.bindings.size();
  s.bindings.clear();
  s.bindings.reserve(recs.size());
  for (auto& r : recs)
    s.bindings.push_back(pack(r));
  s.bindings.shrink_to_fit();
  bindings_ += s.bindings.size();
  schedule(id);
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
    if (s.gen != e.gen || s.bindings.empty())
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
      auto number = s.number;
      set(number, {});
      return;
    }
    schedule(e.id);
  });
  return out;
}

namespace {

int nibble(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

} // namespace

std::optional<binding_index::auth> binding_index::cached_auth(std::string_view number) const {
  auto id = find(number);
  if (id == none || !slots_[id].has_auth)
    return std::nullopt;
  auto& s = slots_[id];
  static const char* digits = "0123456789abcdef";
  auth a;
  a.ha1.reserve(32);
  for (auto b : s.ha1) {
    a.ha1 += digits[b >> 4];
    a.ha1 += digits[b & 0x0f];
  }
  a.enabled = s.enabled;
  return a;
}

void binding_index::cache_auth(std::string_view number, const auth& a) {
  auto id = find(number);
  if (id == none || a.ha1.size() != 32)
    return;
  std::array<std::uint8_t, 16> bin{};
  for (std::size_t i = 0; i < 16; ++i) {
    int hi = nibble(a.ha1[2 * i]), lo = nibble(a.ha1[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return; // not as digest::ha1 writes it: read from storage each time
    bin[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  auto& s = slots_[id];
  s.ha1 = bin;
  s.enabled = a.enabled;
  s.has_auth = true;
}

void binding_index::forget_auth(std::string_view number) {
  auto id = find(number);
  if (id != none)
    slots_[id].has_auth = false;
}

std::vector<std::string> binding_index::numbers() const {
  std::vector<std::string> out;
  out.reserve(used_);
  for (auto id : table_)
    if (id != none)
      out.push_back(slots_[id].number);
  std::sort(out.begin(), out.end());
  return out;
}

} // namespace pbx
