#include "bpfvm/oracle/seccomp_probe.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__x86_64__)
// long probe(const std::uint64_t regs[7]): regs[0] is the number, regs[1..6] the arguments. The
// address after the trapping instruction is what the kernel reports as instruction_pointer.
extern "C" {
__attribute__((visibility("hidden"))) long bpfvm_seccomp_probe_syscall(const std::uint64_t* regs);
__attribute__((visibility("hidden"))) long bpfvm_seccomp_probe_int80(const std::uint64_t* regs);
__attribute__((visibility("hidden"))) extern const char bpfvm_seccomp_probe_syscall_ip[];
__attribute__((visibility("hidden"))) extern const char bpfvm_seccomp_probe_int80_ip[];
}
asm(R"(
  .text
  .p2align 4
  .globl bpfvm_seccomp_probe_syscall
  .hidden bpfvm_seccomp_probe_syscall
  .type bpfvm_seccomp_probe_syscall, @function
bpfvm_seccomp_probe_syscall:
  mov %rdi, %r11
  mov 0(%r11), %rax
  mov 8(%r11), %rdi
  mov 16(%r11), %rsi
  mov 24(%r11), %rdx
  mov 32(%r11), %r10
  mov 40(%r11), %r8
  mov 48(%r11), %r9
  syscall
  .globl bpfvm_seccomp_probe_syscall_ip
  .hidden bpfvm_seccomp_probe_syscall_ip
bpfvm_seccomp_probe_syscall_ip:
  ret
  .size bpfvm_seccomp_probe_syscall, .-bpfvm_seccomp_probe_syscall

  .p2align 4
  .globl bpfvm_seccomp_probe_int80
  .hidden bpfvm_seccomp_probe_int80
  .type bpfvm_seccomp_probe_int80, @function
bpfvm_seccomp_probe_int80:
  push %rbx
  push %rbp
  mov %rdi, %r11
  movl 0(%r11), %eax
  movl 8(%r11), %ebx
  movl 16(%r11), %ecx
  movl 24(%r11), %edx
  movl 32(%r11), %esi
  movl 40(%r11), %edi
  movl 48(%r11), %ebp
  int $0x80
  .globl bpfvm_seccomp_probe_int80_ip
  .hidden bpfvm_seccomp_probe_int80_ip
bpfvm_seccomp_probe_int80_ip:
  pop %rbp
  pop %rbx
  movslq %eax, %rax
  ret
  .size bpfvm_seccomp_probe_int80, .-bpfvm_seccomp_probe_int80
)");
#endif

namespace bpfvm::oracle {

namespace {

enum State : std::int32_t { kIdle = 0, kStarted, kReturned, kTrapped };

struct Slot {
  volatile std::int32_t state;
  std::int32_t trap_syscall;
  std::int64_t value;
  std::uint32_t trap_arch;
  std::uint64_t trap_addr;
};

constexpr std::uint64_t kNoSuchCall = 1024;  // above every x86-64 and i386 system call number

}  // namespace

struct SeccompOracle::Shared {
  volatile std::int32_t install_errno;  // -1 until the child has tried
  volatile std::int32_t probes_done;
  Slot slots[kMaxProbes];
};

namespace {

// Where the child reports, and the probe it is making (for the SIGSYS handler).
SeccompOracle::Shared* g_shared = nullptr;
volatile std::int32_t g_slot = -1;

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("signal ") + strsignal(WTERMSIG(status));
  return "status " + std::to_string(status);
}

#if defined(__x86_64__)
// SECCOMP_RET_TRAP: record what the kernel sent and end the child; returning would need
// rt_sigreturn, which the filter may refuse.
void on_sigsys(int, siginfo_t* info, void*) {
  if (g_slot >= 0) {
    Slot& s = g_shared->slots[g_slot];
    s.value = info->si_errno;
    s.trap_syscall = info->si_syscall;
    s.trap_arch = info->si_arch;
    s.trap_addr = reinterpret_cast<std::uint64_t>(info->si_call_addr);
    s.state = kTrapped;
  }
  __builtin_trap();
}

long probe(const SyscallProbe& p) {
  std::uint64_t regs[7] = {p.nr, p.args[0], p.args[1], p.args[2], p.args[3], p.args[4], p.args[5]};
  return p.int80 ? bpfvm_seccomp_probe_int80(regs) : bpfvm_seccomp_probe_syscall(regs);
}

struct ChildArgs {
  const sock_fprog* prog;
  std::span<const SyscallProbe> probes;
  std::size_t first;
};

// Runs in a clone(CLONE_VM | CLONE_VFORK) child: it shares the parent's memory (so it reports by
// plain stores) but has its own signal handlers, limits and seccomp state, while the parent waits.
// A fork() costs this VM ~4 ms, this ~0.5 ms.
int child(void* arg) {
  const ChildArgs& a = *static_cast<const ChildArgs*>(arg);
  // No core files from the SIGSYS and SIGILL ends: a limit of 1 also stops piped core_patterns
  // (do_coredump treats it as "recursive crash"). Not PR_SET_DUMPABLE: the mm is the parent's.
  rlimit core{};
  getrlimit(RLIMIT_CORE, &core);
  core.rlim_cur = std::min<rlim_t>(1, core.rlim_max);
  setrlimit(RLIMIT_CORE, &core);
  // A test framework's handlers (Catch2 reports fatal signals) would make system calls.
  for (int sig : {SIGILL, SIGSEGV, SIGBUS, SIGFPE, SIGABRT, SIGTRAP})
    signal(sig, SIG_DFL);
  struct sigaction sa {};
  sa.sa_sigaction = on_sigsys;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGSYS, &sa, nullptr);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, a.prog) != 0) {
    g_shared->install_errno = errno;
    syscall(SYS_exit_group, 0);
  }
  // From here on: no system call but the probes and the final exit_group.
  g_shared->install_errno = 0;
  for (std::size_t i = a.first; i < a.probes.size(); ++i) {
    g_slot = static_cast<std::int32_t>(i);
    g_shared->slots[i].state = kStarted;
    g_shared->slots[i].value = probe(a.probes[i]);
    g_shared->slots[i].state = kReturned;
  }
  g_slot = -1;
  g_shared->probes_done = 1;
  syscall(SYS_exit_group, 0);
  __builtin_trap();
}
#endif

}  // namespace

std::string to_string(const Verdict& v) {
  switch (v.kind) {
    case Verdict::Kind::kReturned: return "returned " + std::to_string(v.value);
    case Verdict::Kind::kTrapped: return "SIGSYS trap, si_errno " + std::to_string(v.value);
    case Verdict::Kind::kKilled: return "killed by SIGSYS";
    case Verdict::Kind::kFaulted: return std::string("died of ") + strsignal(static_cast<int>(v.value));
  }
  return "?";
}

seccomp::Data SeccompOracle::data(const SyscallProbe& p) {
  seccomp::Data d;
  d.nr = static_cast<std::int32_t>(static_cast<std::uint32_t>(p.nr));
#if defined(__x86_64__)
  d.arch = p.int80 ? seccomp::kAuditArchI386 : seccomp::kAuditArchX86_64;
  d.instruction_pointer = reinterpret_cast<std::uint64_t>(p.int80 ? bpfvm_seccomp_probe_int80_ip
                                                                    : bpfvm_seccomp_probe_syscall_ip);
#endif
  for (std::size_t i = 0; i < 6; ++i) d.args[i] = p.int80 ? static_cast<std::uint32_t>(p.args[i]) : p.args[i];
  return d;
}

// __seccomp_filter's switch on the action (ret & SECCOMP_RET_ACTION_FULL).
Verdict SeccompOracle::predict(std::uint32_t ret) {
  const std::uint32_t data = ret & seccomp::kRetData;
  switch (ret & seccomp::kRetActionFull) {
    case seccomp::kRetErrno: return {Verdict::Kind::kReturned, -static_cast<std::int64_t>(std::min<std::uint32_t>(data, 4095))};
    case seccomp::kRetTrap: return {Verdict::Kind::kTrapped, data};
    case seccomp::kRetAllow: case seccomp::kRetLog:     // the call runs and finds no such call
    case seccomp::kRetTrace: case seccomp::kRetUserNotif:  // no tracer, no listener
      return {Verdict::Kind::kReturned, -ENOSYS};
    default: return {Verdict::Kind::kKilled, 0};  // KILL_THREAD, KILL_PROCESS and unknown actions
  }
}

std::optional<std::string> SeccompOracle::unavailable() {
#if !defined(__x86_64__)
  return "the seccomp oracle's probes are x86-64 assembly";
#else
  auto o = open();
  if (!o) return o.error();
  const Program allow = {{kRet | kK, 0, 0, seccomp::kRetAllow}};
  const SyscallProbe p{false, kNoSuchCall, {}};
  auto r = o->kernel(allow, std::span(&p, 1));
  if (!r) return r.error();
  if (r->refused) return "seccomp(SECCOMP_SET_MODE_FILTER) refused: " + std::string(std::strerror(r->error));
  if (r->verdicts[0] != Verdict{Verdict::Kind::kReturned, -ENOSYS})
    return "a system call that does not exist gave " + to_string(r->verdicts[0]) + ", not -ENOSYS";
  return std::nullopt;
#endif
}

Expected<SeccompOracle, std::string> SeccompOracle::open() {
  void* m = mmap(nullptr, sizeof(Shared) + kStackSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return unexpected(std::string("mmap: ") + std::strerror(errno));
  SeccompOracle o(static_cast<Shared*>(m), static_cast<char*>(m) + sizeof(Shared), false);
#if defined(__x86_64__)
  // IA32 emulation may be compiled out or off (ia32_emulation=0): then int $0x80 is a fault.
  const Program allow = {{kRet | kK, 0, 0, seccomp::kRetAllow}};
  const SyscallProbe p{true, kNoSuchCall, {}};
  o.int80_ = true;
  auto r = o.kernel(allow, std::span(&p, 1));
  o.int80_ = r && !r->refused && r->verdicts[0] == Verdict{Verdict::Kind::kReturned, -ENOSYS};
#endif
  return o;
}

SeccompOracle::SeccompOracle(SeccompOracle&& o) noexcept : shared_(o.shared_), stack_(o.stack_), int80_(o.int80_) {
  o.shared_ = nullptr;
}

SeccompOracle::~SeccompOracle() {
  if (shared_) munmap(shared_, sizeof(Shared) + kStackSize);
}

Expected<SeccompOutcome, std::string> SeccompOracle::kernel(const Program& p, std::span<const SyscallProbe> probes) {
#if !defined(__x86_64__)
  return unexpected(std::string("x86-64 only"));
#else
  if (probes.size() > kMaxProbes) return unexpected(std::string("too many probes"));
  std::vector<sock_filter> insns;
  for (const Instruction& in : p) insns.push_back({in.code, in.jt, in.jf, in.k});
  const sock_fprog prog{static_cast<unsigned short>(insns.size()), insns.data()};
  SeccompOutcome out;
  out.verdicts.resize(probes.size());
  out.traps.resize(probes.size());
  g_shared = shared_;
  for (std::size_t first = 0; first < probes.size() || out.children == 0;) {
    shared_->install_errno = -1;
    shared_->probes_done = 0;
    for (std::size_t i = first; i < probes.size(); ++i) shared_->slots[i].state = kIdle;
    ChildArgs args{&prog, probes, first};
    const pid_t pid = clone(child, stack_ + kStackSize, CLONE_VM | CLONE_VFORK | SIGCHLD, &args);
    if (pid < 0) return unexpected(std::string("clone: ") + std::strerror(errno));
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
      if (errno != EINTR) return unexpected(std::string("waitpid: ") + std::strerror(errno));
    ++out.children;
    if (shared_->install_errno != 0) {
      if (shared_->install_errno < 0 || out.children > 1)
        return unexpected("the child ended before installing: " + describe_status(status));
      out.refused = true;
      out.error = shared_->install_errno;
      out.verdicts.clear();
      out.traps.clear();
      return out;
    }
    std::size_t i = first;
    while (i < probes.size() && shared_->slots[i].state == kReturned)
      out.verdicts[i] = {Verdict::Kind::kReturned, shared_->slots[i].value}, ++i;
    if (i == probes.size()) {
      // Every probe returned; the end (exit_group allowed, refused, trapped or killed) says nothing.
      if (!shared_->probes_done) return unexpected("probes returned but the child did not finish: " + describe_status(status));
      break;
    }
    const Slot& s = shared_->slots[i];
    if (s.state == kTrapped && WIFSIGNALED(status) && WTERMSIG(status) == SIGILL) {
      out.verdicts[i] = {Verdict::Kind::kTrapped, s.value};
      out.traps[i] = SeccompOutcome::TrapInfo{s.trap_syscall, s.trap_arch, s.trap_addr};
    } else if (s.state == kStarted && WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS) {
      out.verdicts[i] = {Verdict::Kind::kKilled, 0};
    } else if (s.state == kStarted && WIFSIGNALED(status)) {
      out.verdicts[i] = {Verdict::Kind::kFaulted, WTERMSIG(status)};  // no filter verdict does this
    } else {
      return unexpected("probe " + std::to_string(i) + " ended the child with " + describe_status(status));
    }
    first = i + 1;
  }
  return out;
#endif
}

}  // namespace bpfvm::oracle
