#include "netstack/header/checksum.h"

#include <bit>
#include <cstring>

#include "netstack/header/byte_order.h"

namespace netstack::header {

namespace {

// The one's-complement sum does not depend on byte order (RFC 1071 section 2(B)): sum the bytes
// as native-endian 64-bit words with end-around carry, fold, and swap once at the end. Eight
// bytes per add instead of two; this is most of the time a bulk TCP transfer spends.
std::uint64_t add_carry(std::uint64_t sum, std::uint64_t w) {
  sum += w;
  return sum + (sum < w);
}

std::uint64_t load_native(const unsigned char* p, std::size_t n) {
  std::uint64_t w = 0;
  std::memcpy(&w, p, n);
  return w;
}

}  // namespace

std::uint16_t checksum(std::span<const std::byte> bytes, std::uint16_t initial) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  std::size_t n = bytes.size();
  std::uint64_t a = 0, b = 0;   // two chains, so the adds of consecutive words overlap
  for (; n >= 16; p += 16, n -= 16) {
    a = add_carry(a, load_native(p, 8));
    b = add_carry(b, load_native(p + 8, 8));
  }
  a = add_carry(a, b);
  if (n >= 8) {
    a = add_carry(a, load_native(p, 8));
    p += 8;
    n -= 8;
  }
  // The last 0..7 bytes: zero-padded on the right, as the odd trailing byte is.
  if (n) a = add_carry(a, load_native(p, n));
  std::uint64_t sum = (a & 0xffffffffu) + (a >> 32);
  sum = (sum & 0xffffffffu) + (sum >> 32);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  auto folded = static_cast<std::uint16_t>(sum);
  if constexpr (std::endian::native == std::endian::little)
    folded = static_cast<std::uint16_t>((folded >> 8) | (folded << 8));
  return checksum_combine(folded, initial);
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
