// ICMPv4 (RFC 792): echo request/reply and destination unreachable, as a view over bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "netstack/header/byte_order.h"

namespace netstack::header {

inline constexpr std::uint8_t kIcmpEchoReply = 0;
inline constexpr std::uint8_t kIcmpDestUnreachable = 3;
inline constexpr std::uint8_t kIcmpEchoRequest = 8;
inline constexpr std::uint8_t kIcmpTimeExceeded = 11;
// Destination-unreachable codes.
inline constexpr std::uint8_t kIcmpProtocolUnreachable = 2;
inline constexpr std::uint8_t kIcmpPortUnreachable = 3;
inline constexpr std::uint8_t kIcmpFragmentationNeeded = 4;

class Icmpv4View {
 public:
  static constexpr std::size_t kSize = 8;
  // Succeeds when the buffer holds the 8-byte header; the whole buffer is the message.
  static std::optional<Icmpv4View> parse(std::span<const std::byte> bytes);
  std::uint8_t type() const { return load8(bytes_, 0); }
  std::uint8_t code() const { return load8(bytes_, 1); }
  std::uint16_t checksum() const { return load_be16(bytes_, 2); }
  // Echo request/reply fields (RFC 792 "Echo or Echo Reply Message").
  std::uint16_t ident() const { return load_be16(bytes_, 4); }
  std::uint16_t sequence() const { return load_be16(bytes_, 6); }
  std::uint32_t rest_of_header() const { return load_be32(bytes_, 4); }
  std::span<const std::byte> payload() const { return bytes_.subspan(kSize); }
  std::span<const std::byte> message() const { return bytes_; }
  // The checksum covers the whole ICMP message.
  bool checksum_valid() const;

 private:
  explicit Icmpv4View(std::span<const std::byte> b) : bytes_(b) {}
  std::span<const std::byte> bytes_;
};

struct Icmpv4Fields {
  std::uint8_t type = 0, code = 0;
  std::uint32_t rest_of_header = 0;  // ident << 16 | sequence for echo; unused (0) otherwise
};
// Writes the header with the checksum over header and `payload`, which the caller places right
// after it. Precondition: out.size() >= Icmpv4View::kSize.
void emit(const Icmpv4Fields& f, std::span<const std::byte> payload, std::span<std::byte> out);

}  // namespace netstack::header
