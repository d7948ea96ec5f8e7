#include "netstack/network/icmpv4.h"

#include "netstack/header/ipv4.h"

namespace netstack::network {

std::optional<PacketBuffer> make_echo_reply(ByteView request) {
  auto v = header::Icmpv4View::parse(request);
  if (!v || v->type() != header::kIcmpEchoRequest || v->code() != 0) return std::nullopt;
  PacketBuffer out(v->payload());
  header::emit(header::Icmpv4Fields{header::kIcmpEchoReply, 0, v->rest_of_header()}, v->payload(),
               out.prepend(header::Icmpv4View::kSize));
  return out;
}

PacketBuffer make_dest_unreachable(std::uint8_t code, ByteView original_ip_packet) {
  std::size_t quote = original_ip_packet.size();
  if (auto ip = header::Ipv4View::parse(original_ip_packet))
    quote = std::min(quote, ip->header_length() + 8);
  const ByteView quoted = original_ip_packet.first(quote);
  PacketBuffer out(quoted);
  header::emit(header::Icmpv4Fields{header::kIcmpDestUnreachable, code, 0}, quoted,
               out.prepend(header::Icmpv4View::kSize));
  return out;
}

bool is_icmp_error(std::uint8_t type) {
  return type == header::kIcmpDestUnreachable || type == header::kIcmpTimeExceeded || type == 4 ||
         type == 5 || type == 12;
}

}  // namespace netstack::network
