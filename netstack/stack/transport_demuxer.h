// Finds the endpoint for an inbound transport packet (gVisor stack/transport_demuxer.go).
// The most specific registration wins: a connected 4-tuple, then a bound local address, then
// the unspecified address; an endpoint bound to a NIC only sees that NIC's packets.
#pragma once

#include <map>
#include <vector>

#include "netstack/stack/interfaces.h"

namespace netstack {

class TransportDemuxer {
 public:
  Status add(std::uint8_t protocol, const TransportEndpointId& id, NicId nic, TransportEndpoint* ep);
  void remove(std::uint8_t protocol, const TransportEndpointId& id, NicId nic, TransportEndpoint* ep);
  // local = (dst, dst_port) of the packet, remote = (src, src_port).
  TransportEndpoint* find(std::uint8_t protocol, NicId nic, Ipv4Address local_addr,
                          std::uint16_t local_port, Ipv4Address remote_addr,
                          std::uint16_t remote_port) const;
  std::size_t size() const;

 private:
  struct Registration {
    TransportEndpointId id;
    NicId nic;
    TransportEndpoint* ep;
  };
  std::map<std::pair<std::uint8_t, std::uint16_t>, std::vector<Registration>> by_port_;
};

}  // namespace netstack
