// IPv6 fixed header (RFC 8200 section 3) as a view over bytes, and the upper-layer checksum's
// pseudo-header (RFC 8200 section 8.1). Extension headers belong to the payload: next_header()
// names the first of them, or the transport protocol when there are none.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "netstack/header/byte_order.h"
#include "netstack/tcpip/address.h"

namespace netstack::header {

class Ipv6View {
 public:
  static constexpr std::size_t kSize = 40;

  // Succeeds only if: version 6, and the buffer holds the fixed header and payload_length()
  // bytes after it. Bytes beyond that (link-layer padding) are not the payload's. A jumbogram
  // (RFC 2675: payload length 0, its real length in a Hop-by-Hop option) reads as an empty payload.
  static std::optional<Ipv6View> parse(std::span<const std::byte> bytes);

  std::uint8_t version() const { return load8(bytes_, 0) >> 4; }
  std::uint8_t traffic_class() const { return static_cast<std::uint8_t>(load_be16(bytes_, 0) >> 4); }
  std::uint32_t flow_label() const { return load_be32(bytes_, 0) & 0xfffff; }
  std::uint16_t payload_length() const { return load_be16(bytes_, kPayloadLength); }
  std::uint8_t next_header() const { return load8(bytes_, kNextHeader); }
  std::uint8_t hop_limit() const { return load8(bytes_, kHopLimit); }
  Ipv6Address src() const { return address_at(kSrc); }
  Ipv6Address dst() const { return address_at(kDst); }
  std::span<const std::byte> payload() const { return bytes_.subspan(kSize, payload_length()); }

 private:
  static constexpr std::size_t kPayloadLength = 4, kNextHeader = 6, kHopLimit = 7, kSrc = 8, kDst = 24;
  explicit Ipv6View(std::span<const std::byte> b) : bytes_(b) {}
  Ipv6Address address_at(std::size_t off) const;
  std::span<const std::byte> bytes_;
};

struct Ipv6Fields {
  std::uint8_t traffic_class = 0;
  std::uint32_t flow_label = 0;     // 20 bits; higher bits are ignored
  std::uint16_t payload_length = 0;
  std::uint8_t next_header = 0;
  std::uint8_t hop_limit = 64;
  Ipv6Address src, dst;
};
// Writes the fixed header (IPv6 has no header checksum). Precondition: out.size() >= Ipv6View::kSize.
void emit(const Ipv6Fields& f, std::span<std::byte> out);

// Partial sum of the upper-layer pseudo-header: source, destination, the upper-layer packet
// length (32 bits), three zero bytes and the next header value. Add the transport header and
// payload to it and finish() the result, as with IPv4's.
std::uint16_t pseudo_header_checksum(std::uint8_t next_header, const Ipv6Address& src, const Ipv6Address& dst,
                                     std::uint32_t length);

}  // namespace netstack::header
