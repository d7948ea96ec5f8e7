// ARP for IPv4 over Ethernet (RFC 826): hardware type 1, protocol 0x0800, lengths 6 and 4.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "netstack/header/byte_order.h"
#include "netstack/tcpip/address.h"

namespace netstack::header {

inline constexpr std::uint16_t kArpRequest = 1;
inline constexpr std::uint16_t kArpReply = 2;

class ArpView {
 public:
  static constexpr std::size_t kSize = 28;
  // Succeeds only for the Ethernet/IPv4 flavour with a known opcode; trailing padding is allowed.
  static std::optional<ArpView> parse(std::span<const std::byte> bytes);
  std::uint16_t hardware_type() const { return load_be16(bytes_, kHtype); }
  std::uint16_t protocol_type() const { return load_be16(bytes_, kPtype); }
  std::uint16_t op() const { return load_be16(bytes_, kOp); }
  LinkAddress sender_hw() const { return mac_at(kSha); }
  Ipv4Address sender_ip() const { return {load_be32(bytes_, kSpa)}; }
  LinkAddress target_hw() const { return mac_at(kTha); }
  Ipv4Address target_ip() const { return {load_be32(bytes_, kTpa)}; }

 private:
  explicit ArpView(std::span<const std::byte> b) : bytes_(b) {}
  LinkAddress mac_at(std::size_t off) const;
  static constexpr std::size_t kHtype = 0, kPtype = 2, kHlen = 4, kPlen = 5, kOp = 6, kSha = 8,
                               kSpa = 14, kTha = 18, kTpa = 24;
  std::span<const std::byte> bytes_;
};

struct ArpFields {
  std::uint16_t op = kArpRequest;
  LinkAddress sender_hw;
  Ipv4Address sender_ip;
  LinkAddress target_hw;
  Ipv4Address target_ip;
};
// Precondition: out.size() >= ArpView::kSize.
void emit(const ArpFields& f, std::span<std::byte> out);

}  // namespace netstack::header
