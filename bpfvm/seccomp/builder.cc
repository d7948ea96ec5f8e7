#include "bpfvm/seccomp/builder.h"

#include <algorithm>
#include <vector>

namespace bpfvm::seccomp {
namespace {

// A maximal run of numbers [start, next range's start) that share one action (and, for a
// number with an ArgRule, that rule: such a range is that one number).
struct Range {
  std::uint32_t start;
  std::uint32_t action;
  const ArgRule* rule = nullptr;
  bool same(const Range& o) const { return action == o.action && rule == o.rule; }
};

// The piecewise-constant function nr → action over all 2^32 values, as ranges.
std::vector<Range> ranges_of(const SyscallFilterSpec& spec) {
  std::map<std::uint32_t, Range> numbers;
  for (const auto& [nr, action] : spec.actions) numbers[nr] = Range{nr, action};
  for (const auto& [nr, rule] : spec.arg_rules) {
    auto [it, made] = numbers.try_emplace(nr, Range{nr, spec.default_action});
    it->second.rule = &rule;
  }
  std::vector<Range> out{{0, spec.default_action}};
  auto add = [&out](const Range& r) {
    if (out.back().start == r.start) out.back() = r;
    else if (!out.back().same(r)) out.push_back(r);
    if (out.size() >= 2 && out[out.size() - 2].same(out.back())) out.pop_back();
  };
  for (const auto& [nr, r] : numbers) {
    add(r);
    if (nr != 0xffffffffu) add(Range{nr + 1, spec.default_action});
  }
  return out;
}

Instruction stmt(std::uint16_t code, std::uint32_t k) { return {code, 0, 0, k}; }
Instruction jump(std::uint16_t code, std::uint32_t k, std::uint8_t jt, std::uint8_t jf) {
  return {code, jt, jf, k};
}

// A search tree over ranges[lo, hi): "jge #pivot" with the lower half falling through and the
// upper half after it. A lower half longer than 255 instructions is out of jt's reach, so the
// compare then falls through to a `ja` (32-bit offset) over it instead.
Program search(const std::vector<Range>& ranges, std::size_t lo, std::size_t hi) {
  if (hi - lo == 1 && ranges[lo].rule) {
    // ld args[arg] (its low word); jeq each value to the rule's action; else the number's.
    const ArgRule& r = *ranges[lo].rule;
    const std::size_t k = r.values.size();
    Program leaf{stmt(kLd | kW | kAbs, kArgsOffset + 8 * r.arg)};
    for (std::size_t i = 0; i < k; ++i)
      leaf.push_back(jump(kJmp | kJeq | kK, r.values[i], static_cast<std::uint8_t>(k - i), 0));
    leaf.push_back(stmt(kRet | kK, ranges[lo].action));
    leaf.push_back(stmt(kRet | kK, r.action));
    return leaf;
  }
  if (hi - lo == 1) return {stmt(kRet | kK, ranges[lo].action)};
  const std::size_t mid = lo + (hi - lo) / 2;
  Program lower = search(ranges, lo, mid);
  Program upper = search(ranges, mid, hi);
  Program out;
  const std::uint32_t pivot = ranges[mid].start;
  if (lower.size() <= 255) {
    out.push_back(jump(kJmp | kJge | kK, pivot, static_cast<std::uint8_t>(lower.size()), 0));
  } else {
    out.push_back(jump(kJmp | kJge | kK, pivot, 0, 1));
    out.push_back(stmt(kJmp | kJa, static_cast<std::uint32_t>(lower.size())));
  }
  out.insert(out.end(), lower.begin(), lower.end());
  out.insert(out.end(), upper.begin(), upper.end());
  return out;
}

}  // namespace

std::string_view reason(BuildError e) {
  switch (e) {
    case BuildError::kX32Number: return "system call number has the x32 bit set";
    case BuildError::kTooLong: return "filter longer than 4096 instructions";
    case BuildError::kBadArgRule: return "argument rule on an argument past the sixth or with more than 200 values";
  }
  return "unknown error";
}

Expected<ValidatedProgram, BuildError> build_syscall_filter(const SyscallFilterSpec& spec) {
  const bool x86_64 = spec.arch == kAuditArchX86_64;
  if (x86_64)
    for (const auto& [nr, action] : spec.actions)
      if (nr >= kX32SyscallBit) return unexpected(BuildError::kX32Number);
  for (const auto& [nr, rule] : spec.arg_rules) {
    if (x86_64 && nr >= kX32SyscallBit) return unexpected(BuildError::kX32Number);
    if (rule.arg > 5 || rule.values.size() > 200) return unexpected(BuildError::kBadArgRule);
  }
  Program p = {stmt(kLd | kW | kAbs, kArchOffset), jump(kJmp | kJeq | kK, spec.arch, 1, 0),
               stmt(kRet | kK, spec.bad_arch_action), stmt(kLd | kW | kAbs, kNrOffset)};
  if (x86_64) {
    p.push_back(jump(kJmp | kJge | kK, kX32SyscallBit, 0, 2));
    p.push_back(jump(kJmp | kJeq | kK, 0xffffffffu, 1, 0));
    p.push_back(stmt(kRet | kK, spec.x32_action));
  }
  const std::vector<Range> ranges = ranges_of(spec);
  const Program tree = search(ranges, 0, ranges.size());
  if (p.size() + tree.size() > kMaxInsns) return unexpected(BuildError::kTooLong);
  p.insert(p.end(), tree.begin(), tree.end());
  auto valid = validate_seccomp(std::move(p));
  // The layout above only makes forward jumps inside the program and only seccomp opcodes.
  if (!valid) __builtin_trap();
  return std::move(*valid);
}

Expected<ValidatedProgram, BuildError> build_notify_list(std::span<const std::uint32_t> numbers,
                                                         std::uint32_t action, std::uint32_t arch) {
  SyscallFilterSpec spec;
  spec.arch = arch;
  for (std::uint32_t nr : numbers) spec.actions[nr] = action;
  return build_syscall_filter(spec);
}

std::uint32_t expected_action(const SyscallFilterSpec& spec, const Data& d) {
  if (d.arch != spec.arch) return spec.bad_arch_action;
  const auto nr = static_cast<std::uint32_t>(d.nr);
  if (spec.arch == kAuditArchX86_64 && nr >= kX32SyscallBit && nr != 0xffffffffu) return spec.x32_action;
  if (const auto r = spec.arg_rules.find(nr); r != spec.arg_rules.end()) {
    const auto v = static_cast<std::uint32_t>(d.args[r->second.arg]);
    if (std::find(r->second.values.begin(), r->second.values.end(), v) != r->second.values.end()) return r->second.action;
  }
  const auto it = spec.actions.find(nr);
  return it == spec.actions.end() ? spec.default_action : it->second;
}

}  // namespace bpfvm::seccomp
