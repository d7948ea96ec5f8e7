#include "netstack/tcpip/address.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstdio>
#include <string>

namespace netstack {

namespace {
// Parses a decimal number <= max from the front of s; advances s.
std::optional<unsigned> take_number(std::string_view& s, unsigned max) {
  unsigned v = 0;
  const auto* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, v);
  if (ec != std::errc() || ptr == s.data() || v > max || ptr - s.data() > 3) return std::nullopt;
  s.remove_prefix(static_cast<std::size_t>(ptr - s.data()));
  return v;
}
}  // namespace

std::optional<Ipv4Address> Ipv4Address::parse(std::string_view s) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) {
    if (i > 0) {
      if (s.empty() || s.front() != '.') return std::nullopt;
      s.remove_prefix(1);
    }
    auto octet = take_number(s, 255);
    if (!octet) return std::nullopt;
    v = v << 8 | *octet;
  }
  if (!s.empty()) return std::nullopt;
  return Ipv4Address{v};
}

std::string Ipv4Address::to_string() const {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", value >> 24, (value >> 16) & 0xff,
                (value >> 8) & 0xff, value & 0xff);
  return buf;
}

std::optional<Subnet> Subnet::parse(std::string_view s) {
  const auto slash = s.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto addr = Ipv4Address::parse(s.substr(0, slash));
  std::string_view rest = s.substr(slash + 1);
  auto len = take_number(rest, 32);
  if (!addr || !len || !rest.empty()) return std::nullopt;
  return Subnet{*addr, static_cast<std::uint8_t>(*len)};
}

std::optional<Ipv6Address> Ipv6Address::parse(std::string_view s) {
  if (s.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  const std::string text(s);   // inet_pton wants a NUL at the end
  Ipv6Address a;
  if (inet_pton(AF_INET6, text.c_str(), a.octets.data()) != 1) return std::nullopt;
  return a;
}

std::string Ipv6Address::to_string() const {
  char buf[INET6_ADDRSTRLEN];
  return inet_ntop(AF_INET6, octets.data(), buf, sizeof buf) ? buf : "";
}

std::string LinkAddress::to_string() const {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", octets[0], octets[1], octets[2],
                octets[3], octets[4], octets[5]);
  return buf;
}

}  // namespace netstack
