// Addresses as the stack's users see them (gVisor tcpip.Address, FullAddress, LinkAddress).
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace netstack {

using NicId = std::int32_t;
inline constexpr NicId kAnyNic = 0;

// An IPv4 address held in host order; bytes() gives network order.
struct Ipv4Address {
  std::uint32_t value = 0;

  static constexpr Ipv4Address from_octets(std::uint8_t a, std::uint8_t b, std::uint8_t c,
                                           std::uint8_t d) {
    return {static_cast<std::uint32_t>(a) << 24 | static_cast<std::uint32_t>(b) << 16 |
            static_cast<std::uint32_t>(c) << 8 | d};
  }
  static constexpr Ipv4Address any() { return {0}; }
  static constexpr Ipv4Address broadcast() { return {0xffffffffu}; }
  // Dotted quad only ("10.0.0.1"); nullopt for anything else.
  static std::optional<Ipv4Address> parse(std::string_view s);
  std::string to_string() const;
  bool is_any() const { return value == 0; }
  bool is_broadcast() const { return value == 0xffffffffu; }
  bool is_multicast() const { return (value >> 28) == 0xe; }
  bool is_loopback() const { return (value >> 24) == 127; }
  friend constexpr auto operator<=>(Ipv4Address, Ipv4Address) = default;
};

// An address with its prefix, as assigned to a NIC (10.0.0.1/24) or as a route destination.
struct Subnet {
  Ipv4Address address;
  std::uint8_t prefix_len = 0;  // 0..32

  std::uint32_t mask() const { return prefix_len == 0 ? 0 : ~0u << (32 - prefix_len); }
  bool contains(Ipv4Address a) const { return (a.value & mask()) == (address.value & mask()); }
  Ipv4Address network() const { return {address.value & mask()}; }
  Ipv4Address directed_broadcast() const { return {address.value | ~mask()}; }
  // "10.0.0.0/24"; nullopt when malformed or the prefix exceeds 32.
  static std::optional<Subnet> parse(std::string_view s);
  friend constexpr bool operator==(const Subnet&, const Subnet&) = default;
};

// An IPv6 address, in network byte order.
struct Ipv6Address {
  std::array<std::uint8_t, 16> octets{};

  static constexpr Ipv6Address loopback() {
    Ipv6Address a;
    a.octets[15] = 1;
    return a;
  }
  // The RFC 4291 text forms ("::1", "2001:db8::7", "::ffff:10.0.0.1"); nullopt for anything else.
  static std::optional<Ipv6Address> parse(std::string_view s);
  std::string to_string() const;   // RFC 5952's canonical form
  friend constexpr bool operator==(const Ipv6Address&, const Ipv6Address&) = default;
};

struct LinkAddress {
  std::array<std::uint8_t, 6> octets{};
  static constexpr LinkAddress broadcast() { return {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}; }
  bool is_broadcast() const { return *this == broadcast(); }
  bool is_zero() const { return *this == LinkAddress{}; }
  std::string to_string() const;
  friend constexpr bool operator==(const LinkAddress&, const LinkAddress&) = default;
};

// A transport address (gVisor tcpip.FullAddress): NIC optional, address any = unspecified.
struct FullAddress {
  NicId nic = kAnyNic;
  Ipv4Address addr;
  std::uint16_t port = 0;
  friend constexpr bool operator==(const FullAddress&, const FullAddress&) = default;
};

}  // namespace netstack
