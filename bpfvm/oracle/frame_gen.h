// Seeded random Ethernet frames for the BPF_PROG_TEST_RUN oracle (bpfvm/ebpf/test_run.h): the
// destination MAC and EtherType vary what eth_type_trans() gives skb->pkt_type and
// skb->protocol; what follows is mostly an IPv4 header with a UDP or TCP header, sometimes not.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace bpfvm::oracle {

// The SKF_AD_* offsets whose value a test run's skb has and a loaded eBPF program can read:
// PROTOCOL, PKTTYPE, IFINDEX, MARK, QUEUE, RXHASH, CPU, ALU_XOR_X, VLAN_TAG, VLAN_TAG_PRESENT,
// VLAN_TPID. Left out: NLATTR, NLATTR_NEST and PAY_OFFSET (the kernel's conversion calls
// internal helpers that a program loaded through bpf(2) cannot call), HATYPE (skb->dev->type
// is not in struct __sk_buff), RANDOM (unknowable by construction).
inline constexpr std::uint32_t kTestRunAncillaries[] = {0, 4, 8, 20, 24, 32, 36, 40, 44, 48, 60};

class FrameGen {
 public:
  explicit FrameGen(std::uint64_t seed) : rng_(seed) {}
  std::vector<std::uint8_t> frame();  // at least 14 bytes
  std::uint32_t mark();

 private:
  std::size_t pick(std::size_t lo, std::size_t hi) {
    return std::uniform_int_distribution<std::size_t>(lo, hi)(rng_);
  }
  std::uint8_t byte() { return static_cast<std::uint8_t>(pick(0, 255)); }
  std::mt19937_64 rng_;
};

}  // namespace bpfvm::oracle
