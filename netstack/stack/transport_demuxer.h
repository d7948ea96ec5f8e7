// Finds the endpoint for an inbound transport packet (gVisor stack/transport_demuxer.go).
// The most specific registration wins: a connected 4-tuple, then a bound local address, then
// the unspecified address; an endpoint bound to a NIC only sees that NIC's packets.
// Connected 4-tuples (TCP connections, connected UDP) sit in a hash table, so that thousands of
// connections on one listening port (TIME-WAIT included) cost no linear scan per packet.
#pragma once

#include <map>
#include <unordered_map>
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
  struct TupleKey {
    std::uint8_t protocol;
    std::uint16_t local_port, remote_port;
    std::uint32_t local_addr, remote_addr;
    friend bool operator==(const TupleKey&, const TupleKey&) = default;
  };
  struct TupleHash {
    std::size_t operator()(const TupleKey& k) const {
      std::uint64_t h = (std::uint64_t{k.local_addr} << 32 | k.remote_addr) * 0x9e3779b97f4a7c15ULL;
      h ^= (std::uint64_t{k.protocol} << 32 | std::uint64_t{k.local_port} << 16 | k.remote_port) *
           0xc2b2ae3d27d4eb4fULL;
      return static_cast<std::size_t>(h ^ (h >> 29));
    }
  };
  static bool hashed(const TransportEndpointId& id) {
    return id.remote_port != 0 && !id.local_addr.is_any();
  }
  static TupleKey key_of(std::uint8_t protocol, const TransportEndpointId& id) {
    return {protocol, id.local_port, id.remote_port, id.local_addr.value, id.remote_addr.value};
  }
  // Registrations with a remote end and a local address; everything else (listeners, bound
  // sockets) by port.
  std::unordered_map<TupleKey, std::vector<Registration>, TupleHash> connected_;
  std::map<std::pair<std::uint8_t, std::uint16_t>, std::vector<Registration>> by_port_;
};

}  // namespace netstack
