// Seeded random classic BPF programs for differential runs against the kernel: every class and
// addressing mode, offsets inside and around the packet, the IPv4 and Ethernet headers and the
// ancillary area, and some invalid programs (unknown codes, wild jumps, bad scratch indices).
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "bpfvm/program.h"

namespace bpfvm::oracle {

class ProgramGen {
 public:
  // Ancillary loads use the SKF_AD_* offsets in `ancillaries` (and some the kernel does not know).
  explicit ProgramGen(std::uint64_t seed, std::span<const std::uint32_t> ancillaries = kDeterministicAnc)
      : rng_(seed), anc_(ancillaries) {}
  Program program(std::size_t payload_len);
  std::vector<std::uint8_t> payload();

  // Ancillary offsets whose value on loopback is known (RXHASH, RANDOM are not).
  static constexpr std::uint32_t kDeterministicAnc[] = {0, 4, 8, 12, 16, 20, 24, 28, 36, 40, 44, 48, 52, 60};

 private:
  std::size_t pick(std::size_t lo, std::size_t hi) {
    return std::uniform_int_distribution<std::size_t>(lo, hi)(rng_);
  }
  std::uint32_t u32() { return static_cast<std::uint32_t>(rng_()); }
  std::uint32_t ret_k(std::size_t payload_len);
  std::uint32_t offset(std::size_t payload_len);
  std::uint32_t small_or_wild();
  Instruction insn(std::size_t i, std::size_t n, std::size_t payload_len);

  std::mt19937_64 rng_;
  std::span<const std::uint32_t> anc_;  // static storage: the lists above or the caller's
};

// True if `p` loads SKF_AD_RANDOM or SKF_AD_RXHASH, whose values no oracle can know in advance.
bool reads_unreproducible_ancillary(const Program& p);

}  // namespace bpfvm::oracle
