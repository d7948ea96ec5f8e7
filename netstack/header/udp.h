// UDP header (RFC 768), as a view over bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "netstack/header/byte_order.h"
#include "netstack/tcpip/address.h"

namespace netstack::header {

class UdpView {
 public:
  static constexpr std::size_t kSize = 8;
  // Succeeds only if the buffer holds the whole header and 8 <= length <= buffer size.
  // After that, no accessor reads out of bounds.
  static std::optional<UdpView> parse(std::span<const std::byte> bytes);
  std::uint16_t src_port() const { return load_be16(bytes_, kSrcPort); }
  std::uint16_t dst_port() const { return load_be16(bytes_, kDstPort); }
  std::uint16_t length() const { return load_be16(bytes_, kLength); }
  std::uint16_t checksum() const { return load_be16(bytes_, kChecksum); }
  std::span<const std::byte> payload() const { return bytes_.subspan(kSize, length() - kSize); }
  // RFC 768: a zero checksum means the sender did not compute one, so it counts as valid.
  bool checksum_valid(Ipv4Address src, Ipv4Address dst) const;

 private:
  explicit UdpView(std::span<const std::byte> b) : bytes_(b) {}
  static constexpr std::size_t kSrcPort = 0, kDstPort = 2, kLength = 4, kChecksum = 6;
  std::span<const std::byte> bytes_;
};

struct UdpFields {
  std::uint16_t src_port = 0, dst_port = 0, length = 0;
};
// Writes the header and the checksum over pseudo-header, header and `payload` (which follows
// the header on the wire). A computed 0 is sent as 0xffff (RFC 768).
// Precondition: out.size() >= UdpView::kSize.
void emit(const UdpFields& f, Ipv4Address src, Ipv4Address dst, std::span<const std::byte> payload,
          std::span<std::byte> out);
// As above over any network layer: `pseudo` is the pseudo-header's partial sum for f.length
// (IPv4's or IPv6's pseudo_header_checksum()). RFC 8200 8.1: over IPv6 the checksum is mandatory,
// which the 0 -> 0xffff rule keeps.
void emit(const UdpFields& f, std::uint16_t pseudo, std::span<const std::byte> payload, std::span<std::byte> out);

}  // namespace netstack::header
