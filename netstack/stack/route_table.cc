#include "netstack/stack/route_table.h"

#include <algorithm>

namespace netstack {

std::size_t RouteTable::remove(const RouteEntry& e) {
  const auto before = rows_.size();
  rows_.erase(std::remove(rows_.begin(), rows_.end(), e), rows_.end());
  return before - rows_.size();
}

std::optional<RouteEntry> RouteTable::lookup(Ipv4Address dst, NicId nic) const {
  const RouteEntry* best = nullptr;
  for (const RouteEntry& r : rows_) {
    if (nic != kAnyNic && r.nic != nic) continue;
    if (!r.destination.contains(dst)) continue;
    if (best == nullptr || r.destination.prefix_len > best->destination.prefix_len) best = &r;
  }
  if (best == nullptr) return std::nullopt;
  return *best;
}

}  // namespace netstack
