#include "netstack/header/ipv6.h"

#include "netstack/header/checksum.h"

namespace netstack::header {

std::optional<Ipv6View> Ipv6View::parse(std::span<const std::byte> bytes) {
  if (bytes.size() < kSize) return std::nullopt;
  Ipv6View v(bytes);
  if (v.version() != 6) return std::nullopt;
  if (!fits(bytes.size(), kSize, v.payload_length())) return std::nullopt;
  return v;
}

Ipv6Address Ipv6View::address_at(std::size_t off) const {
  Ipv6Address a;
  for (std::size_t i = 0; i < a.octets.size(); ++i) a.octets[i] = load8(bytes_, off + i);
  return a;
}

void emit(const Ipv6Fields& f, std::span<std::byte> out) {
  // Version 6, then the traffic class and the flow label: one 32-bit word.
  store_be32(out, 0, 6u << 28 | static_cast<std::uint32_t>(f.traffic_class) << 20 | (f.flow_label & 0xfffff));
  store_be16(out, 4, f.payload_length);
  store8(out, 6, f.next_header);
  store8(out, 7, f.hop_limit);
  for (std::size_t i = 0; i < f.src.octets.size(); ++i) {
    store8(out, 8 + i, f.src.octets[i]);
    store8(out, 24 + i, f.dst.octets[i]);
  }
}

std::uint16_t pseudo_header_checksum(std::uint8_t next_header, const Ipv6Address& src, const Ipv6Address& dst,
                                     std::uint32_t length) {
  std::byte tail[8] = {};
  store_be32(tail, 0, length);
  store8(tail, 7, next_header);
  const auto bytes = [](const Ipv6Address& a) { return std::as_bytes(std::span(a.octets)); };
  return checksum(tail, checksum(bytes(dst), checksum(bytes(src))));
}

}  // namespace netstack::header
