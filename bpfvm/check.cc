// The kernel's checks of a classic BPF program (bpf_check_classic), without allocating: check()
// and what it needs. The preload object links this file alone (bpfvm/meson.build: bpfvm_check,
// built without exceptions) to check a program's own socket filter inside a wrapped call.
#include "bpfvm/validator.h"

#include <array>
#include <optional>

namespace bpfvm {
namespace {

constexpr bool is_conditional_jump(std::uint16_t code) {
  return bpf_class(code) == kJmp && bpf_op(code) != kJa;
}

// The ld [k] forms that the kernel reads as ancillary loads when k >= SKF_AD_OFF (bpf_anc_helper).
constexpr bool is_ld_abs(std::uint16_t code) {
  return code == (kLd | kW | kAbs) || code == (kLd | kH | kAbs) || code == (kLd | kB | kAbs);
}

bool known_ancillary(std::uint32_t k) {
  const std::uint32_t off = k - static_cast<std::uint32_t>(kSkfAdOff);
  return off < kSkfAdMax && off % 4 == 0;  // SKF_AD_PROTOCOL .. SKF_AD_VLAN_TPID, every 4
}

// bpf_check_classic's per-instruction switch.
std::optional<Errc> check_one(const Instruction& in, std::uint32_t pc, std::uint32_t len) {
  if (!opcode_allowed(in.code)) return Errc::kUnknownOpcode;
  const std::uint16_t c = in.code;
  if (c == (kAlu | kDiv | kK) || c == (kAlu | kMod | kK)) {
    if (in.k == 0) return Errc::kDivisionByZero;
  } else if (c == (kAlu | kLsh | kK) || c == (kAlu | kRsh | kK)) {
    if (in.k >= 32) return Errc::kShiftTooLarge;
  } else if (c == (kLd | kMem) || c == (kLdx | kMem) || c == kSt || c == kStx) {
    if (in.k >= kMemWords) return Errc::kBadScratchIndex;
  } else if (c == (kJmp | kJa)) {
    // The kernel's form: k >= len - pc - 1. len >= 1 and pc < len, so this cannot wrap.
    if (in.k >= len - pc - 1) return Errc::kJumpOutOfRange;
  } else if (is_conditional_jump(c)) {
    if (pc + in.jt + 1 >= len || pc + in.jf + 1 >= len) return Errc::kJumpOutOfRange;
  } else if (is_ld_abs(c)) {
    if (in.k >= static_cast<std::uint32_t>(kSkfAdOff) && !known_ancillary(in.k))
      return Errc::kUnknownAncillary;
  }
  return std::nullopt;
}

// check_load_and_stores: a forward pass with one 16-bit "written" mask per instruction. A jump
// narrows its targets' masks and leaves "everything valid" for the (unreachable) next
// instruction; a ret does not reset the mask. Both are the kernel's behaviour, kept exactly.
// The masks live on the stack (8 KiB at BPF_MAXINSNS): check() must not allocate.
std::optional<BpfError> check_scratch(std::span<const Instruction> p) {
  std::array<std::uint16_t, kMaxInsns> masks;
  masks.fill(0xffff);
  std::uint16_t valid = 0;
  for (std::uint32_t pc = 0; pc < p.size(); ++pc) {
    const Instruction& in = p[pc];
    valid &= masks[pc];
    if (in.code == kSt || in.code == kStx) {
      valid |= static_cast<std::uint16_t>(1u << in.k);
    } else if (in.code == (kLd | kMem) || in.code == (kLdx | kMem)) {
      if (!(valid & (1u << in.k))) return BpfError{Errc::kScratchReadBeforeWrite, pc};
    } else if (in.code == (kJmp | kJa)) {
      masks[pc + 1 + in.k] &= valid;
      valid = 0xffff;
    } else if (is_conditional_jump(in.code)) {
      masks[pc + 1 + in.jt] &= valid;
      masks[pc + 1 + in.jf] &= valid;
      valid = 0xffff;
    }
  }
  return std::nullopt;
}

}  // namespace

bool opcode_allowed(std::uint16_t code) {
  static constexpr std::array<std::uint16_t, 47> kAllowed = {
      kAlu | kAdd | kK, kAlu | kAdd | kX, kAlu | kSub | kK, kAlu | kSub | kX,
      kAlu | kMul | kK, kAlu | kMul | kX, kAlu | kDiv | kK, kAlu | kDiv | kX,
      kAlu | kMod | kK, kAlu | kMod | kX, kAlu | kAnd | kK, kAlu | kAnd | kX,
      kAlu | kOr | kK,  kAlu | kOr | kX,  kAlu | kXor | kK, kAlu | kXor | kX,
      kAlu | kLsh | kK, kAlu | kLsh | kX, kAlu | kRsh | kK, kAlu | kRsh | kX,
      kAlu | kNeg,
      kLd | kW | kAbs,  kLd | kH | kAbs,  kLd | kB | kAbs,  kLd | kW | kLen,
      kLd | kW | kInd,  kLd | kH | kInd,  kLd | kB | kInd,  kLd | kImm,  kLd | kMem,
      kLdx | kW | kLen, kLdx | kB | kMsh, kLdx | kImm, kLdx | kMem,
      kSt, kStx, kMisc | kTax, kMisc | kTxa, kRet | kK, kRet | kA,
      kJmp | kJa, kJmp | kJeq | kK, kJmp | kJeq | kX, kJmp | kJge | kK, kJmp | kJge | kX,
      kJmp | kJgt | kK, kJmp | kJgt | kX};
  static_assert(kAllowed.size() == 47);
  for (std::uint16_t a : kAllowed)
    if (a == code) return true;
  return code == (kJmp | kJset | kK) || code == (kJmp | kJset | kX);
}

std::string_view reason(Errc code) {
  switch (code) {
    case Errc::kEmpty: return "empty program";
    case Errc::kTooLong: return "program too long";
    case Errc::kUnknownOpcode: return "unknown opcode";
    case Errc::kJumpOutOfRange: return "jump out of range";
    case Errc::kNoReturn: return "last instruction is not a return";
    case Errc::kBadScratchIndex: return "scratch index out of range";
    case Errc::kDivisionByZero: return "division by zero";
    case Errc::kShiftTooLarge: return "shift by 32 or more";
    case Errc::kUnknownAncillary: return "unknown ancillary load";
    case Errc::kScratchReadBeforeWrite: return "scratch read before write";
    case Errc::kSeccompOpcode: return "opcode not allowed in seccomp";
    case Errc::kSeccompLoad: return "load outside seccomp_data or unaligned";
  }
  return "unknown error";
}

std::optional<BpfError> check(std::span<const Instruction> program) noexcept {
  const std::size_t n = program.size();
  if (n == 0) return BpfError{Errc::kEmpty, 0};
  if (n > kMaxInsns) return BpfError{Errc::kTooLong, static_cast<std::uint32_t>(n)};
  const auto len = static_cast<std::uint32_t>(n);
  for (std::uint32_t pc = 0; pc < len; ++pc)
    if (auto e = check_one(program[pc], pc, len)) return BpfError{*e, pc};
  const std::uint16_t last = program[len - 1].code;
  if (last != (kRet | kK) && last != (kRet | kA)) return BpfError{Errc::kNoReturn, len - 1};
  return check_scratch(program);
}

}  // namespace bpfvm
