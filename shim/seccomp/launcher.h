// The seccomp launcher: starts a command under a seccomp filter whose listener the caller (the
// supervisor in `sockshim run`) receives. fork; the child sets NO_NEW_PRIVS, installs the filter
// with SECCOMP_FILTER_FLAG_NEW_LISTENER, reports in a shared page (the parent takes the listener
// with pidfd_getfd: sendmsg and write may be notified calls by then) and execs once it is taken.
// Every failure before exec reaches the caller as one line, never a silent no-op.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "bpfvm/seccomp/validator.h"

struct sock_fprog;

namespace shim::seccomp {

// The two system calls that can refuse us, behind a seam so a test can script "seccomp
// unavailable" or "listener refused". Each returns its result or -errno; both run in the child.
struct LaunchSys {
  int (*no_new_privs)();                      // prctl(PR_SET_NO_NEW_PRIVS, 1)
  int (*install)(const struct sock_fprog*);   // seccomp(SET_MODE_FILTER, NEW_LISTENER): the listener
};
const LaunchSys& kernel_sys();

struct Launched {
  pid_t pid = -1;          // the command's process (already exec'd or about to)
  int listener = -1;       // the notification listener, O_CLOEXEC; the caller closes it
  std::string error;       // set when pid is -1: "seccomp: ...: why" (the child was reaped)
  bool killable = false;   // the kernel took SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
};

// The filter must be the one `validate_seccomp` accepted. Waits at most `timeout_ms` for the
// child to report. In the child, only the calls above, futex and execvp run after fork (no
// allocation: argv is prepared here).
Launched launch(const std::vector<std::string>& command, const bpfvm::seccomp::ValidatedProgram& filter,
                const LaunchSys& sys = kernel_sys(), int timeout_ms = 10000);

}  // namespace shim::seccomp
