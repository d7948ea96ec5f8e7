#include "netstack/stack/transport_demuxer.h"

#include <algorithm>

namespace netstack {

Status TransportDemuxer::add(std::uint8_t protocol, const TransportEndpointId& id, NicId nic,
                             TransportEndpoint* ep) {
  auto& regs = hashed(id) ? connected_[key_of(protocol, id)] : by_port_[{protocol, id.local_port}];
  for (const auto& r : regs)
    if (r.id == id && r.nic == nic) return Errc::kPortInUse;
  regs.push_back({id, nic, ep});
  return {};
}

void TransportDemuxer::remove(std::uint8_t protocol, const TransportEndpointId& id, NicId nic,
                              TransportEndpoint* ep) {
  auto matches = [&](const Registration& r) { return r.id == id && r.nic == nic && r.ep == ep; };
  if (hashed(id)) {
    auto c = connected_.find(key_of(protocol, id));
    if (c == connected_.end()) return;
    auto& regs = c->second;
    regs.erase(std::remove_if(regs.begin(), regs.end(), matches), regs.end());
    if (regs.empty()) connected_.erase(c);
    return;
  }
  auto it = by_port_.find({protocol, id.local_port});
  if (it == by_port_.end()) return;
  auto& regs = it->second;
  regs.erase(std::remove_if(regs.begin(), regs.end(), matches), regs.end());
  if (regs.empty()) by_port_.erase(it);
}

TransportEndpoint* TransportDemuxer::find(std::uint8_t protocol, NicId nic, Ipv4Address local_addr,
                                          std::uint16_t local_port, Ipv4Address remote_addr,
                                          std::uint16_t remote_port) const {
  TransportEndpoint* best = nullptr;
  int best_score = -1;
  // A connected registration with a local address outranks every other kind (score >= 6).
  auto c = connected_.find(TupleKey{protocol, local_port, remote_port, local_addr.value, remote_addr.value});
  if (c != connected_.end()) {
    for (const Registration& r : c->second) {
      if (r.nic != kAnyNic && r.nic != nic) continue;
      const int score = r.nic != kAnyNic ? 1 : 0;
      if (score > best_score) best = r.ep, best_score = score;
    }
    if (best != nullptr) return best;
  }
  auto it = by_port_.find({protocol, local_port});
  if (it == by_port_.end()) return nullptr;
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
  for (const auto& [k, v] : connected_) n += v.size();
  return n;
}

}  // namespace netstack
