#include "net/media_math.hpp"

#include <algorithm>
#include <cctype>

namespace pbx::net::media {

namespace {

bool parse_port(std::string_view s, std::uint32_t& out) {
  if (s.empty() || s.size() > 5)
    return false;
  out = 0;
  for (char c : s) {
    if (c < '0' || c > '9')
      return false;
    out = out * 10 + static_cast<std::uint32_t>(c - '0');
  }
  return out >= 1 && out <= 65535;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
    s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size()
         && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
              return std::tolower(static_cast<unsigned char>(x))
                     == std::tolower(static_cast<unsigned char>(y));
            });
}

// "5", "*", "#", "A"-"D", or the event codes 10-15 some phones send.
char signal_digit(std::string_view v) {
  v = trim(v);
  if (v.size() == 1) {
    char c = static_cast<char>(std::toupper(static_cast<unsigned char>(v[0])));
    if ((c >= '0' && c <= '9') || c == '*' || c == '#' || (c >= 'A' && c <= 'D'))
      return c;
    return 0;
  }
  if (v.size() == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5')
    return "*#ABCD"[v[1] - '0'];
  return 0;
}

std::string_view media_type(std::string_view content_type) {
  return trim(content_type.substr(0, content_type.find(';')));
}

} // namespace

std::optional<port_range> parse_port_range(std::string_view text) {
  auto dash = text.find('-');
  if (dash == std::string_view::npos)
    return std::nullopt;
  std::uint32_t lo, hi;
  if (!parse_port(trim(text.substr(0, dash)), lo) || !parse_port(trim(text.substr(dash + 1)), hi))
    return std::nullopt;
  if (lo % 2)
    ++lo;
  if (lo > hi)
    return std::nullopt;
  return port_range{static_cast<std::uint16_t>(lo), static_cast<std::uint16_t>(hi)};
}

port_pool::port_pool(port_range r) : first_(static_cast<std::uint16_t>(r.lo + r.lo % 2)) {
  if (first_ <= r.hi && first_ >= r.lo)
    used_.assign((r.hi - first_) / 2 + 1, false);
}

std::optional<std::uint16_t> port_pool::take() {
  for (std::size_t i = 0; i < used_.size(); ++i) {
    auto k = (next_ + i) % used_.size();
    if (!used_[k]) {
      used_[k] = true;
      ++taken_;
      next_ = (k + 1) % used_.size();
      return static_cast<std::uint16_t>(first_ + 2 * k);
    }
  }
  return std::nullopt;
}

void port_pool::release(std::uint16_t port) {
  if (port < first_ || (port - first_) % 2)
    return;
  auto k = static_cast<std::size_t>((port - first_) / 2);
  if (k < used_.size() && used_[k]) {
    used_[k] = false;
    --taken_;
  }
}

void frame_clock::start(std::int64_t now_ms) {
  start_ = now_ms;
  done_ = 0;
  skipped_ = 0;
}

std::uint32_t frame_clock::due(std::int64_t now_ms) {
  if (now_ms < start_)
    return 0;
  // Ticks 0..k are due at `now`.
  auto owed = static_cast<std::uint64_t>((now_ms - start_) / frame_ms) + 1;
  if (owed <= done_)
    return 0;
  auto n = owed - done_;
  if (n > max_catch_up_) {
    skipped_ += n - max_catch_up_;
    done_ += n - max_catch_up_;
    n = max_catch_up_;
  }
  done_ += n;
  return static_cast<std::uint32_t>(n);
}

std::int64_t frame_clock::delay(std::int64_t now_ms) const {
  auto next = start_ + static_cast<std::int64_t>(done_) * frame_ms;
  return next > now_ms ? next - now_ms : 0;
}

double frame_energy(const std::int16_t* pcm, std::size_t n) {
  if (n == 0)
    return 0.0;
  double sum = 0.0;
  for (std::size_t i = 0; i < n; ++i)
    sum += static_cast<double>(pcm[i]) * pcm[i];
  return sum / static_cast<double>(n);
}

std::uint32_t timestamp_gap(std::uint32_t expected_ts, std::uint32_t ts, std::uint32_t max_gap) {
  auto d = static_cast<std::int32_t>(ts - expected_ts);
  if (d <= 0 || static_cast<std::uint32_t>(d) > max_gap)
    return 0;
  return static_cast<std::uint32_t>(d);
}

recorder::end recorder::feed(const std::int16_t* pcm, std::size_t n, bool packet,
                             std::vector<std::int16_t>& out) {
  if (ended_ || n == 0)
    return end::none;
  std::uint64_t max = std::uint64_t{lim_.max_ms} * 8;
  bool at_max = false;
  if (max && kept_ + held_.size() + n >= max) {
    n = static_cast<std::size_t>(max - kept_ - held_.size());
    at_max = true;
  }
  bool silent = !packet || frame_energy(pcm, n) < lim_.threshold;
  if (lim_.silence_ms && silent) {
    if (packet)
      held_.insert(held_.end(), pcm, pcm + n);
    else
      held_.insert(held_.end(), n, 0);
    held_packets_ += packet ? 1 : 0;
    if (held_.size() >= std::uint64_t{lim_.silence_ms} * 8) {
      held_.clear(); // the trailing silence stays out of the file
      held_packets_ = 0;
      ended_ = true;
      return end::silence;
    }
  } else {
    flush(out);
    if (packet)
      out.insert(out.end(), pcm, pcm + n);
    else
      out.insert(out.end(), n, 0);
    kept_ += n;
    packets_ += packet ? 1 : 0;
  }
  if (at_max) {
    flush(out);
    ended_ = true;
    return end::max;
  }
  return end::none;
}

void recorder::flush(std::vector<std::int16_t>& out) {
  out.insert(out.end(), held_.begin(), held_.end());
  kept_ += held_.size();
  packets_ += held_packets_;
  held_.clear();
  held_packets_ = 0;
}

void recorder::finish(std::vector<std::int16_t>& out) {
  if (!ended_)
    flush(out);
  ended_ = true;
}

bool is_dtmf_info(std::string_view content_type) {
  auto t = media_type(content_type);
  return iequals(t, "application/dtmf-relay") || iequals(t, "application/dtmf");
}

char info_digit(std::string_view content_type, std::string_view body) {
  auto t = media_type(content_type);
  if (iequals(t, "application/dtmf"))
    return signal_digit(body);
  if (!iequals(t, "application/dtmf-relay"))
    return 0;
  while (!body.empty()) {
    auto eol = body.find('\n');
    auto line = body.substr(0, eol);
    body = eol == std::string_view::npos ? std::string_view{} : body.substr(eol + 1);
    auto eq = line.find('=');
    if (eq != std::string_view::npos && iequals(trim(line.substr(0, eq)), "Signal"))
      return signal_digit(line.substr(eq + 1));
  }
  return 0;
}

} // namespace pbx::net::media
