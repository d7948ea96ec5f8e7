#include "netstack/header/udp.h"

#include "netstack/header/checksum.h"
#include "netstack/header/ipv4.h"

namespace netstack::header {

std::optional<UdpView> UdpView::parse(std::span<const std::byte> bytes) {
  if (bytes.size() < kSize) return std::nullopt;
  UdpView v(bytes);
  if (v.length() < kSize || v.length() > bytes.size()) return std::nullopt;
  return v;
}

bool UdpView::checksum_valid(Ipv4Address src, Ipv4Address dst) const {
  if (checksum() == 0) return true;
  const auto datagram = bytes_.first(length());
  return header::checksum(datagram, pseudo_header_checksum(kProtocolUdp, src, dst, length())) ==
         0xffff;
}

void emit(const UdpFields& f, Ipv4Address src, Ipv4Address dst, std::span<const std::byte> payload,
          std::span<std::byte> out) {
  emit(f, pseudo_header_checksum(kProtocolUdp, src, dst, f.length), payload, out);
}

void emit(const UdpFields& f, std::uint16_t pseudo, std::span<const std::byte> payload, std::span<std::byte> out) {
  store_be16(out, 0, f.src_port);
  store_be16(out, 2, f.dst_port);
  store_be16(out, 4, f.length);
  store_be16(out, 6, 0);
  std::uint16_t sum = checksum(out.first(UdpView::kSize), pseudo);
  sum = checksum(payload, sum);
  std::uint16_t value = finish(sum);
  store_be16(out, 6, value == 0 ? 0xffff : value);
}

}  // namespace netstack::header
