#include "netstack/header/arp.h"

namespace netstack::header {

std::optional<ArpView> ArpView::parse(std::span<const std::byte> bytes) {
  if (bytes.size() < kSize) return std::nullopt;
  ArpView v(bytes);
  if (v.hardware_type() != 1 || v.protocol_type() != 0x0800 || load8(bytes, kHlen) != 6 ||
      load8(bytes, kPlen) != 4)
    return std::nullopt;
  if (v.op() != kArpRequest && v.op() != kArpReply) return std::nullopt;
  return v;
}

LinkAddress ArpView::mac_at(std::size_t off) const {
  LinkAddress a;
  for (std::size_t i = 0; i < 6; ++i) a.octets[i] = load8(bytes_, off + i);
  return a;
}

void emit(const ArpFields& f, std::span<std::byte> out) {
  store_be16(out, 0, 1);
  store_be16(out, 2, 0x0800);
  store8(out, 4, 6);
  store8(out, 5, 4);
  store_be16(out, 6, f.op);
  for (std::size_t i = 0; i < 6; ++i) {
    store8(out, 8 + i, f.sender_hw.octets[i]);
    store8(out, 18 + i, f.target_hw.octets[i]);
  }
  store_be32(out, 14, f.sender_ip.value);
  store_be32(out, 24, f.target_ip.value);
}

}  // namespace netstack::header
