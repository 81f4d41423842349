#pragma once
// IPv4/IPv6 addresses and CIDR ranges: the allow list and bans name sources
// this way. No libre here: actors and net/ both use it.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pbx {

/// An address as 16 bytes (IPv4 as ::ffff:a.b.c.d), comparable and hashable.
struct ip_addr {
  std::array<std::uint8_t, 16> bytes{};
  bool operator==(const ip_addr& o) const { return bytes == o.bytes; }

  /// "192.0.2.1" or "2001:db8::1"; nothing for anything else.
  static std::optional<ip_addr> parse(std::string_view text);
  /// From a sockaddr's raw address (4 or 16 bytes).
  static ip_addr from_v4(const void* in_addr);
  static ip_addr from_v6(const void* in6_addr);
  bool is_v4() const;
  std::string to_string() const;
};

struct ip_addr_hash {
  std::size_t operator()(const ip_addr& a) const noexcept;
};

/// "192.0.2.0/24", "2001:db8::/32", or a single address (/32, /128).
struct cidr {
  ip_addr base;  // host bits cleared
  unsigned prefix = 128; // counted over the 16 bytes (IPv4 /24 is 120)

  static std::optional<cidr> parse(std::string_view text);
  bool contains(const ip_addr& a) const;
  /// Canonical text: "192.0.2.0/24", "192.0.2.1" for a single address.
  std::string to_string() const;
};

} // namespace pbx
