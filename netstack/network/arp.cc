#include "netstack/network/arp.h"

#include "netstack/header/arp.h"
#include "netstack/header/ethernet.h"

namespace netstack::network {

ArpNeighbors::ArpNeighbors(TimerQueue& timers, Stats& stats, LinkAddress own, ArpOptions options,
                           SendFrame send)
    : timers_(timers), stats_(stats), own_(own), options_(options), send_(std::move(send)) {}

ArpNeighbors::~ArpNeighbors() {
  for (auto& [addr, p] : pending_) timers_.cancel(p.timer);
}

std::optional<LinkAddress> ArpNeighbors::lookup(Ipv4Address addr) {
  auto it = cache_.find(addr);
  if (it == cache_.end()) return std::nullopt;
  if (it->second.expires && *it->second.expires <= timers_.now()) {
    cache_.erase(it);
    return std::nullopt;
  }
  return it->second.mac;
}

void ArpNeighbors::add_static(Ipv4Address addr, LinkAddress mac) { cache_[addr] = {mac, std::nullopt}; }

void ArpNeighbors::learn(Ipv4Address addr, LinkAddress mac) {
  auto it = cache_.find(addr);
  if (it != cache_.end() && !it->second.expires) return;  // static entries win
  cache_[addr] = {mac, timers_.now() + options_.entry_lifetime};
  auto p = pending_.find(addr);
  if (p == pending_.end()) return;
  timers_.cancel(p->second.timer);
  std::vector<PacketBuffer> packets = std::move(p->second.packets);
  pending_.erase(p);
  for (auto& pkt : packets) send_(mac, header::kEtherTypeIpv4, std::move(pkt));
}

void ArpNeighbors::handle_packet(ByteView arp, const std::function<bool(Ipv4Address)>& is_local) {
  auto v = header::ArpView::parse(arp);
  if (!v) {
    ++stats_.arp_malformed;
    ++stats_.malformed_received;
    return;
  }
  const bool for_us = is_local(v->target_ip());
  if (v->op() == header::kArpRequest) {
    ++stats_.arp_requests_received;
  } else {
    ++stats_.arp_replies_received;
  }
  // RFC 826 "Packet Reception": update a known sender; add it only when the packet is for us.
  const bool known = cache_.count(v->sender_ip()) > 0 || pending_.count(v->sender_ip()) > 0;
  if (!v->sender_ip().is_any() && (for_us || known)) learn(v->sender_ip(), v->sender_hw());
  if (v->op() != header::kArpRequest || !for_us) return;
  header::ArpFields reply{header::kArpReply, own_, v->target_ip(), v->sender_hw(), v->sender_ip()};
  PacketBuffer pkt = PacketBuffer::zeroed(header::ArpView::kSize);
  header::emit(reply, pkt.mutable_view());
  ++stats_.arp_replies_sent;
  send_(v->sender_hw(), header::kEtherTypeArp, std::move(pkt));
}

void ArpNeighbors::send_ipv4(Ipv4Address next_hop, Ipv4Address src, PacketBuffer packet) {
  if (auto mac = lookup(next_hop)) {
    send_(*mac, header::kEtherTypeIpv4, std::move(packet));
    return;
  }
  auto [it, fresh] = pending_.try_emplace(next_hop);
  Pending& p = it->second;
  if (p.packets.size() >= options_.max_pending_packets) {
    ++stats_.arp_queue_overflow;
    ++stats_.dropped_packets;
  } else {
    p.packets.push_back(std::move(packet));
  }
  if (fresh) {
    p.src = src;
    send_request(next_hop, p);
  }
}

void ArpNeighbors::send_request(Ipv4Address target, Pending& p) {
  header::ArpFields req{header::kArpRequest, own_, p.src, LinkAddress{}, target};
  PacketBuffer pkt = PacketBuffer::zeroed(header::ArpView::kSize);
  header::emit(req, pkt.mutable_view());
  ++p.requests_sent;
  ++stats_.arp_requests_sent;
  p.timer = timers_.schedule_after(options_.retry_interval, [this, target] { on_retry(target); });
  send_(LinkAddress::broadcast(), header::kEtherTypeArp, std::move(pkt));
}

void ArpNeighbors::on_retry(Ipv4Address target) {
  auto it = pending_.find(target);
  if (it == pending_.end()) return;
  if (it->second.requests_sent >= options_.max_requests) {
    // RFC 1122 2.3.2.2: give up; the packets waiting for this neighbour are dropped.
    stats_.dropped_packets += it->second.packets.size();
    pending_.erase(it);
    return;
  }
  send_request(target, it->second);
}

}  // namespace netstack::network
