#include "shim/seccomp/coverage.h"

#include <fcntl.h>
#include <sys/syscall.h>

namespace shim::seccomp {
namespace {

using filters::ActionKind;
using filters::AfterKind;
using filters::CallType;

constexpr std::uint32_t kAlways[] = {SYS_close,   SYS_socket,   SYS_socketpair, SYS_connect,  SYS_accept,
                                     SYS_listen,  SYS_accept4,  SYS_sendto,     SYS_recvfrom, SYS_sendmsg,
                                     SYS_recvmsg, SYS_sendmmsg, SYS_recvmmsg, SYS_dup,      SYS_dup2,
                                     SYS_dup3,    SYS_close_range, SYS_execve, SYS_execveat, SYS_wait4,
                                     SYS_waitid, SYS_sendfile};
constexpr std::uint32_t kReadWrite[] = {SYS_read, SYS_write, SYS_readv, SYS_writev};
struct OnRule {
  CallType type;
  std::uint32_t nr;
};
constexpr OnRule kOnRule[] = {{CallType::kBind, SYS_bind},
                              {CallType::kShutdown, SYS_shutdown},
                              {CallType::kGetsockopt, SYS_getsockopt},
                              {CallType::kSetsockopt, SYS_setsockopt}};
constexpr CallType kCovered[] = {CallType::kSocket,  CallType::kConnect,    CallType::kBind,
                                 CallType::kListen,  CallType::kAccept,     CallType::kClose,
                                 CallType::kShutdown, CallType::kGetsockopt, CallType::kSetsockopt,
                                 CallType::kSend,    CallType::kRecv};

bool transfers_only(const filters::Rule& r) {
  for (std::size_t t = 0; t < filters::kCallTypeCount; ++t) {
    const auto type = static_cast<CallType>(t);
    if (r.on_call(type) && type != CallType::kSend && type != CallType::kRecv) return false;
  }
  return true;
}

// Why the supervisor cannot carry out this rule yet; empty when it can.
std::string why_not(const filters::Rule& r) {
  for (std::size_t t = 0; t < filters::kCallTypeCount; ++t) {
    const auto type = static_cast<CallType>(t);
    if (!r.on_call(type)) continue;
    bool covered = false;
    for (CallType c : kCovered) covered = covered || c == type;
    if (!covered && type == CallType::kGetaddrinfo)
      return "\"on\": getaddrinfo: libc's, never a system call: seccomp mode cannot see it";
    if (!covered) return std::string("\"on\": ") + filters::call_type_name(type) + ": not in seccomp mode";
  }
  const filters::Action& a = r.action;
  switch (a.kind) {
    case ActionKind::kNone: case ActionKind::kFail: case ActionKind::kEagain: case ActionKind::kEintr:
    case ActionKind::kHang:
      break;
    case ActionKind::kShort: case ActionKind::kReset: case ActionKind::kDrop: case ActionKind::kDuplicate:
    case ActionKind::kCorrupt:
      if (!transfers_only(r))
        return "\"do\": short, reset, drop, duplicate and corrupt work on send and recv only in seccomp mode";
      break;
    case ActionKind::kInboundLoss: case ActionKind::kRate:
      return "\"do\": inbound_loss and rate are not in seccomp mode yet";
  }
  if (r.then.kind == AfterKind::kSoError) return "\"then\": so_error is not in seccomp mode yet";
  if (r.then.kind != AfterKind::kNone && !transfers_only(r))
    return "\"then\": after-actions work on send and recv only in seccomp mode";
  const filters::Match& m = r.match;
  if (m.host) return "\"match\": host: getaddrinfo is libc's, seccomp mode sees only system calls";
  return {};
}

}  // namespace

bool needs_read_write(const filters::Table* table, bool asked) {
  return asked || (table && (table->has_rules_for(CallType::kSend) || table->has_rules_for(CallType::kRecv)));
}

std::vector<std::uint32_t> notified_syscalls(const filters::Table* table, bool read_write) {
  std::vector<std::uint32_t> out(std::begin(kAlways), std::end(kAlways));
  if (needs_read_write(table, read_write)) out.insert(out.end(), std::begin(kReadWrite), std::end(kReadWrite));
  // A rule matching local_port needs the ports sockets bind to (as the preload object has them).
  bool local_port = false;
  for (std::size_t i = 0; table && i < table->rules().size(); ++i) local_port = local_port || table->rules()[i].match.local_port;
  for (const OnRule& o : kOnRule)
    if (table && (table->has_rules_for(o.type) || (o.type == CallType::kBind && local_port))) out.push_back(o.nr);
  return out;
}

bpfvm::Expected<bpfvm::seccomp::ValidatedProgram, bpfvm::seccomp::BuildError> build_filter(const filters::Table* table,
                                                                                            bool read_write) {
  bpfvm::seccomp::SyscallFilterSpec spec;
  for (std::uint32_t nr : notified_syscalls(table, read_write)) spec.actions[nr] = bpfvm::seccomp::kRetUserNotif;
  // fcntl only for F_DUPFD and F_DUPFD_CLOEXEC (a socket's second number: Python's os.dup, Go's
  // dupSocket); Go alone makes several other fcntls per socket, every one a round trip otherwise.
  spec.arg_rules[SYS_fcntl] = bpfvm::seccomp::ArgRule{1, {F_DUPFD, F_DUPFD_CLOEXEC}, bpfvm::seccomp::kRetUserNotif};
  return bpfvm::seccomp::build_syscall_filter(spec);
}

std::vector<std::string> unsupported_rules(const filters::Table& table) {
  std::vector<std::string> out;
  for (const filters::Rule& r : table.rules())
    if (std::string why = why_not(r); !why.empty())
      out.push_back("rule " + std::string(r.name.c_str()) + " (line " + std::to_string(r.pos.line) + "): " + why);
  return out;
}

}  // namespace shim::seccomp
