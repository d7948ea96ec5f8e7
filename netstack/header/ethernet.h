// Ethernet II header (IEEE 802.3 framing with an EtherType), as a view over bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "netstack/header/byte_order.h"
#include "netstack/tcpip/address.h"

namespace netstack::header {

inline constexpr std::uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr std::uint16_t kEtherTypeArp = 0x0806;

class EthernetView {
 public:
  static constexpr std::size_t kSize = 14;
  // Succeeds when the buffer holds the whole header and the EtherType is a type (>= 0x0600),
  // not an 802.3 length.
  static std::optional<EthernetView> parse(std::span<const std::byte> bytes);
  LinkAddress dst() const { return mac_at(kDst); }
  LinkAddress src() const { return mac_at(kSrc); }
  std::uint16_t ether_type() const { return load_be16(bytes_, kType); }
  std::span<const std::byte> payload() const { return bytes_.subspan(kSize); }

 private:
  explicit EthernetView(std::span<const std::byte> b) : bytes_(b) {}
  LinkAddress mac_at(std::size_t off) const;
  static constexpr std::size_t kDst = 0, kSrc = 6, kType = 12;
  std::span<const std::byte> bytes_;
};

struct EthernetFields {
  LinkAddress dst, src;
  std::uint16_t ether_type = 0;
};
// Precondition: out.size() >= EthernetView::kSize.
void emit(const EthernetFields& f, std::span<std::byte> out);

}  // namespace netstack::header
