// Big-endian loads and stores at a byte offset. Callers check bounds first (parse() does it
// once per view), so these never see an offset past the end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace netstack::header {

inline std::uint8_t load8(std::span<const std::byte> b, std::size_t off) {
  return static_cast<std::uint8_t>(b[off]);
}
inline std::uint16_t load_be16(std::span<const std::byte> b, std::size_t off) {
  return static_cast<std::uint16_t>(load8(b, off) << 8 | load8(b, off + 1));
}
inline std::uint32_t load_be32(std::span<const std::byte> b, std::size_t off) {
  return static_cast<std::uint32_t>(load_be16(b, off)) << 16 | load_be16(b, off + 2);
}
inline void store8(std::span<std::byte> b, std::size_t off, std::uint8_t v) {
  b[off] = static_cast<std::byte>(v);
}
inline void store_be16(std::span<std::byte> b, std::size_t off, std::uint16_t v) {
  store8(b, off, static_cast<std::uint8_t>(v >> 8));
  store8(b, off + 1, static_cast<std::uint8_t>(v));
}
inline void store_be32(std::span<std::byte> b, std::size_t off, std::uint32_t v) {
  store_be16(b, off, static_cast<std::uint16_t>(v >> 16));
  store_be16(b, off + 2, static_cast<std::uint16_t>(v));
}
// True when [off, off + need) lies inside a buffer of len bytes; cannot overflow.
inline bool fits(std::size_t len, std::size_t off, std::size_t need) {
  return off <= len && need <= len - off;
}

}  // namespace netstack::header
