// The internet checksum (RFC 1071) and the IPv4 pseudo-header sums (RFC 768, RFC 9293 3.1).
#pragma once

#include <cstdint>
#include <span>

#include "netstack/tcpip/address.h"

namespace netstack::header {

// One's-complement sum of bytes folded to 16 bits, added to `initial` (not complemented).
// An odd trailing byte is padded with zero, as RFC 1071 says.
std::uint16_t checksum(std::span<const std::byte> bytes, std::uint16_t initial = 0);
// One's-complement addition of two partial sums.
std::uint16_t checksum_combine(std::uint16_t a, std::uint16_t b);
// Partial sum of the pseudo-header: source, destination, zero, protocol, length.
std::uint16_t pseudo_header_checksum(std::uint8_t protocol, Ipv4Address src, Ipv4Address dst,
                                     std::uint16_t length);
// The value to store in a checksum field: the complement of sum(header+payload+pseudo).
inline std::uint16_t finish(std::uint16_t sum) { return static_cast<std::uint16_t>(~sum); }

}  // namespace netstack::header
