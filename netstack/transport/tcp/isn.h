// Initial sequence numbers per RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport,
// secretkey), with M a timer ticking every 4 microseconds and F a keyed hash, here SipHash-2-4 (as
// Linux's secure_tcp_seq uses). Connections to different peers get unrelated ISNs, and a new
// incarnation of the same 4-tuple starts ahead of the old one.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "netstack/seqnum/seqnum.h"
#include "netstack/transport/tcp/clock.h"

namespace netstack::tcp {

using SipKey = std::array<std::uint8_t, 16>;

// SipHash-2-4 (Aumasson and Bernstein, 2012) of `data` under `key`.
std::uint64_t siphash24(const SipKey& key, std::span<const std::uint8_t> data);

// IPv4 addresses in network byte order as four bytes, ports in host order.
struct FourTuple {
  std::array<std::uint8_t, 4> local_addr{};
  std::uint16_t local_port = 0;
  std::array<std::uint8_t, 4> remote_addr{};
  std::uint16_t remote_port = 0;
};

class IsnGenerator {
 public:
  // The key must be secret and random (the embedder reads it from getrandom(2) once per stack);
  // taking it as a parameter keeps this module free of I/O and tests reproducible.
  explicit IsnGenerator(const SipKey& key) : key_(key) {}
  seqnum::Value generate(const FourTuple& tuple, Instant now) const;

 private:
  SipKey key_;
};

}  // namespace netstack::tcp
