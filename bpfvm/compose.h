// Two socket filters as one program. The kernel keeps one filter per socket, so a filter that
// must stay (an inbound_loss rule's) and one a program attaches itself have to become a single
// classic program for both to apply.
//
// The first is a gate: every return of it is `ret #0` (drop) or `ret #0xffffffff` (keep whole),
// as bpfvm's loss filters are. The packets it keeps go on to the second program, whose verdict
// is then the composition's:
//
//   gate, with each `ret #0xffffffff` turned into a jump to the junction (`ret #0` stays)
//   junction: ld #0; ldx #0      the kernel starts every program with A = X = 0 and the second
//                                may rely on it; the gate leaves both changed
//   the second program, unchanged: its jumps are relative, so moving it relocates nothing
//
// Scratch memory needs nothing: the kernel refuses a program that reads M[k] before writing it
// on some path, and the second's paths are its own. So check the second alone first (a gate that
// writes M[k] could otherwise make a second the kernel refuses look acceptable), then check the
// composition (bpfvm::check): it may be longer than BPF_MAXINSNS.
//
// No allocation: the preload object composes inside a wrapped setsockopt.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "bpfvm/loss_filter.h"
#include "bpfvm/program.h"

namespace bpfvm {

inline constexpr std::size_t kJunctionSize = 2;

// Instructions before the second program in a composition behind a gate of gate_len.
constexpr std::size_t gate_prefix_size(std::size_t gate_len) noexcept { return gate_len + kJunctionSize; }

// True when every return of p is `ret #0` or `ret #kKeepWhole`.
constexpr bool is_gate(std::span<const Instruction> p) noexcept {
  for (const Instruction& in : p)
    if (bpf_class(in.code) == kRet && (in.code != (kRet | kK) || (in.k != 0 && in.k != kKeepWhole))) return false;
  return !p.empty();
}

// Writes the gate and the junction into out[0, gate_prefix_size(gate.size())); the second
// program goes right after them. Returns that length; 0 when gate is no gate or out is too small.
constexpr std::size_t write_gate_prefix(std::span<const Instruction> gate, std::span<Instruction> out) noexcept {
  const std::size_t n = gate.size();
  if (!is_gate(gate) || out.size() < gate_prefix_size(n)) return 0;
  for (std::size_t i = 0; i < n; ++i) {
    Instruction in = gate[i];
    if (in.code == (kRet | kK) && in.k == kKeepWhole)
      in = {static_cast<std::uint16_t>(kJmp | kJa), 0, 0, static_cast<std::uint32_t>(n - (i + 1))};
    out[i] = in;
  }
  out[n] = {static_cast<std::uint16_t>(kLd | kImm), 0, 0, 0};
  out[n + 1] = {static_cast<std::uint16_t>(kLdx | kImm), 0, 0, 0};
  return gate_prefix_size(n);
}

// The whole composition into out. Returns its length; 0 when gate is no gate, second is empty,
// out is too small, or the composition would be longer than BPF_MAXINSNS.
constexpr std::size_t compose_behind_gate(std::span<const Instruction> gate, std::span<const Instruction> second,
                                          std::span<Instruction> out) noexcept {
  const std::size_t total = gate_prefix_size(gate.size()) + second.size();
  if (second.empty() || total > kMaxInsns || out.size() < total) return 0;
  const std::size_t at = write_gate_prefix(gate, out);
  if (at == 0) return 0;
  for (std::size_t i = 0; i < second.size(); ++i) out[at + i] = second[i];
  return total;
}

}  // namespace bpfvm
