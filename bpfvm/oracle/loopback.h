// The kernel as an oracle (golang.org/x/net/bpf's method): a loopback UDP receiver with the
// program attached by SO_ATTACH_FILTER, and bpfvm's prediction of what it delivers. A UDP
// socket's filter sees the skb from the UDP header on, and sk_filter_trim_cap() keeps
// max(ret, 8) bytes of it or drops it on 0, so recv() returns min(len, max(ret, 8)) - 8 payload
// bytes; an empty datagram is a delivery. Used by tests/bpfvm and `bpfvm crosscheck`.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bpfvm/context.h"
#include "bpfvm/expected.h"
#include "bpfvm/program.h"

namespace bpfvm::oracle {

struct Outcome {
  bool refused = false;  // SO_ATTACH_FILTER failed (kernel) / validate() failed (bpfvm)
  int error = 0;         // the kernel's errno; bpfvm predicts EINVAL
  bool dropped = false;
  std::size_t payload_len = 0;
  friend bool operator==(const Outcome& a, const Outcome& b) {
    return a.refused == b.refused && (!a.refused || a.error == b.error) && a.dropped == b.dropped &&
           a.payload_len == b.payload_len;
  }
};

std::string to_string(const Outcome& o);

class LoopbackOracle {
 public:
  // Why the oracle cannot run here (no loopback UDP, SO_ATTACH_FILTER refused), or nothing.
  static std::optional<std::string> unavailable();

  // Pins the calling thread to its current CPU and opens three loopback UDP sockets.
  static Expected<std::unique_ptr<LoopbackOracle>, std::string> open();
  ~LoopbackOracle();
  LoopbackOracle(const LoopbackOracle&) = delete;
  LoopbackOracle& operator=(const LoopbackOracle&) = delete;

  // Fails only when loopback itself misbehaves (sendto fails, the sentinel never arrives).
  Expected<Outcome, std::string> kernel(const Program& p, const std::vector<std::uint8_t>& payload);
  Outcome predict(const Program& p, const std::vector<std::uint8_t>& payload) const;
  // Datagrams that arrived after their case was judged a drop (must stay 0).
  std::size_t stray() const { return stray_; }

  // The bytes the filter sees for `payload`: UDP header on, IPv4 header on, Ethernet header on.
  std::vector<std::uint8_t> udp_packet(const std::vector<std::uint8_t>& payload) const;
  std::vector<std::uint8_t> ip_packet(const std::vector<std::uint8_t>& payload) const;
  std::vector<std::uint8_t> eth_packet(const std::vector<std::uint8_t>& payload) const;
  Ancillaries ancillaries() const { return anc_; }
  std::uint16_t rx_port() const { return rx_port_; }
  std::uint16_t tx_port() const { return tx_port_; }

 private:
  LoopbackOracle() = default;
  int rx_ = -1, tx_ = -1, sentinel_ = -1;
  std::uint16_t rx_port_ = 0, tx_port_ = 0, sentinel_port_ = 0;
  Ancillaries anc_;
  std::size_t stray_ = 0;
};

}  // namespace bpfvm::oracle
