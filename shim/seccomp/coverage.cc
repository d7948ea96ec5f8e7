#include "shim/seccomp/coverage.h"

#include <sys/syscall.h>

namespace shim::seccomp {
namespace {

using filters::ActionKind;
using filters::AfterKind;
using filters::CallType;

constexpr std::uint32_t kAlways[] = {SYS_close, SYS_socket, SYS_socketpair, SYS_connect,
                                     SYS_accept, SYS_listen, SYS_accept4};
struct OnRule {
  CallType type;
  std::uint32_t nr;
};
constexpr OnRule kOnRule[] = {{CallType::kBind, SYS_bind},
                              {CallType::kShutdown, SYS_shutdown},
                              {CallType::kGetsockopt, SYS_getsockopt},
                              {CallType::kSetsockopt, SYS_setsockopt}};
constexpr CallType kCovered[] = {CallType::kSocket, CallType::kConnect, CallType::kBind, CallType::kListen,
                                 CallType::kAccept, CallType::kClose, CallType::kShutdown,
                                 CallType::kGetsockopt, CallType::kSetsockopt};

// Why the supervisor cannot carry out this rule yet; empty when it can.
std::string why_not(const filters::Rule& r) {
  for (std::size_t t = 0; t < filters::kCallTypeCount; ++t) {
    const auto type = static_cast<CallType>(t);
    if (!r.on_call(type)) continue;
    bool covered = false;
    for (CallType c : kCovered) covered = covered || c == type;
    if (!covered && type == CallType::kGetaddrinfo)
      return "\"on\": getaddrinfo: libc's, never a system call: seccomp mode cannot see it";
    if (!covered)
      return std::string("\"on\": ") + filters::call_type_name(type) +
             ": seccomp mode does not intercept sends and receives yet";
  }
  const filters::Action& a = r.action;
  if (a.kind != ActionKind::kNone && a.kind != ActionKind::kFail && a.kind != ActionKind::kEagain &&
      a.kind != ActionKind::kEintr && a.kind != ActionKind::kHang)
    return "\"do\": only fail, eagain, eintr, hang_ms and delays work in seccomp mode so far";
  if (r.then.kind != AfterKind::kNone) return "\"then\": after-actions need the call's outcome, not yet in seccomp mode";
  const filters::Match& m = r.match;
  // The preload object knows a socket's own port once it bound, listened or was accepted; the
  // supervisor sees a bind only under a bind rule.
  if (m.local_port) return "\"match\": local_port: not yet in seccomp mode";
  if (m.host) return "\"match\": host: getaddrinfo is libc's, seccomp mode sees only system calls";
  const filters::When& w = r.when;
  if (w.after_bytes || w.after_connected_ms) return "\"when\": after_bytes/after_connected_ms: not yet in seccomp mode";
  return {};
}

}  // namespace

std::vector<std::uint32_t> notified_syscalls(const filters::Table* table) {
  std::vector<std::uint32_t> out(std::begin(kAlways), std::end(kAlways));
  for (const OnRule& o : kOnRule)
    if (table && table->has_rules_for(o.type)) out.push_back(o.nr);
  return out;
}

bpfvm::Expected<bpfvm::seccomp::ValidatedProgram, bpfvm::seccomp::BuildError> build_filter(const filters::Table* table) {
  return bpfvm::seccomp::build_notify_list(notified_syscalls(table));
}

std::vector<std::string> unsupported_rules(const filters::Table& table) {
  std::vector<std::string> out;
  for (const filters::Rule& r : table.rules())
    if (std::string why = why_not(r); !why.empty())
      out.push_back("rule " + std::string(r.name.c_str()) + " (line " + std::to_string(r.pos.line) + "): " + why);
  return out;
}

}  // namespace shim::seccomp
