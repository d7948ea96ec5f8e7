// The socket filter behind an `inbound_loss` rule (docs/filters.md): drop each arriving packet
// with probability P, keep the rest whole. It reads the kernel's per-packet random number
// (SKF_AD_OFF + SKF_AD_RANDOM, bpf_user_rnd_u32), so the kernel decides and nothing runs in the
// program's process per packet.
//
// The shape is fixed (four instructions) and built into a std::array, so the preload object can
// emit it inside a wrapped call without allocating; the loader validates the same shape with
// validate() when it reads the rule (tests/bpfvm/loss_filter_test.cc runs it on the interpreter).
#pragma once

#include <array>
#include <cstdint>

#include "bpfvm/program.h"

namespace bpfvm {

inline constexpr std::size_t kLossFilterSize = 4;
using LossFilter = std::array<Instruction, kLossFilterSize>;

// What a socket filter returns to keep a packet: the kernel trims it to min(ret, length), so
// all ones keeps it whole.
inline constexpr std::uint32_t kKeepWhole = 0xffffffffu;

// The random value at or below which a packet is dropped, for a drop probability p in (0, 1]:
// ceil(p * 2^32) - 1, so exactly ceil(p * 2^32) of the 2^32 values drop (p = 1 drops all, and
// the smallest p still drops one value in 2^32 rather than none). p outside (0, 1] gives 0.
constexpr std::uint32_t loss_threshold(double p) noexcept {
  if (!(p > 0.0 && p <= 1.0)) return 0;
  const double scaled = p * 4294967296.0;   // exact: a power-of-two scaling
  auto n = static_cast<std::uint64_t>(scaled);
  if (static_cast<double>(n) < scaled) ++n;   // ceil, without <cmath> (constexpr)
  if (n == 0) n = 1;
  return static_cast<std::uint32_t>(n - 1);
}

//   ld  rand                 A = a fresh 32-bit random number per packet
//   jgt #threshold, keep, drop
//   keep: ret #0xffffffff
//   drop: ret #0
constexpr LossFilter build_loss_filter(std::uint32_t threshold) noexcept {
  return {{
      {static_cast<std::uint16_t>(kLd | kW | kAbs), 0, 0, ancillary_k(Ancillary::kRandom)},
      {static_cast<std::uint16_t>(kJmp | kJgt | kK), 0, 1, threshold},
      {static_cast<std::uint16_t>(kRet | kK), 0, 0, kKeepWhole},
      {static_cast<std::uint16_t>(kRet | kK), 0, 0, 0},
  }};
}

}  // namespace bpfvm
