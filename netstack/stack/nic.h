// A network interface (gVisor stack.NIC): one link endpoint, its addresses, and for Ethernet
// links the ARP neighbour table. Turns inbound frames into IPv4 packets or ARP messages and
// outbound IPv4 packets into frames.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "netstack/network/arp.h"
#include "netstack/stack/interfaces.h"

namespace netstack {

class Stack;

class Nic final : public NetworkDispatcher {
 public:
  Nic(Stack& stack, NicId id, LinkEndpoint& link, const network::ArpOptions& arp);
  ~Nic() override;
  Nic(const Nic&) = delete;
  Nic& operator=(const Nic&) = delete;

  NicId id() const { return id_; }
  // nullptr once the link was destroyed (the NIC then refuses to send).
  LinkEndpoint* link() { return link_; }
  std::uint32_t mtu() const { return mtu_; }
  const std::vector<Subnet>& addresses() const { return addresses_; }
  Status add_address(Subnet s);
  Status remove_address(Ipv4Address a);
  bool has_address(Ipv4Address a) const;
  // True for 255.255.255.255 and the directed broadcast of any of our subnets.
  bool is_broadcast(Ipv4Address a) const;
  // The NIC's first address inside dst's subnet, else its first address, else any().
  Ipv4Address primary_address_for(Ipv4Address dst) const;
  network::ArpNeighbors* arp() { return arp_.get(); }

  void deliver_frame(PacketBuffer frame) override;
  void link_destroyed(LinkEndpoint&) override { link_ = nullptr; }
  // Sends a finished IPv4 packet toward next_hop (resolving it with ARP on Ethernet).
  Status send_ipv4(Ipv4Address next_hop, Ipv4Address src, PacketBuffer packet);

 private:
  Status write_ethernet(LinkAddress dst, std::uint16_t ether_type, PacketBuffer payload);

  Stack& stack_;
  NicId id_;
  LinkEndpoint* link_;
  // What the link said at attach time: links do not change them, and they stay known after it died.
  LinkMedium medium_;
  LinkAddress link_address_;
  std::uint32_t mtu_;
  std::vector<Subnet> addresses_;
  std::unique_ptr<network::ArpNeighbors> arp_;
};

}  // namespace netstack
