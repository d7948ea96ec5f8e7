// TCP header (RFC 9293) with its options: MSS (RFC 9293 3.2), window scale and timestamps
// (RFC 7323), SACK-permitted and SACK blocks (RFC 2018). A view over bytes plus plain structs.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "netstack/header/byte_order.h"
#include "netstack/tcpip/address.h"

namespace netstack::header {

inline constexpr std::uint8_t kTcpFlagFin = 0x01;
inline constexpr std::uint8_t kTcpFlagSyn = 0x02;
inline constexpr std::uint8_t kTcpFlagRst = 0x04;
inline constexpr std::uint8_t kTcpFlagPsh = 0x08;
inline constexpr std::uint8_t kTcpFlagAck = 0x10;
inline constexpr std::uint8_t kTcpFlagUrg = 0x20;
inline constexpr std::uint8_t kTcpFlagEce = 0x40;
inline constexpr std::uint8_t kTcpFlagCwr = 0x80;

inline constexpr std::uint8_t kTcpOptionEnd = 0, kTcpOptionNop = 1, kTcpOptionMss = 2,
                              kTcpOptionWindowScale = 3, kTcpOptionSackPermitted = 4,
                              kTcpOptionSack = 5, kTcpOptionTimestamps = 8;

struct SackBlock {
  std::uint32_t left = 0, right = 0;  // [left, right) in sequence space
  friend constexpr bool operator==(const SackBlock&, const SackBlock&) = default;
};
struct TcpTimestamps {
  std::uint32_t tsval = 0, tsecr = 0;
  friend constexpr bool operator==(const TcpTimestamps&, const TcpTimestamps&) = default;
};

// Every option this stack understands; unknown kinds are skipped by their length.
struct TcpOptions {
  std::optional<std::uint16_t> mss;
  std::optional<std::uint8_t> window_scale;  // shift count as sent (RFC 7323 caps use at 14)
  bool sack_permitted = false;
  std::array<SackBlock, 4> sack_blocks{};
  std::uint8_t sack_block_count = 0;
  std::optional<TcpTimestamps> timestamps;
  friend bool operator==(const TcpOptions&, const TcpOptions&) = default;
};

// Parses an options area. nullopt when an option is truncated or has a length its kind does not
// allow (MSS 4, window scale 3, SACK-permitted 2, timestamps 10, SACK 2 + 8n with n in 1..4).
std::optional<TcpOptions> parse_tcp_options(std::span<const std::byte> opts);
// Bytes emit_tcp_options() writes for o: padded with NOPs/EOL to a multiple of 4.
std::size_t tcp_options_size(const TcpOptions& o);
// Precondition: out.size() >= tcp_options_size(o).
void emit_tcp_options(const TcpOptions& o, std::span<std::byte> out);

class TcpView {
 public:
  static constexpr std::size_t kMinSize = 20;
  static constexpr std::size_t kMaxSize = 60;
  // Succeeds only if 20 <= data offset*4 <= buffer size and the options parse.
  static std::optional<TcpView> parse(std::span<const std::byte> bytes);
  std::uint16_t src_port() const { return load_be16(bytes_, 0); }
  std::uint16_t dst_port() const { return load_be16(bytes_, 2); }
  std::uint32_t seq_number() const { return load_be32(bytes_, 4); }
  std::uint32_t ack_number() const { return load_be32(bytes_, 8); }
  std::size_t data_offset() const { return static_cast<std::size_t>(load8(bytes_, 12) >> 4) * 4; }
  std::uint8_t flags() const { return load8(bytes_, 13); }
  std::uint16_t window() const { return load_be16(bytes_, 14); }
  std::uint16_t checksum() const { return load_be16(bytes_, 16); }
  std::uint16_t urgent_pointer() const { return load_be16(bytes_, 18); }
  std::span<const std::byte> options_bytes() const { return bytes_.subspan(kMinSize, data_offset() - kMinSize); }
  const TcpOptions& options() const { return options_; }
  std::span<const std::byte> payload() const { return bytes_.subspan(data_offset()); }
  // The whole buffer is the segment: the caller passes exactly the IP payload.
  bool checksum_valid(Ipv4Address src, Ipv4Address dst) const;

 private:
  TcpView(std::span<const std::byte> b, const TcpOptions& o) : bytes_(b), options_(o) {}
  std::span<const std::byte> bytes_;
  TcpOptions options_;
};

struct TcpFields {
  std::uint16_t src_port = 0, dst_port = 0;
  std::uint32_t seq_number = 0, ack_number = 0;
  std::uint8_t flags = 0;
  std::uint16_t window = 0, urgent_pointer = 0;
  TcpOptions options;
};
inline std::size_t header_size(const TcpFields& f) { return TcpView::kMinSize + tcp_options_size(f.options); }
// Writes header and options and the checksum over pseudo-header, header and `payload`, which
// follows the header on the wire. Precondition: out.size() >= header_size(f) and the options fit
// in 40 bytes.
void emit(const TcpFields& f, Ipv4Address src, Ipv4Address dst, std::span<const std::byte> payload,
          std::span<std::byte> out);
// As above over any network layer: `pseudo` is the pseudo-header's partial sum for this segment's
// length (IPv4's or IPv6's pseudo_header_checksum()).
void emit(const TcpFields& f, std::uint16_t pseudo, std::span<const std::byte> payload, std::span<std::byte> out);

}  // namespace netstack::header
