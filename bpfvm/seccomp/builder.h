// Builds seccomp filters that sort system calls by number: listed numbers get their action
// (SECCOMP_RET_USER_NOTIF for the shim's supervisor), every other number the default action
// (SECCOMP_RET_ALLOW), after the checks every correct filter makes first (the kernel's
// Documentation/userspace-api/seccomp_filter.rst): the arch field, then on x86-64 the x32 bit.
//
//   ld [4]; jeq #ARCH, +1, 0; ret #bad_arch          a call of another ABI (int 0x80 on x86-64)
//   ld [0]; jge #0x40000000, 0, +2; jeq #-1, +1, 0; ret #x32    x86-64 only
//   binary search over the numbers: jge #pivot ... ret #action    ~log2(ranges) compares
//
// nr = -1 goes to the search (and so to the default action) rather than to the x32 action: a
// tracer skips a call by setting nr to -1, and the kernel re-runs the filters with it after
// SECCOMP_RET_TRACE. libseccomp does the same, which its oracle test checks.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string_view>
#include <vector>

#include "bpfvm/expected.h"
#include "bpfvm/seccomp/data.h"
#include "bpfvm/seccomp/validator.h"

namespace bpfvm::seccomp {

// A system call whose action depends on one argument: when the low 32 bits of args[arg] are one
// of `values`, `action`; any other value gets what the number gets without the rule. For an
// argument the kernel takes as a 32-bit int (fcntl's cmd: only F_DUPFD hands a socket a second
// number; handing every fcntl over would cost far more). Little-endian: the low word is first.
struct ArgRule {
  unsigned arg = 0;                    // 0..5
  std::vector<std::uint32_t> values;   // at most 200
  std::uint32_t action = kRetUserNotif;
};

struct SyscallFilterSpec {
  std::uint32_t arch = kAuditArchX86_64;
  std::map<std::uint32_t, std::uint32_t> actions;  // system call number → return value
  std::map<std::uint32_t, ArgRule> arg_rules;      // system call number → a rule on one argument
  std::uint32_t default_action = kRetAllow;
  std::uint32_t bad_arch_action = kRetKillProcess;
  std::uint32_t x32_action = kRetKillProcess;  // used only when arch is AUDIT_ARCH_X86_64
};

enum class BuildError : std::uint8_t {
  kX32Number,  // a number with the x32 bit set on x86-64: the x32 check would shadow it
  kTooLong,    // more than BPF_MAXINSNS instructions (thousands of alternating ranges)
  kBadArgRule, // an ArgRule on an argument past the sixth, or with more than 200 values
};
std::string_view reason(BuildError e);

Expected<ValidatedProgram, BuildError> build_syscall_filter(const SyscallFilterSpec& spec);

// The common case: `numbers` go to `action`, everything else is allowed.
Expected<ValidatedProgram, BuildError> build_notify_list(std::span<const std::uint32_t> numbers,
                                                         std::uint32_t action = kRetUserNotif,
                                                         std::uint32_t arch = kAuditArchX86_64);

// What the filter `spec` describes returns for `d`, computed from the spec without BPF; the tests
// and the fuzz target hold the built program to it.
std::uint32_t expected_action(const SyscallFilterSpec& spec, const Data& d);

}  // namespace bpfvm::seccomp
