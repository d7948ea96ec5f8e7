// The route table (gVisor tcpip.Route rows): the longest matching prefix wins; among equal
// prefixes, the row added first.
#pragma once

#include <optional>
#include <vector>

#include "netstack/tcpip/address.h"

namespace netstack {

struct RouteEntry {
  Subnet destination;    // 0.0.0.0/0 is the default route
  Ipv4Address gateway;   // any(): the destination is on-link
  NicId nic = kAnyNic;
  friend bool operator==(const RouteEntry&, const RouteEntry&) = default;
};

class RouteTable {
 public:
  void add(const RouteEntry& e) { rows_.push_back(e); }
  void set(std::vector<RouteEntry> rows) { rows_ = std::move(rows); }
  // Removes every row equal to e; returns how many.
  std::size_t remove(const RouteEntry& e);
  // Only rows on `nic` when it is not kAnyNic.
  std::optional<RouteEntry> lookup(Ipv4Address dst, NicId nic = kAnyNic) const;
  const std::vector<RouteEntry>& rows() const { return rows_; }

 private:
  std::vector<RouteEntry> rows_;
};

}  // namespace netstack
