#include "netstack/ports/port_manager.h"

#include <algorithm>

namespace netstack {

bool PortManager::is_available(std::uint8_t protocol, Ipv4Address addr, std::uint16_t port) const {
  auto it = reserved_.find({protocol, port});
  if (it == reserved_.end()) return true;
  return std::none_of(it->second.begin(), it->second.end(), [&](Ipv4Address held) {
    return held.is_any() || addr.is_any() || held == addr;
  });
}

Expected<std::uint16_t> PortManager::reserve(std::uint8_t protocol, Ipv4Address addr,
                                             std::uint16_t port) {
  if (port != 0) {
    if (!is_available(protocol, addr, port)) return Errc::kPortInUse;
    reserved_[{protocol, port}].push_back(addr);
    return port;
  }
  constexpr std::uint32_t kRange = kEphemeralLast - kEphemeralFirst + 1;
  for (std::uint32_t i = 0; i < kRange; ++i) {
    const auto candidate =
        static_cast<std::uint16_t>(kEphemeralFirst + (next_offset_ + i) % kRange);
    if (is_available(protocol, addr, candidate)) {
      next_offset_ += i + 1;  // the next search starts after this one, as Linux's hint does
      reserved_[{protocol, candidate}].push_back(addr);
      return candidate;
    }
  }
  return Errc::kNoPortAvailable;
}

void PortManager::release(std::uint8_t protocol, Ipv4Address addr, std::uint16_t port) {
  auto it = reserved_.find({protocol, port});
  if (it == reserved_.end()) return;
  auto& addrs = it->second;
  if (auto a = std::find(addrs.begin(), addrs.end(), addr); a != addrs.end()) addrs.erase(a);
  if (addrs.empty()) reserved_.erase(it);
}

std::size_t PortManager::reserved_count() const {
  std::size_t n = 0;
  for (const auto& [key, addrs] : reserved_) n += addrs.size();
  return n;
}

}  // namespace netstack
