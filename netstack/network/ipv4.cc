#include "netstack/network/ipv4.h"

namespace netstack::network {

std::optional<PacketBuffer> Ipv4::receive(PacketBuffer pkt) {
  ++stats_.ip_packets_received;
  auto v = header::Ipv4View::parse(pkt.view());
  if (!v) {
    ++stats_.ip_malformed;
    ++stats_.malformed_received;
    return std::nullopt;
  }
  if (!v->checksum_valid()) {
    ++stats_.ip_checksum_errors;
    ++stats_.malformed_received;
    return std::nullopt;
  }
  // RFC 1122 3.2.1.3: a source that is broadcast or multicast is never valid.
  if (v->src().is_broadcast() || v->src().is_multicast()) {
    ++stats_.ip_malformed;
    ++stats_.malformed_received;
    return std::nullopt;
  }
  if (v->is_fragment()) return reassembler_.add(*v);
  pkt.truncate(v->total_length());
  return pkt;
}

Expected<std::vector<PacketBuffer>> Ipv4::build(const SendParams& p, PacketBuffer payload,
                                                std::uint32_t mtu) {
  constexpr std::size_t kHeader = header::Ipv4View::kMinSize;
  if (payload.size() + kHeader > 0xffff) return Errc::kMessageTooLong;
  header::Ipv4Fields f;
  f.tos = p.tos;
  f.id = next_id_++;
  f.ttl = p.ttl;
  f.protocol = p.protocol;
  f.src = p.src;
  f.dst = p.dst;
  std::vector<PacketBuffer> out;
  if (payload.size() + kHeader <= mtu) {
    f.total_length = static_cast<std::uint16_t>(payload.size() + kHeader);
    header::emit(f, payload.prepend(kHeader));
    out.push_back(std::move(payload));
    ++stats_.ip_packets_sent;
    return out;
  }
  // RFC 791 3.2 "Fragmentation": every fragment but the last carries a multiple of 8 bytes.
  const std::size_t chunk = mtu > kHeader ? (mtu - kHeader) / 8 * 8 : 0;
  if (chunk == 0) return Errc::kMessageTooLong;
  const ByteView all = payload.view();
  for (std::size_t off = 0; off < all.size(); off += chunk) {
    const std::size_t n = std::min(chunk, all.size() - off);
    const bool more = off + n < all.size();
    PacketBuffer frag(all.subspan(off, n));
    f.total_length = static_cast<std::uint16_t>(n + kHeader);
    f.flags_fragment = static_cast<std::uint16_t>((more ? header::Ipv4View::kFlagMoreFragments : 0) |
                                                  (off / 8));
    header::emit(f, frag.prepend(kHeader));
    out.push_back(std::move(frag));
    ++stats_.ip_fragments_sent;
    ++stats_.ip_packets_sent;
  }
  return out;
}

}  // namespace netstack::network
