#include "netstack/stack/nic.h"

#include <algorithm>

#include "netstack/header/ethernet.h"
#include "netstack/stack/stack.h"

namespace netstack {

Nic::Nic(Stack& stack, NicId id, LinkEndpoint& link, const network::ArpOptions& arp)
    : stack_(stack), id_(id), link_(&link), medium_(link.medium()),
      link_address_(link.link_address()), mtu_(link.mtu()) {
  if (link.medium() == LinkMedium::kEthernet) {
    arp_ = std::make_unique<network::ArpNeighbors>(
        stack.timers(), stack.stats(), link.link_address(), arp,
        [this](LinkAddress dst, std::uint16_t type, PacketBuffer p) {
          (void)write_ethernet(dst, type, std::move(p));
        });
  }
  link_->attach(this);
}

Nic::~Nic() {
  if (link_ != nullptr) link_->attach(nullptr);
}

Status Nic::add_address(Subnet s) {
  if (has_address(s.address)) return Errc::kDuplicateAddress;
  addresses_.push_back(s);
  return {};
}

Status Nic::remove_address(Ipv4Address a) {
  auto it = std::find_if(addresses_.begin(), addresses_.end(),
                         [&](const Subnet& s) { return s.address == a; });
  if (it == addresses_.end()) return Errc::kBadLocalAddress;
  addresses_.erase(it);
  return {};
}

bool Nic::has_address(Ipv4Address a) const {
  return std::any_of(addresses_.begin(), addresses_.end(),
                     [&](const Subnet& s) { return s.address == a; });
}

bool Nic::is_broadcast(Ipv4Address a) const {
  if (a.is_broadcast()) return true;
  return std::any_of(addresses_.begin(), addresses_.end(), [&](const Subnet& s) {
    return s.prefix_len < 31 && s.directed_broadcast() == a;
  });
}

Ipv4Address Nic::primary_address_for(Ipv4Address dst) const {
  for (const Subnet& s : addresses_)
    if (s.contains(dst)) return s.address;
  return addresses_.empty() ? Ipv4Address{} : addresses_.front().address;
}

void Nic::deliver_frame(PacketBuffer frame) {
  if (medium_ == LinkMedium::kRawIp) {
    // TUN without packet info: the version nibble is all there is to tell protocols apart.
    if (frame.empty() || (static_cast<std::uint8_t>(frame.view()[0]) >> 4) != 4) {
      ++stack_.stats().unknown_protocol_received;
      return;
    }
    stack_.deliver_ipv4(*this, std::move(frame));
    return;
  }
  auto eth = header::EthernetView::parse(frame.view());
  if (!eth) {
    ++stack_.stats().link_malformed;
    ++stack_.stats().malformed_received;
    return;
  }
  if (eth->dst() != link_address_ && !eth->dst().is_broadcast()) {
    ++stack_.stats().dropped_packets;  // another host's unicast (promiscuous links)
    return;
  }
  const std::uint16_t type = eth->ether_type();
  frame.consume(header::EthernetView::kSize);
  if (type == header::kEtherTypeArp) {
    arp_->handle_packet(frame.view(), [this](Ipv4Address a) { return has_address(a); });
  } else if (type == header::kEtherTypeIpv4) {
    stack_.deliver_ipv4(*this, std::move(frame));
  } else {
    ++stack_.stats().unknown_protocol_received;
  }
}

Status Nic::write_ethernet(LinkAddress dst, std::uint16_t ether_type, PacketBuffer payload) {
  header::emit(header::EthernetFields{dst, link_address_, ether_type},
               payload.prepend(header::EthernetView::kSize));
  // IEEE 802.3: frames are at least 60 bytes before the FCS; receivers trim by the IP length.
  constexpr std::size_t kMinFrame = 60;
  if (payload.size() < kMinFrame) {
    const std::byte zeros[kMinFrame] = {};
    payload.append(ByteView(zeros, kMinFrame - payload.size()));
  }
  if (link_ == nullptr) return Errc::kClosedForSend;
  return link_->write_frame(std::move(payload));
}

Status Nic::send_ipv4(Ipv4Address next_hop, Ipv4Address src, PacketBuffer packet) {
  if (link_ == nullptr) return Errc::kClosedForSend;
  if (medium_ == LinkMedium::kRawIp) return link_->write_frame(std::move(packet));
  if (is_broadcast(next_hop))
    return write_ethernet(LinkAddress::broadcast(), header::kEtherTypeIpv4, std::move(packet));
  arp_->send_ipv4(next_hop, src, std::move(packet));
  return {};  // queued for resolution at worst: the link gives no further feedback
}

}  // namespace netstack
