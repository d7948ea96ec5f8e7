// The kernel's acceptance rules for classic socket filters (net/core/filter.c:
// bpf_check_basics_ok, bpf_check_classic, chk_code_allowed, check_load_and_stores).
// A ValidatedProgram can only come out of validate(), so the interpreter never meets an
// instruction the kernel would have refused.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "bpfvm/decoded.h"
#include "bpfvm/expected.h"
#include "bpfvm/program.h"

namespace bpfvm {

enum class Errc : std::uint8_t {
  kEmpty,                 // no instructions
  kTooLong,               // more than BPF_MAXINSNS
  kUnknownOpcode,         // not in the kernel's chk_code_allowed table (bad class, mode or size)
  kJumpOutOfRange,        // a target at or past the end (jumps only go forward)
  kNoReturn,              // the last instruction is not ret #k or ret a
  kBadScratchIndex,       // M[k] with k >= 16
  kDivisionByZero,        // div or mod by constant 0
  kShiftTooLarge,         // lsh or rsh by constant >= 32
  kUnknownAncillary,      // ld [SKF_AD_OFF + n] with n not a known SKF_AD_*
  kScratchReadBeforeWrite,  // some path reaches ld/ldx M[k] before any st/stx M[k]
  // Seccomp mode only (seccomp/validator.h, kernel/seccomp.c seccomp_check_filter):
  kSeccompOpcode,         // a classic opcode seccomp does not allow (mod, ldh/ldb, indirect, msh)
  kSeccompLoad,           // ld [k] with k >= sizeof(struct seccomp_data) or k not 4-byte aligned
};

struct BpfError {
  Errc code;
  std::uint32_t insn_index;  // the offending instruction; 0 for kEmpty, the length for kTooLong
  friend bool operator==(const BpfError&, const BpfError&) = default;
};

// A short, stable reason ("jump out of range"); the golden files' `-- reject` lines use it.
std::string_view reason(Errc code);

class ValidatedProgram {
 public:
  const Program& program() const { return program_; }
  std::size_t size() const { return program_.size(); }
  const Instruction& operator[](std::size_t i) const { return program_[i]; }
  // The interpreter's pre-decoded form, one Op per instruction (decoded.h).
  const Op* ops() const { return ops_.data(); }
  // True if some instruction is an ancillary load (SKF_AD_*).
  bool has_ancillary() const { return has_ancillary_; }

 private:
  friend Expected<ValidatedProgram, BpfError> validate(Program program);

// validate()'s checks without keeping the program: nullopt when the kernel would accept it.
// Allocation-free (its one table is on the stack, 8 KiB), so the preload object may call it
// inside a wrapped call.
std::optional<BpfError> check(std::span<const Instruction> program) noexcept;
  explicit ValidatedProgram(Program p) : program_(std::move(p)), ops_(decode(program_)) {
    for (const Op& op : ops_) has_ancillary_ = has_ancillary_ || op.op == Opc::kLdAnc;
  }
  Program program_;
  std::vector<Op> ops_;
  bool has_ancillary_ = false;
};

Expected<ValidatedProgram, BpfError> validate(Program program);

// validate()'s checks without keeping the program: nullopt when the kernel would accept it.
// Allocation-free (its one table is on the stack, 8 KiB), so the preload object may call it
// inside a wrapped call.
std::optional<BpfError> check(std::span<const Instruction> program) noexcept;

// True if the kernel's chk_code_allowed knows `code` (exact 16-bit match).
bool opcode_allowed(std::uint16_t code);

}  // namespace bpfvm
