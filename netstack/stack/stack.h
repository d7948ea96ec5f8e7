// The stack (gVisor stack.Stack): NICs, addresses, routes, registered transport protocols,
// the demuxer, ports, timers and stats. Single-threaded and passive: it runs only inside the
// embedder's calls (a link delivering a frame, run_due(), an Endpoint method).
#pragma once

#include <map>
#include <memory>

#include "netstack/network/arp.h"
#include "netstack/network/ipv4.h"
#include "netstack/stack/interfaces.h"
#include "netstack/stack/nic.h"
#include "netstack/stack/route_table.h"
#include "netstack/stack/transport_demuxer.h"

namespace netstack {

struct StackOptions {
  network::ArpOptions arp;
  network::ReassemblyLimits reassembly;
  std::uint32_t port_seed = 1;  // where ephemeral port allocation starts
  std::uint8_t default_ttl = 64;
};

class Stack final : public StackServices {
 public:
  explicit Stack(const Clock& clock, StackOptions options = {});
  ~Stack() override;
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;

  // The link is not owned. It may die before the stack (it then tells the NIC, which stops
  // sending) or after it. Errors: kDuplicateNicId, kBadLinkEndpoint
  // (id <= 0).
  Status create_nic(NicId id, LinkEndpoint& link);
  Status add_address(NicId nic, Subnet address);
  Status remove_address(NicId nic, Ipv4Address address);
  void add_route(const RouteEntry& r) { routes_.add(r); }
  void set_route_table(std::vector<RouteEntry> rows) { routes_.set(std::move(rows)); }
  const RouteTable& route_table() const { return routes_; }
  // A permanent ARP entry on an Ethernet NIC.
  Status add_static_neighbor(NicId nic, Ipv4Address addr, LinkAddress mac);
  Nic* nic(NicId id);

  // Errors: kDuplicateAddress when a protocol with that number is already registered.
  Status register_transport_protocol(std::unique_ptr<TransportProtocol> protocol);
  // Errors: kUnknownProtocol.
  Expected<std::unique_ptr<Endpoint>> new_endpoint(std::uint8_t protocol);

  // The event loop's two questions: run what is due now; when is the next thing due.
  std::size_t run_due() { return timers_.run_due(); }
  std::optional<Instant> next_deadline() const { return timers_.next_deadline(); }

  // StackServices
  Expected<Route> find_route(NicId nic, Ipv4Address local, Ipv4Address remote) override;
  Status write_packet(const Route& route, std::uint8_t protocol, std::uint8_t ttl,
                      PacketBuffer pkt) override;
  bool is_local_address(NicId nic, Ipv4Address addr) const override;
  PortManager& ports() override { return ports_; }
  Status register_endpoint(std::uint8_t protocol, const TransportEndpointId& id, NicId nic,
                           TransportEndpoint* ep) override;
  void unregister_endpoint(std::uint8_t protocol, const TransportEndpointId& id, NicId nic,
                           TransportEndpoint* ep) override;
  Stats& stats() override { return stats_; }
  const Stats& stats() const { return stats_; }
  TimerQueue& timers() override { return timers_; }

  // Called by Nic: pkt starts at the IPv4 header.
  void deliver_ipv4(Nic& nic, PacketBuffer pkt);

 private:
  void deliver_transport(Nic& nic, const PacketInfo& info, PacketBuffer pkt, std::size_t hlen);
  void handle_icmp(Nic& nic, const PacketInfo& info, PacketBuffer pkt, std::size_t hlen);
  void handle_icmp_error(const PacketInfo& info, std::uint8_t code, ByteView quoted);
  void send_icmp(Nic& nic, const PacketInfo& info, PacketBuffer message);

  Stats stats_;
  TimerQueue timers_;
  StackOptions options_;
  PortManager ports_;
  network::Ipv4 ipv4_;
  RouteTable routes_;
  TransportDemuxer demuxer_;
  std::map<NicId, std::unique_ptr<Nic>> nics_;
  std::map<std::uint8_t, std::unique_ptr<TransportProtocol>> protocols_;
};

}  // namespace netstack
