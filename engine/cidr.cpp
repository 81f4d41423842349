#include "engine/cidr.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace pbx {

namespace {

constexpr std::uint8_t v4_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

} // namespace

std::optional<ip_addr> ip_addr::parse(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN)
    return std::nullopt;
  std::string s{text};
  std::uint8_t buf[16];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1)
    return from_v4(buf);
  if (inet_pton(AF_INET6, s.c_str(), buf) == 1)
    return from_v6(buf);
  return std::nullopt;
}

ip_addr ip_addr::from_v4(const void* in_addr) {
  ip_addr a;
  std::memcpy(a.bytes.data(), v4_prefix, 12);
  std::memcpy(a.bytes.data() + 12, in_addr, 4);
  return a;
}

ip_addr ip_addr::from_v6(const void* in6_addr) {
  ip_addr a;
  std::memcpy(a.bytes.data(), in6_addr, 16);
  return a;
}

bool ip_addr::is_v4() const {
  return std::memcmp(bytes.data(), v4_prefix, 12) == 0;
}

std::string ip_addr::to_string() const {
  char buf[INET6_ADDRSTRLEN] = "";
  if (is_v4())
    inet_ntop(AF_INET, bytes.data() + 12, buf, sizeof(buf));
  else
    inet_ntop(AF_INET6, bytes.data(), buf, sizeof(buf));
  return buf;
}

std::size_t ip_addr_hash::operator()(const ip_addr& a) const noexcept {
  // FNV-1a: short keys, no allocation.
  std::size_t h = 1469598103934665603ull;
  for (auto b : a.bytes)
    h = (h ^ b) * 1099511628211ull;
  return h;
}

std::optional<cidr> cidr::parse(std::string_view text) {
  auto slash = text.find('/');
  auto base = ip_addr::parse(text.substr(0, slash));
  if (!base)
    return std::nullopt;
  unsigned max = base->is_v4() ? 32 : 128;
  unsigned bits = max;
  if (slash != std::string_view::npos) {
    auto digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3)
      return std::nullopt;
    bits = 0;
    for (char c : digits) {
      if (c < '0' || c > '9')
        return std::nullopt;
      bits = bits * 10 + static_cast<unsigned>(c - '0');
    }
    if (bits > max)
      return std::nullopt;
  }
  cidr r;
  r.prefix = bits + (128 - max);
  r.base = *base;
  for (unsigned i = r.prefix; i < 128; ++i)
    r.base.bytes[i / 8] &= static_cast<std::uint8_t>(~(0x80u >> (i % 8)));
  return r;
}

bool cidr::contains(const ip_addr& a) const {
  unsigned full = prefix / 8;
  if (std::memcmp(a.bytes.data(), base.bytes.data(), full) != 0)
    return false;
  if (prefix % 8 == 0)
    return true;
  auto mask = static_cast<std::uint8_t>(0xff00u >> (prefix % 8));
  return (a.bytes[full] & mask) == base.bytes[full];
}

std::string cidr::to_string() const {
  unsigned bits = base.is_v4() ? prefix - 96 : prefix;
  unsigned max = base.is_v4() ? 32 : 128;
  return bits == max ? base.to_string() : base.to_string() + "/" + std::to_string(bits);
}

} // namespace pbx
