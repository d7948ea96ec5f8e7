// Runs a validated classic BPF program with the kernel's run-time semantics (the cBPF → eBPF
// conversion in net/core/filter.c and the helpers it calls). Never fails: any load the kernel
// could not do ends the program with 0, i.e. "drop".
#pragma once

#include <cstdint>

#include "bpfvm/context.h"
#include "bpfvm/validator.h"

namespace bpfvm {

std::uint32_t run(const ValidatedProgram& program, const Context& ctx);

class Interpreter {
 public:
  explicit Interpreter(const ValidatedProgram& program) : program_(&program) {}
  std::uint32_t run(const Context& ctx) const { return bpfvm::run(*program_, ctx); }

 private:
  const ValidatedProgram* program_;  // must outlive the interpreter
};

// SKF_AD_NLATTR / SKF_AD_NLATTR_NEST: the offset of the netlink attribute of type x found from
// offset a (inside the attribute at a, for the nested form), or 0. Exposed for tests.
std::uint32_t find_nlattr(std::span<const std::uint8_t> packet, std::uint32_t a, std::uint32_t x);
std::uint32_t find_nlattr_nest(std::span<const std::uint8_t> packet, std::uint32_t a,
                               std::uint32_t x);

}  // namespace bpfvm
