#include "netstack/tcpip/stats.h"

namespace netstack {

void Stats::for_each(const std::function<void(std::string_view, std::uint64_t)>& f) const {
  f("link.malformed", link_malformed);
  f("unknown_protocol_received", unknown_protocol_received);
  f("malformed_received", malformed_received);
  f("dropped_packets", dropped_packets);
  f("arp.requests_received", arp_requests_received);
  f("arp.replies_received", arp_replies_received);
  f("arp.requests_sent", arp_requests_sent);
  f("arp.replies_sent", arp_replies_sent);
  f("arp.malformed", arp_malformed);
  f("arp.queue_overflow", arp_queue_overflow);
  f("ip.packets_received", ip_packets_received);
  f("ip.packets_delivered", ip_packets_delivered);
  f("ip.packets_sent", ip_packets_sent);
  f("ip.malformed", ip_malformed);
  f("ip.checksum_errors", ip_checksum_errors);
  f("ip.invalid_destination", ip_invalid_destination);
  f("ip.unknown_protocol", ip_unknown_protocol);
  f("ip.no_route", ip_no_route);
  f("ip.fragments_received", ip_fragments_received);
  f("ip.fragments_sent", ip_fragments_sent);
  f("ip.reassembled", ip_reassembled);
  f("ip.reassembly_dropped", ip_reassembly_dropped);
  f("ip.reassembly_timeouts", ip_reassembly_timeouts);
  f("icmp.malformed", icmp_malformed);
  f("icmp.echo_requests_received", icmp_echo_requests_received);
  f("icmp.echo_replies_sent", icmp_echo_replies_sent);
  f("icmp.dest_unreachable_sent", icmp_dest_unreachable_sent);
  f("icmp.dest_unreachable_received", icmp_dest_unreachable_received);
  f("udp.datagrams_received", udp_datagrams_received);
  f("udp.datagrams_sent", udp_datagrams_sent);
  f("udp.malformed", udp_malformed);
  f("udp.checksum_errors", udp_checksum_errors);
  f("udp.unknown_port", udp_unknown_port);
  f("udp.receive_buffer_errors", udp_receive_buffer_errors);
  f("tcp.segments_received", tcp_segments_received);
  f("tcp.segments_sent", tcp_segments_sent);
  f("tcp.retransmits", tcp_retransmits);
  f("tcp.malformed", tcp_malformed);
  f("tcp.checksum_errors", tcp_checksum_errors);
  f("tcp.resets_sent", tcp_resets_sent);
  f("tcp.resets_received", tcp_resets_received);
  f("tcp.active_opens", tcp_active_opens);
  f("tcp.passive_opens", tcp_passive_opens);
  f("tcp.listen_overflows", tcp_listen_overflows);
  f("tcp.timeouts", tcp_timeouts);
  f("tcp.fast_retransmits", tcp_fast_retransmits);
  f("tcp.challenge_acks", tcp_challenge_acks);
}

}  // namespace netstack
