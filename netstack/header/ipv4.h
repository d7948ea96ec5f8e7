// IPv4 header (RFC 791) with options and fragmentation fields, as a view over bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "netstack/header/byte_order.h"
#include "netstack/tcpip/address.h"

namespace netstack::header {

inline constexpr std::uint8_t kProtocolIcmp = 1;
inline constexpr std::uint8_t kProtocolTcp = 6;
inline constexpr std::uint8_t kProtocolUdp = 17;

// RFC 791 option types this stack names; others are skipped by their length byte.
inline constexpr std::uint8_t kIpOptionEnd = 0;
inline constexpr std::uint8_t kIpOptionNop = 1;

class Ipv4View {
 public:
  static constexpr std::size_t kMinSize = 20;
  static constexpr std::size_t kMaxSize = 60;
  static constexpr std::uint16_t kFlagDontFragment = 0x4000;
  static constexpr std::uint16_t kFlagMoreFragments = 0x2000;

  // Succeeds only if: version 4; 20 <= IHL*4 <= total length <= buffer size; the options are
  // well formed (each option's length byte >= 2 and inside the header). Does not verify the
  // checksum (see checksum_valid) so that counters can tell the two faults apart.
  static std::optional<Ipv4View> parse(std::span<const std::byte> bytes);

  std::uint8_t version() const { return load8(bytes_, 0) >> 4; }
  std::size_t header_length() const { return static_cast<std::size_t>(load8(bytes_, 0) & 0xf) * 4; }
  std::uint8_t tos() const { return load8(bytes_, 1); }
  std::uint16_t total_length() const { return load_be16(bytes_, 2); }
  std::uint16_t id() const { return load_be16(bytes_, 4); }
  std::uint16_t flags_fragment() const { return load_be16(bytes_, 6); }
  bool dont_fragment() const { return flags_fragment() & kFlagDontFragment; }
  bool more_fragments() const { return flags_fragment() & kFlagMoreFragments; }
  // Offset of this fragment's payload in the original datagram, in bytes.
  std::size_t fragment_offset() const { return static_cast<std::size_t>(flags_fragment() & 0x1fff) * 8; }
  bool is_fragment() const { return more_fragments() || fragment_offset() != 0; }
  std::uint8_t ttl() const { return load8(bytes_, 8); }
  std::uint8_t protocol() const { return load8(bytes_, 9); }
  std::uint16_t checksum() const { return load_be16(bytes_, 10); }
  Ipv4Address src() const { return {load_be32(bytes_, 12)}; }
  Ipv4Address dst() const { return {load_be32(bytes_, 16)}; }
  std::span<const std::byte> options() const { return bytes_.subspan(kMinSize, header_length() - kMinSize); }
  std::span<const std::byte> header_bytes() const { return bytes_.first(header_length()); }
  // The payload up to total_length: link-layer padding beyond it is excluded.
  std::span<const std::byte> payload() const {
    return bytes_.subspan(header_length(), total_length() - header_length());
  }
  bool checksum_valid() const;

 private:
  explicit Ipv4View(std::span<const std::byte> b) : bytes_(b) {}
  std::span<const std::byte> bytes_;
};

struct Ipv4Fields {
  std::uint8_t tos = 0;
  std::uint16_t total_length = 0;
  std::uint16_t id = 0;
  std::uint16_t flags_fragment = 0;  // flags in the top 3 bits, offset in 8-byte units below
  std::uint8_t ttl = 64;
  std::uint8_t protocol = 0;
  Ipv4Address src, dst;
  std::span<const std::byte> options;  // length a multiple of 4, at most 40 bytes
};
inline std::size_t header_size(const Ipv4Fields& f) { return Ipv4View::kMinSize + f.options.size(); }
// Writes the header and its checksum. Precondition: out.size() >= header_size(f).
void emit(const Ipv4Fields& f, std::span<std::byte> out);

}  // namespace netstack::header
