#include "bpfvm/seccomp/data.h"

#include <charconv>
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

namespace {

std::optional<std::uint32_t> parse_number(std::string_view t) {
  int base = 10;
  if (t.size() > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) { t.remove_prefix(2); base = 16; }
  std::uint32_t v = 0;
  const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v, base);
  if (ec != std::errc{} || end != t.data() + t.size() || t.empty()) return std::nullopt;
  return v;
}

}  // namespace

std::optional<std::uint32_t> parse_action(std::string_view text) {
  const std::size_t colon = text.find(':');
  const std::string_view name = text.substr(0, colon);
  std::uint32_t data = 0;
  if (colon != std::string_view::npos) {
    auto d = parse_number(text.substr(colon + 1));
    if (!d || *d > kRetData) return std::nullopt;
    data = *d;
  }
  const bool has_data = colon != std::string_view::npos;
  if (name == "trap") return kRetTrap | data;
  if (name == "errno" && has_data) return kRetErrno | data;
  if (name == "trace") return kRetTrace | data;
  if (has_data) return std::nullopt;
  if (name == "allow") return kRetAllow;
  if (name == "log") return kRetLog;
  if (name == "notify" || name == "user_notif") return kRetUserNotif;
  if (name == "kill_process") return kRetKillProcess;
  if (name == "kill_thread") return kRetKillThread;
  return parse_number(text);
}

std::optional<std::uint32_t> parse_arch(std::string_view text) {
  if (text == "x86_64") return kAuditArchX86_64;
  if (text == "i386") return kAuditArchI386;
  if (text == "aarch64") return kAuditArchAarch64;
  return parse_number(text);
}

}  // namespace bpfvm::seccomp
