#include "netstack/stack/transport_demuxer.h"

#include <algorithm>

namespace netstack {

Status TransportDemuxer::add(std::uint8_t protocol, const TransportEndpointId& id, NicId nic,
                             TransportEndpoint* ep) {
  auto& regs = by_port_[{protocol, id.local_port}];
  for (const auto& r : regs)
    if (r.id == id && r.nic == nic) return Errc::kPortInUse;
  regs.push_back({id, nic, ep});
  return {};
}

void TransportDemuxer::remove(std::uint8_t protocol, const TransportEndpointId& id, NicId nic,
                              TransportEndpoint* ep) {
  auto it = by_port_.find({protocol, id.local_port});
  if (it == by_port_.end()) return;
  auto& regs = it->second;
  regs.erase(std::remove_if(regs.begin(), regs.end(),
                            [&](const Registration& r) { return r.id == id && r.nic == nic && r.ep == ep; }),
             regs.end());
  if (regs.empty()) by_port_.erase(it);
}

TransportEndpoint* TransportDemuxer::find(std::uint8_t protocol, NicId nic, Ipv4Address local_addr,
                                          std::uint16_t local_port, Ipv4Address remote_addr,
                                          std::uint16_t remote_port) const {
  auto it = by_port_.find({protocol, local_port});
  if (it == by_port_.end()) return nullptr;
  TransportEndpoint* best = nullptr;
  int best_score = -1;
  for (const Registration& r : it->second) {
    if (r.nic != kAnyNic && r.nic != nic) continue;
    if (!r.id.local_addr.is_any() && r.id.local_addr != local_addr) continue;
    const bool connected = r.id.remote_port != 0;
    if (connected && (r.id.remote_port != remote_port || r.id.remote_addr != remote_addr)) continue;
    const int score = (connected ? 4 : 0) + (r.id.local_addr.is_any() ? 0 : 2) + (r.nic != kAnyNic ? 1 : 0);
    if (score > best_score) best = r.ep, best_score = score;
  }
  return best;
}

std::size_t TransportDemuxer::size() const {
  std::size_t n = 0;
  for (const auto& [k, v] : by_port_) n += v.size();
  return n;
}

}  // namespace netstack
