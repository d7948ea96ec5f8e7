#include "bpfvm/seccomp/data.h"

#include <cstdio>

namespace bpfvm::seccomp {

std::uint32_t word(const Data& d, std::uint32_t k) {
  auto half = [k](std::uint64_t v, std::uint32_t field) {
    return static_cast<std::uint32_t>(k - field == 0 ? v : v >> 32);
  };
  if (k == kNrOffset) return static_cast<std::uint32_t>(d.nr);
  if (k == kArchOffset) return d.arch;
  if (k < kArgsOffset) return half(d.instruction_pointer, kIpOffset);
  const std::uint32_t i = (k - kArgsOffset) / 8;
  return half(d.args[i], kArgsOffset + 8 * i);
}

std::string describe_action(std::uint32_t ret) {
  const std::uint32_t data = ret & kRetData;
  switch (ret & kRetActionFull) {
    case kRetKillProcess: return "kill_process";
    case kRetKillThread: return "kill_thread";
    case kRetTrap: return "trap " + std::to_string(data);
    case kRetErrno: return "errno " + std::to_string(data);
    case kRetUserNotif: return "user_notif";
    case kRetTrace: return "trace " + std::to_string(data);
    case kRetLog: return "log";
    case kRetAllow: return "allow";
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "unknown 0x%08x", ret & kRetActionFull);
  return buf;  // the kernel treats it as kill_process (__seccomp_filter's default case)
}

}  // namespace bpfvm::seccomp
