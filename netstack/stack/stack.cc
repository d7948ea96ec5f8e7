#include "netstack/stack/stack.h"

#include "netstack/header/icmpv4.h"
#include "netstack/header/ipv4.h"
#include "netstack/network/icmpv4.h"

namespace netstack {

Stack::Stack(const Clock& clock, StackOptions options)
    : timers_(clock),
      options_(options),
      ports_(options.port_seed),
      ipv4_(timers_, stats_, options.reassembly) {}

// NICs go first: their ARP tables cancel timers in timers_, which must still exist.
Stack::~Stack() { nics_.clear(); }

Status Stack::create_nic(NicId id, LinkEndpoint& link) {
  if (id <= 0) return Errc::kBadLinkEndpoint;
  if (nics_.count(id) > 0) return Errc::kDuplicateNicId;
  nics_.emplace(id, std::make_unique<Nic>(*this, id, link, options_.arp));
  return {};
}

Nic* Stack::nic(NicId id) {
  auto it = nics_.find(id);
  return it == nics_.end() ? nullptr : it->second.get();
}

Status Stack::add_address(NicId id, Subnet address) {
  Nic* n = nic(id);
  if (n == nullptr) return Errc::kUnknownNicId;
  return n->add_address(address);
}

Status Stack::remove_address(NicId id, Ipv4Address address) {
  Nic* n = nic(id);
  if (n == nullptr) return Errc::kUnknownNicId;
  return n->remove_address(address);
}

Status Stack::add_static_neighbor(NicId id, Ipv4Address addr, LinkAddress mac) {
  Nic* n = nic(id);
  if (n == nullptr) return Errc::kUnknownNicId;
  if (n->arp() == nullptr) return Errc::kNotSupported;
  n->arp()->add_static(addr, mac);
  return {};
}

Status Stack::register_transport_protocol(std::unique_ptr<TransportProtocol> protocol) {
  const std::uint8_t number = protocol->number();
  if (protocols_.count(number) > 0) return Errc::kDuplicateAddress;
  protocols_.emplace(number, std::move(protocol));
  return {};
}

Expected<std::unique_ptr<Endpoint>> Stack::new_endpoint(std::uint8_t protocol) {
  auto it = protocols_.find(protocol);
  if (it == protocols_.end()) return Errc::kUnknownProtocol;
  return it->second->new_endpoint(*this);
}

bool Stack::is_local_address(NicId id, Ipv4Address addr) const {
  for (const auto& [nid, n] : nics_)
    if ((id == kAnyNic || id == nid) && n->has_address(addr)) return true;
  return false;
}

Expected<Route> Stack::find_route(NicId nic_id, Ipv4Address local, Ipv4Address remote) {
  if (remote.is_any()) return Errc::kNoRoute;
  // A local address pins the NIC that owns it (Linux picks the route, then checks the source).
  if (!local.is_any() && nic_id == kAnyNic) {
    for (const auto& [nid, n] : nics_)
      if (n->has_address(local)) nic_id = nid;
  }
  Route r;
  if (remote.is_broadcast()) {
    // Limited broadcast goes out of the given NIC, or the first NIC that has an address.
    for (const auto& [nid, n] : nics_) {
      if ((nic_id == kAnyNic || nic_id == nid) && !n->addresses().empty()) {
        r = Route{nid, local.is_any() ? n->addresses().front().address : local, remote, remote, 0};
        r.mtu = n->mtu();
        return r;
      }
    }
    return Errc::kNoRoute;
  }
  auto row = routes_.lookup(remote, nic_id);
  if (!row) return Errc::kNoRoute;
  Nic* n = nic(row->nic);
  if (n == nullptr) return Errc::kNoRoute;
  const Ipv4Address next_hop = row->gateway.is_any() ? remote : row->gateway;
  const Ipv4Address src = local.is_any() ? n->primary_address_for(next_hop) : local;
  if (src.is_any()) return Errc::kNoRoute;  // a NIC without addresses cannot originate
  return Route{row->nic, src, remote, next_hop, n->mtu()};
}

Status Stack::write_packet(const Route& route, std::uint8_t protocol, std::uint8_t ttl,
                           PacketBuffer pkt) {
  Nic* n = nic(route.nic);
  if (n == nullptr) return Errc::kNoRoute;
  network::Ipv4::SendParams p{route.local, route.remote, protocol, ttl, 0};
  auto packets = ipv4_.build(p, std::move(pkt), route.mtu);
  if (!packets) return packets.error();
  for (PacketBuffer& frame : *packets)
    if (Status s = n->send_ipv4(route.next_hop, route.local, std::move(frame)); !s) return s;
  return {};
}

Status Stack::register_endpoint(std::uint8_t protocol, const TransportEndpointId& id, NicId nic,
                                TransportEndpoint* ep) {
  return demuxer_.add(protocol, id, nic, ep);
}

void Stack::unregister_endpoint(std::uint8_t protocol, const TransportEndpointId& id, NicId nic,
                                TransportEndpoint* ep) {
  demuxer_.remove(protocol, id, nic, ep);
}

void Stack::deliver_ipv4(Nic& nic, PacketBuffer pkt) {
  auto datagram = ipv4_.receive(std::move(pkt));
  if (!datagram) return;  // malformed (counted) or a fragment still waiting for the rest
  const auto ip = header::Ipv4View::parse(datagram->view());
  if (!ip) return;  // cannot happen: receive() validated it; kept as a guard
  PacketInfo info{nic.id(), ip->src(), ip->dst(), ip->protocol(), ip->ttl(), nic.is_broadcast(ip->dst())};
  // No forwarding: anything not addressed to this NIC is dropped (RFC 1122 3.3.4 host model).
  if (!info.broadcast && !nic.has_address(info.dst)) {
    ++stats_.ip_invalid_destination;
    ++stats_.dropped_packets;
    return;
  }
  ++stats_.ip_packets_delivered;
  const std::size_t hlen = ip->header_length();
  if (info.protocol == header::kProtocolIcmp) {
    handle_icmp(nic, info, std::move(*datagram), hlen);
  } else {
    deliver_transport(nic, info, std::move(*datagram), hlen);
  }
}

void Stack::deliver_transport(Nic& nic, const PacketInfo& info, PacketBuffer pkt, std::size_t hlen) {
  auto proto = protocols_.find(info.protocol);
  if (proto == protocols_.end()) {
    ++stats_.ip_unknown_protocol;
    ++stats_.dropped_packets;
    send_icmp(nic, info, network::make_dest_unreachable(header::kIcmpProtocolUnreachable, pkt.view()));
    return;
  }
  const ByteView transport = pkt.view().subspan(hlen);
  auto ports = proto->second->parse_ports(*this, info, transport);
  if (!ports) return;  // the protocol counted it
  TransportEndpoint* ep = demuxer_.find(info.protocol, info.nic, info.dst, ports->dst, info.src, ports->src);
  if (ep != nullptr) {
    pkt.consume(hlen);
    ep->handle_packet(info, std::move(pkt));
    return;
  }
  if (proto->second->handle_unknown_destination(*this, info, transport) ==
      UnknownDestinationResult::kPortUnreachable) {
    ++stats_.dropped_packets;
    send_icmp(nic, info, network::make_dest_unreachable(header::kIcmpPortUnreachable, pkt.view()));
  }
}

void Stack::handle_icmp(Nic& nic, const PacketInfo& info, PacketBuffer pkt, std::size_t hlen) {
  const ByteView message = pkt.view().subspan(hlen);
  auto icmp = header::Icmpv4View::parse(message);
  if (!icmp || !icmp->checksum_valid()) {
    ++stats_.icmp_malformed;
    ++stats_.malformed_received;
    return;
  }
  switch (icmp->type()) {
    case header::kIcmpEchoRequest: {
      ++stats_.icmp_echo_requests_received;
      auto reply = network::make_echo_reply(message);
      if (!reply) {
        ++stats_.icmp_malformed;
        ++stats_.malformed_received;
        return;
      }
      // Answer from the address the request was sent to (for broadcasts: our own address).
      const Ipv4Address src = info.broadcast ? nic.primary_address_for(info.src) : info.dst;
      auto route = find_route(kAnyNic, src, info.src);
      if (!route) {
        ++stats_.ip_no_route;
        ++stats_.dropped_packets;
        return;
      }
      if (write_packet(*route, header::kProtocolIcmp, options_.default_ttl, std::move(*reply)))
        ++stats_.icmp_echo_replies_sent;
      return;
    }
    case header::kIcmpDestUnreachable:
      ++stats_.icmp_dest_unreachable_received;
      handle_icmp_error(info, icmp->code(), icmp->payload());
      return;
    default:
      return;  // echo replies and the rest have no listener here (no raw/ping sockets yet)
  }
}

// Finds the endpoint that sent the quoted datagram and tells it (RFC 1122 3.2.2.1).
void Stack::handle_icmp_error(const PacketInfo& info, std::uint8_t code, ByteView quoted) {
  // The quote is cut after 8 payload bytes, so its total length does not match: Ipv4View would
  // refuse it. Read the few fields needed by hand, each inside bounds.
  if (quoted.size() < header::Ipv4View::kMinSize) return;
  const std::size_t hlen = static_cast<std::size_t>(header::load8(quoted, 0) & 0xf) * 4;
  if (hlen < header::Ipv4View::kMinSize || !header::fits(quoted.size(), hlen, 4)) return;
  const Ipv4Address inner_src{header::load_be32(quoted, 12)};
  const Ipv4Address inner_dst{header::load_be32(quoted, 16)};
  const std::uint8_t protocol = header::load8(quoted, 9);
  const std::uint16_t src_port = header::load_be16(quoted, hlen);
  const std::uint16_t dst_port = header::load_be16(quoted, hlen + 2);
  TransportEndpoint* ep = demuxer_.find(protocol, info.nic, inner_src, src_port, inner_dst, dst_port);
  if (ep == nullptr) return;
  if (code == header::kIcmpPortUnreachable) ep->handle_control(ControlType::kPortUnreachable, info);
  if (code == header::kIcmpProtocolUnreachable)
    ep->handle_control(ControlType::kProtocolUnreachable, info);
}

void Stack::send_icmp(Nic& nic, const PacketInfo& info, PacketBuffer message) {
  // RFC 1122 3.2.2: no ICMP error about a broadcast, or to a source that is not a unicast host.
  if (info.broadcast || info.src.is_any() || nic.is_broadcast(info.src)) return;
  auto route = find_route(kAnyNic, info.dst, info.src);
  if (!route) {
    ++stats_.ip_no_route;
    return;
  }
  if (write_packet(*route, header::kProtocolIcmp, options_.default_ttl, std::move(message)))
    ++stats_.icmp_dest_unreachable_sent;
}

}  // namespace netstack
