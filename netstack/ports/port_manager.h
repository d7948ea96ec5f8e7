// Transport port reservations (gVisor stack/ports): one owner per (protocol, address, port),
// where the unspecified address conflicts with every address. Port 0 asks for an ephemeral port.
#pragma once

#include <cstdint>
#include <map>
#include <tuple>
#include <vector>

#include "netstack/tcpip/address.h"
#include "netstack/tcpip/error.h"

namespace netstack {

class PortManager {
 public:
  // Linux's default net.ipv4.ip_local_port_range.
  static constexpr std::uint16_t kEphemeralFirst = 32768;
  static constexpr std::uint16_t kEphemeralLast = 60999;

  // seed picks where the ephemeral search starts, so runs are reproducible.
  explicit PortManager(std::uint32_t seed = 1) : next_offset_(seed) {}

  // Reserves port (or an ephemeral one if port is 0) on addr. Errors: kPortInUse when taken,
  // kNoPortAvailable when the ephemeral range is exhausted.
  Expected<std::uint16_t> reserve(std::uint8_t protocol, Ipv4Address addr, std::uint16_t port);
  // Releasing something not reserved is a no-op.
  void release(std::uint8_t protocol, Ipv4Address addr, std::uint16_t port);
  bool is_available(std::uint8_t protocol, Ipv4Address addr, std::uint16_t port) const;
  std::size_t reserved_count() const;

 private:
  // (protocol, port) -> addresses holding it.
  std::map<std::pair<std::uint8_t, std::uint16_t>, std::vector<Ipv4Address>> reserved_;
  std::uint32_t next_offset_;
};

}  // namespace netstack
