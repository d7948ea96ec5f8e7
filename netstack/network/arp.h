// ARP for one Ethernet NIC (RFC 826): answers requests for local addresses, learns senders,
// resolves next hops with retried requests, and holds a bounded queue of packets per address
// while it waits. Entries expire (RFC 1122 2.3.2.1 asks for a timeout); expiry is checked
// against the clock at lookup, so a FakeClock drives it in tests.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "netstack/stack/interfaces.h"

namespace netstack::network {

struct ArpOptions {
  Duration entry_lifetime = std::chrono::seconds(60);
  Duration retry_interval = std::chrono::seconds(1);
  int max_requests = 3;                // then the waiting packets are dropped
  std::size_t max_pending_packets = 16;  // per address; more are dropped
};

class ArpNeighbors {
 public:
  // Sends an Ethernet frame payload (the caller adds the Ethernet header).
  using SendFrame = std::function<void(LinkAddress dst, std::uint16_t ether_type, PacketBuffer)>;

  ArpNeighbors(TimerQueue& timers, Stats& stats, LinkAddress own, ArpOptions options,
               SendFrame send);
  ~ArpNeighbors();
  ArpNeighbors(const ArpNeighbors&) = delete;
  ArpNeighbors& operator=(const ArpNeighbors&) = delete;

  // An inbound ARP packet (the Ethernet payload). is_local says which addresses we answer for.
  void handle_packet(ByteView arp, const std::function<bool(Ipv4Address)>& is_local);
  // Sends the IPv4 packet to next_hop's link address now if known, else queues it and asks
  // (the request's sender address is `src`).
  void send_ipv4(Ipv4Address next_hop, Ipv4Address src, PacketBuffer packet);
  std::optional<LinkAddress> lookup(Ipv4Address addr);
  void add_static(Ipv4Address addr, LinkAddress mac);  // never expires
  std::size_t cache_size() const { return cache_.size(); }
  std::size_t pending_addresses() const { return pending_.size(); }

 private:
  struct Entry {
    LinkAddress mac;
    std::optional<Instant> expires;  // nullopt: static
  };
  struct Pending {
    Ipv4Address src;
    std::vector<PacketBuffer> packets;
    int requests_sent = 0;
    TimerQueue::TimerId timer = 0;
  };
  void learn(Ipv4Address addr, LinkAddress mac);
  void send_request(Ipv4Address target, Pending& p);
  void on_retry(Ipv4Address target);

  TimerQueue& timers_;
  Stats& stats_;
  LinkAddress own_;
  ArpOptions options_;
  SendFrame send_;
  std::map<Ipv4Address, Entry> cache_;
  std::map<Ipv4Address, Pending> pending_;
};

}  // namespace netstack::network
