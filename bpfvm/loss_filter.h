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
#include <span>

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

// A rule's `filter` (a tcpdump expression, compiled and relocated to socket-filter offsets by
// `sockshim run`/`check`) limits the loss to the packets it accepts. At most this many
// instructions: the rule table carries them in place (filters/table.h).
inline constexpr std::size_t kMaxMatchInsns = 64;
// The composed filter: the match program, then a test of A and the loss filter.
inline constexpr std::size_t kMaxComposedLossFilter = kMaxMatchInsns + 1 + kLossFilterSize;

// Writes into `out` the filter that drops with the threshold's probability only the packets
// `match` accepts and keeps every other packet whole. cBPF jumps only go forward, so the tail
// follows the match program and each of its returns becomes a jump into it:
//   ret #0 → keep;  ret #k (k ≠ 0) → the loss filter;  ret a → a test of A (0 keeps, else loss).
//   n+0: jeq #0, keep, loss      (for `ret a`)
//   n+1: ld rand / n+2: jgt #threshold, keep, drop / n+3: keep: ret #-1 / n+4: drop: ret #0
// Returns the length written; 0 when match is empty or longer than kMaxMatchInsns, or out is
// too small. No allocation: the preload object calls it inside a wrapped call.
constexpr std::size_t compose_loss_filter(std::span<const Instruction> match, std::uint32_t threshold,
                                          std::span<Instruction> out) noexcept {
  const std::size_t n = match.size();
  if (n == 0 || n > kMaxMatchInsns || out.size() < n + 1 + kLossFilterSize) return 0;
  const std::size_t test_a = n, loss = n + 1, keep = n + 3;
  for (std::size_t i = 0; i < n; ++i) {
    Instruction in = match[i];
    if (bpf_class(in.code) == kRet) {
      std::size_t target = loss;
      if ((in.code & 0x18) == kA)   // BPF_RVAL: ret a
        target = test_a;
      else if (in.k == 0)
        target = keep;
      in = {static_cast<std::uint16_t>(kJmp | kJa), 0, 0, static_cast<std::uint32_t>(target - (i + 1))};
    }
    out[i] = in;
  }
  out[test_a] = {static_cast<std::uint16_t>(kJmp | kJeq | kK), 2, 0, 0};
  const LossFilter tail = build_loss_filter(threshold);
  for (std::size_t i = 0; i < tail.size(); ++i) out[loss + i] = tail[i];
  return n + 1 + kLossFilterSize;
}

}  // namespace bpfvm
