// The kernel's acceptance rules for seccomp filters. seccomp_prepare_filter() hands the program to
// bpf_prog_create_from_user() with seccomp_check_filter() as the `trans` callback, so a filter
// passes bpf_check_classic() first (every socket-filter rule, validator.h) and then the seccomp
// pass. validate_seccomp() does the same: the classic validate(), then the seccomp rules.
#pragma once

#include <cstdint>

#include "bpfvm/expected.h"
#include "bpfvm/program.h"
#include "bpfvm/validator.h"

namespace bpfvm::seccomp {

// A program that passed both the classic and the seccomp checks. Only validate_seccomp() makes
// one, so a socket-filter program cannot be run over seccomp_data by mistake.
class ValidatedProgram {
 public:
  const bpfvm::ValidatedProgram& classic() const { return classic_; }
  const Program& program() const { return classic_.program(); }
  std::size_t size() const { return classic_.size(); }

 private:
  friend Expected<ValidatedProgram, BpfError> validate_seccomp(Program program);
  explicit ValidatedProgram(bpfvm::ValidatedProgram p) : classic_(std::move(p)) {}
  bpfvm::ValidatedProgram classic_;
};

// Errors: the classic ones (Errc::kEmpty ... kScratchReadBeforeWrite) first, as the kernel runs
// bpf_check_classic() before seccomp_check_filter(); then Errc::kSeccompOpcode or
// Errc::kSeccompLoad at the first instruction the seccomp pass refuses. The kernel says EINVAL
// for all of them.
Expected<ValidatedProgram, BpfError> validate_seccomp(Program program);

// True if seccomp_check_filter() lets `code` through (it also needs bpf_check_classic's table).
bool seccomp_opcode_allowed(std::uint16_t code);

}  // namespace bpfvm::seccomp
