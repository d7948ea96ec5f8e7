#include "netstack/header/ethernet.h"

namespace netstack::header {

std::optional<EthernetView> EthernetView::parse(std::span<const std::byte> bytes) {
  if (bytes.size() < kSize) return std::nullopt;
  if (load_be16(bytes, kType) < 0x0600) return std::nullopt;  // 802.3 length field: not ours
  return EthernetView(bytes);
}

LinkAddress EthernetView::mac_at(std::size_t off) const {
  LinkAddress a;
  for (std::size_t i = 0; i < 6; ++i) a.octets[i] = load8(bytes_, off + i);
  return a;
}

void emit(const EthernetFields& f, std::span<std::byte> out) {
  for (std::size_t i = 0; i < 6; ++i) {
    store8(out, i, f.dst.octets[i]);
    store8(out, 6 + i, f.src.octets[i]);
  }
  store_be16(out, 12, f.ether_type);
}

}  // namespace netstack::header
