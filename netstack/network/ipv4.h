// IPv4 send and receive checks (RFC 791, RFC 1122 3.2.1): validates inbound packets, hands
// fragments to the reassembler, and builds outbound packets, fragmenting to the link MTU.
// Routing and delivery decisions belong to the stack, which calls in here.
#pragma once

#include <optional>
#include <vector>

#include "netstack/header/ipv4.h"
#include "netstack/network/reassembly.h"
#include "netstack/stack/interfaces.h"

namespace netstack::network {

class Ipv4 {
 public:
  Ipv4(TimerQueue& timers, Stats& stats, ReassemblyLimits limits)
      : stats_(stats), reassembler_(timers, stats, limits) {}

  // Validates one inbound packet (pkt starts at the IPv4 header). Malformed or bad-checksum
  // packets are counted and yield nullopt; link padding past the total length is cut off.
  // A fragment yields nullopt until its datagram is complete, then the whole datagram.
  std::optional<PacketBuffer> receive(PacketBuffer pkt);

  struct SendParams {
    Ipv4Address src, dst;
    std::uint8_t protocol = 0;
    std::uint8_t ttl = 64;
    std::uint8_t tos = 0;
  };
  // Prepends the header to payload, or splits it into fragments of at most mtu bytes each.
  // Errors: kMessageTooLong past 65535 bytes or when the MTU cannot carry 8 payload bytes.
  Expected<std::vector<PacketBuffer>> build(const SendParams& p, PacketBuffer payload,
                                            std::uint32_t mtu);
  Reassembler& reassembler() { return reassembler_; }

 private:
  Stats& stats_;
  Reassembler reassembler_;
  std::uint16_t next_id_ = 1;
};

}  // namespace netstack::network
