// Stack-wide counters (gVisor tcpip.Stats). Plain integers: the core is single-threaded.
// Names read like paths ("ip.malformed"); for_each() lists them all for dumps and tests.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

namespace netstack {

struct Stats {
  // Frames the link layer could not make sense of (short Ethernet header, unknown ethertype).
  std::uint64_t link_malformed = 0;
  std::uint64_t unknown_protocol_received = 0;  // network protocol (ethertype) not handled
  std::uint64_t malformed_received = 0;         // any layer: truncated or inconsistent packet
  std::uint64_t dropped_packets = 0;            // any layer: valid but not deliverable

  std::uint64_t arp_requests_received = 0;
  std::uint64_t arp_replies_received = 0;
  std::uint64_t arp_requests_sent = 0;
  std::uint64_t arp_replies_sent = 0;
  std::uint64_t arp_malformed = 0;
  std::uint64_t arp_queue_overflow = 0;  // packets dropped while waiting for resolution

  std::uint64_t ip_packets_received = 0;
  std::uint64_t ip_packets_delivered = 0;
  std::uint64_t ip_packets_sent = 0;
  std::uint64_t ip_malformed = 0;
  std::uint64_t ip_checksum_errors = 0;
  std::uint64_t ip_invalid_destination = 0;  // not addressed to this stack
  std::uint64_t ip_unknown_protocol = 0;     // transport protocol not registered
  std::uint64_t ip_no_route = 0;
  std::uint64_t ip_fragments_received = 0;
  std::uint64_t ip_fragments_sent = 0;
  std::uint64_t ip_reassembled = 0;
  std::uint64_t ip_reassembly_dropped = 0;   // limits exceeded or inconsistent fragments
  std::uint64_t ip_reassembly_timeouts = 0;

  std::uint64_t icmp_malformed = 0;
  std::uint64_t icmp_echo_requests_received = 0;
  std::uint64_t icmp_echo_replies_sent = 0;
  std::uint64_t icmp_dest_unreachable_sent = 0;
  std::uint64_t icmp_dest_unreachable_received = 0;

  std::uint64_t udp_datagrams_received = 0;
  std::uint64_t udp_datagrams_sent = 0;
  std::uint64_t udp_malformed = 0;
  std::uint64_t udp_checksum_errors = 0;
  std::uint64_t udp_unknown_port = 0;
  std::uint64_t udp_receive_buffer_errors = 0;  // queue full: datagram dropped

  std::uint64_t tcp_segments_received = 0;
  std::uint64_t tcp_segments_sent = 0;
  std::uint64_t tcp_retransmits = 0;            // segments sent again (RTO, fast, SACK)
  std::uint64_t tcp_malformed = 0;
  std::uint64_t tcp_checksum_errors = 0;
  std::uint64_t tcp_resets_sent = 0;
  std::uint64_t tcp_resets_received = 0;        // accepted RSTs
  std::uint64_t tcp_active_opens = 0;
  std::uint64_t tcp_passive_opens = 0;
  std::uint64_t tcp_listen_overflows = 0;       // SYNs dropped: backlog full
  std::uint64_t tcp_timeouts = 0;               // retransmission timer expirations
  std::uint64_t tcp_fast_retransmits = 0;
  std::uint64_t tcp_challenge_acks = 0;

  // Calls f(name, value) for every counter, in declaration order.
  void for_each(const std::function<void(std::string_view, std::uint64_t)>& f) const;
};

}  // namespace netstack
