#include "netstack/header/checksum.h"

#include "netstack/header/byte_order.h"

namespace netstack::header {

std::uint16_t checksum(std::span<const std::byte> bytes, std::uint16_t initial) {
  // 64-bit accumulator: no fold is needed until the end for any packet below 2^48 bytes.
  std::uint64_t sum = initial;
  std::size_t i = 0;
  const std::size_t n = bytes.size();
  for (; i + 8 <= n; i += 8) {
    sum += load_be32(bytes, i);
    sum += load_be32(bytes, i + 4);
  }
  for (; i + 2 <= n; i += 2) sum += load_be16(bytes, i);
  if (i < n) sum += static_cast<std::uint64_t>(load8(bytes, i)) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

std::uint16_t checksum_combine(std::uint16_t a, std::uint16_t b) {
  std::uint32_t s = static_cast<std::uint32_t>(a) + b;
  return static_cast<std::uint16_t>((s & 0xffff) + (s >> 16));
}

std::uint16_t pseudo_header_checksum(std::uint8_t protocol, Ipv4Address src, Ipv4Address dst,
                                     std::uint16_t length) {
  std::uint64_t sum = (src.value >> 16) + (src.value & 0xffff) + (dst.value >> 16) +
                      (dst.value & 0xffff) + protocol + length;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

}  // namespace netstack::header
