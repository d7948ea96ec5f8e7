// The kernel as the oracle for seccomp filters. A child process sets NO_NEW_PRIVS, installs the
// program with seccomp(SECCOMP_SET_MODE_FILTER) and makes "probe" system calls with chosen
// numbers and arguments; what each call does shows the filter's verdict:
//   SECCOMP_RET_ERRNO|d        the call returns -min(d, MAX_ERRNO) (0 for d = 0)
//   SECCOMP_RET_TRAP|d         SIGSYS, with si_errno = d (caught; the child records it and ends)
//   ALLOW, LOG                 the call runs: probes use numbers no kernel implements, so -ENOSYS
//   TRACE, USER_NOTIF          -ENOSYS: no tracer, no listener (__seccomp_filter)
//   KILL_*, any other action   the child dies of SIGSYS
// After installing, the child makes no system call but the probes: it writes results to memory
// it shares with the parent (clone(CLONE_VM | CLONE_VFORK)) and ends with exit_group (or a trap
// if that is refused), so no program can stop it from reporting. The probes after one that
// ended the child run in a new child. x86-64 only: probes are
// made by a few lines of assembly, with `syscall` (AUDIT_ARCH_X86_64) or `int $0x80`
// (AUDIT_ARCH_I386), so the instruction pointer the filter sees is known.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bpfvm/expected.h"
#include "bpfvm/program.h"
#include "bpfvm/seccomp/data.h"

namespace bpfvm::oracle {

struct SyscallProbe {
  bool int80 = false;   // int $0x80 (i386 ABI, 32-bit registers) instead of `syscall`
  std::uint64_t nr = 0;  // rax; the filter sees its low 32 bits as an int
  std::array<std::uint64_t, 6> args{};
};

struct Verdict {
  // kFaulted: the probe ended the child with another signal, which no filter verdict explains.
  enum class Kind : std::uint8_t { kReturned, kTrapped, kKilled, kFaulted };
  Kind kind = Kind::kReturned;
  std::int64_t value = 0;  // kReturned: the raw return (-errno); kTrapped: si_errno; kFaulted: signal
  friend bool operator==(const Verdict&, const Verdict&) = default;
};
std::string to_string(const Verdict& v);

// What the kernel did with a program and its probes.
struct SeccompOutcome {
  bool refused = false;
  int error = 0;                  // seccomp()'s errno when refused
  std::vector<Verdict> verdicts;  // one per probe when accepted
  // For trapped probes, the siginfo the kernel sent: si_syscall, si_arch, si_call_addr.
  struct TrapInfo { std::int32_t syscall; std::uint32_t arch; std::uint64_t call_addr; };
  std::vector<std::optional<TrapInfo>> traps;
  std::size_t children = 0;       // processes it took
};

class SeccompOracle {
 public:
  // Why the oracle cannot run here (not x86-64, seccomp filters refused), or nothing.
  static std::optional<std::string> unavailable();
  // Opens the shared page the children report through.
  static Expected<SeccompOracle, std::string> open();
  SeccompOracle(SeccompOracle&&) noexcept;
  SeccompOracle& operator=(SeccompOracle&&) = delete;
  ~SeccompOracle();

  // True if int $0x80 reaches the i386 system calls (IA32 emulation is on).
  bool has_int80() const { return int80_; }
  // Fails only when a child ends in a way the model above does not explain.
  Expected<SeccompOutcome, std::string> kernel(const Program& p, std::span<const SyscallProbe> probes);

  // What the filter sees for a probe, and what the kernel does with a return value.
  static seccomp::Data data(const SyscallProbe& probe);
  static Verdict predict(std::uint32_t ret);

  static constexpr std::size_t kMaxProbes = 8192;
  struct Shared;  // the page the children write (seccomp_probe.cc)

 private:
  static constexpr std::size_t kStackSize = 1 << 20;  // the children's stack (ASan frames are big)
  SeccompOracle(Shared* s, char* stack, bool int80) : shared_(s), stack_(stack), int80_(int80) {}
  Shared* shared_;
  char* stack_;
  bool int80_;
};

}  // namespace bpfvm::oracle
