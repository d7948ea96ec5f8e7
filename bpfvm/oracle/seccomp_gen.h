// Seeded random seccomp programs, each with the probe system calls to run it on, for the kernel
// oracle (seccomp_probe.h). Programs use every opcode seccomp allows and some it refuses (mod,
// ldh/ldb, indirect loads, msh, loads past or inside a word of seccomp_data, ancillary offsets,
// unknown codes, wild jumps); compare constants are often words of the probes' seccomp_data, so
// branches go both ways; returns are mostly observable ones (ERRNO|data, TRAP|data, ALLOW, ...),
// and `ret a` is often preceded by `and`/`or` that make A an ERRNO or TRAP value. Probes use
// only numbers no kernel implements (1024 and up, the x32 range above 1024, -1, huge ones), so a
// probe the filter allows cannot do anything.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "bpfvm/oracle/seccomp_probe.h"
#include "bpfvm/program.h"

namespace bpfvm::oracle {

struct SeccompCase {
  Program program;
  std::vector<SyscallProbe> probes;
};

class SeccompGen {
 public:
  SeccompGen(std::uint64_t seed, bool int80) : rng_(seed), int80_(int80) {}
  SeccompCase next();

 private:
  std::size_t pick(std::size_t lo, std::size_t hi) {
    return std::uniform_int_distribution<std::size_t>(lo, hi)(rng_);
  }
  std::uint32_t u32() { return static_cast<std::uint32_t>(rng_()); }
  SyscallProbe probe();
  std::uint32_t constant();
  std::uint32_t ret_value();
  std::uint32_t load_offset();
  void item(Program& out);  // one instruction, or a short observable-return sequence

  std::mt19937_64 rng_;
  bool int80_;
  bool clean_ = false;  // this program avoids the deliberately refused forms
  std::vector<std::uint32_t> words_;  // the probes' seccomp_data words, for compare constants
};

}  // namespace bpfvm::oracle
