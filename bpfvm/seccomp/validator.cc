#include "bpfvm/seccomp/validator.h"

#include <array>

#include "bpfvm/seccomp/data.h"

namespace bpfvm::seccomp {

bool seccomp_opcode_allowed(std::uint16_t code) {
  // seccomp_check_filter's "Explicitly include allowed calls" list plus the three codes it
  // rewrites (ld [k], ld len, ldx len). Absent, though bpf_check_classic takes them: mod, every
  // ldh/ldb [k], indirect loads, ldx 4*([k]&0xf); so no ancillary load can reach a filter.
  static constexpr std::array<std::uint16_t, 41> kAllowed = {
      kLd | kW | kAbs,  kLd | kW | kLen,  kLdx | kW | kLen,
      kRet | kK,        kRet | kA,
      kAlu | kAdd | kK, kAlu | kAdd | kX, kAlu | kSub | kK, kAlu | kSub | kX,
      kAlu | kMul | kK, kAlu | kMul | kX, kAlu | kDiv | kK, kAlu | kDiv | kX,
      kAlu | kAnd | kK, kAlu | kAnd | kX, kAlu | kOr | kK,  kAlu | kOr | kX,
      kAlu | kXor | kK, kAlu | kXor | kX, kAlu | kLsh | kK, kAlu | kLsh | kX,
      kAlu | kRsh | kK, kAlu | kRsh | kX, kAlu | kNeg,
      kLd | kImm,       kLdx | kImm,      kMisc | kTax,     kMisc | kTxa,
      kLd | kMem,       kLdx | kMem,      kSt,              kStx,
      kJmp | kJa,       kJmp | kJeq | kK, kJmp | kJeq | kX, kJmp | kJge | kK, kJmp | kJge | kX,
      kJmp | kJgt | kK, kJmp | kJgt | kX, kJmp | kJset | kK, kJmp | kJset | kX};
  for (std::uint16_t a : kAllowed)
    if (a == code) return true;
  return false;
}

Expected<ValidatedProgram, BpfError> validate_seccomp(Program program) {
  auto classic = validate(std::move(program));
  if (!classic) return unexpected(classic.error());
  const Program& p = classic->program();
  for (std::uint32_t pc = 0; pc < p.size(); ++pc) {
    const Instruction& in = p[pc];
    if (!seccomp_opcode_allowed(in.code)) return unexpected(BpfError{Errc::kSeccompOpcode, pc});
    // seccomp_check_filter: "32-bit aligned and not out of bounds" for ld [k].
    if (in.code == (kLd | kW | kAbs) && (in.k >= kDataSize || in.k % 4 != 0))
      return unexpected(BpfError{Errc::kSeccompLoad, pc});
  }
  return ValidatedProgram(std::move(*classic));
}

}  // namespace bpfvm::seccomp
