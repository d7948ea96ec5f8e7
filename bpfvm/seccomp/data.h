// What a seccomp filter sees and returns (linux/seccomp.h, linux/audit.h): struct seccomp_data,
// the SECCOMP_RET_* actions and the AUDIT_ARCH_* values of the architectures bpfvm builds for.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bpfvm::seccomp {

// Return values: the action in the high 16 bits (SECCOMP_RET_ACTION_FULL), data in the low 16.
inline constexpr std::uint32_t kRetKillProcess = 0x80000000u;
inline constexpr std::uint32_t kRetKillThread = 0x00000000u;
inline constexpr std::uint32_t kRetTrap = 0x00030000u;
inline constexpr std::uint32_t kRetErrno = 0x00050000u;
inline constexpr std::uint32_t kRetUserNotif = 0x7fc00000u;
inline constexpr std::uint32_t kRetTrace = 0x7ff00000u;
inline constexpr std::uint32_t kRetLog = 0x7ffc0000u;
inline constexpr std::uint32_t kRetAllow = 0x7fff0000u;
inline constexpr std::uint32_t kRetActionFull = 0xffff0000u;
inline constexpr std::uint32_t kRetData = 0x0000ffffu;

inline constexpr std::uint32_t kAuditArchX86_64 = 0xc000003eu;
inline constexpr std::uint32_t kAuditArchI386 = 0x40000003u;
inline constexpr std::uint32_t kAuditArchAarch64 = 0xc00000b7u;
// x32 system calls arrive on x86-64 with this bit set in nr and arch still AUDIT_ARCH_X86_64,
// so a filter that only checks arch lets them past its number checks (__X32_SYSCALL_BIT).
inline constexpr std::uint32_t kX32SyscallBit = 0x40000000u;

// sizeof(struct seccomp_data) and the offsets of its fields.
inline constexpr std::uint32_t kDataSize = 64;
inline constexpr std::uint32_t kNrOffset = 0, kArchOffset = 4, kIpOffset = 8, kArgsOffset = 16;

// struct seccomp_data. The kernel fills it with the task's values and leaves endianness to the
// filter's author ("Endianness is explicitly ignored", populate_seccomp_data); bpfvm reads it
// in the little-endian layout (x86-64, arm64): a 64-bit field's low half is at the lower offset.
struct Data {
  std::int32_t nr = 0;
  std::uint32_t arch = 0;
  std::uint64_t instruction_pointer = 0;
  std::array<std::uint64_t, 6> args{};
  friend bool operator==(const Data&, const Data&) = default;
};

// The 32-bit word a filter's `ld [k]` reads. Precondition: k < kDataSize and k % 4 == 0, which
// validate_seccomp() proves for every load.
std::uint32_t word(const Data& d, std::uint32_t k);

// "allow", "errno 13", "kill_process", "unknown 0x12340000" ...: what `ret` means to the kernel.
std::string describe_action(std::uint32_t ret);

// The inverse, for command lines: allow, log, notify (user_notif), kill_process, kill_thread,
// trap[:N], errno:N, trace[:N], or a number (decimal or 0x hex) taken as the whole value.
std::optional<std::uint32_t> parse_action(std::string_view text);
// x86_64, i386, aarch64, or a number: the AUDIT_ARCH_* value.
std::optional<std::uint32_t> parse_arch(std::string_view text);

}  // namespace bpfvm::seccomp
