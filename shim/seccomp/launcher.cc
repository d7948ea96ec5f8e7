#include "shim/seccomp/launcher.h"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace shim::seccomp {
namespace {

int real_no_new_privs() { return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 ? 0 : -errno; }

int real_install(const sock_fprog* prog) {
  const long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, prog);
  return fd >= 0 ? static_cast<int>(fd) : -errno;
}

// What the child reports before it execs: the stage that failed and its errno, or kOk with the
// listener attached as SCM_RIGHTS.
enum Stage : int { kOk = 0, kNoNewPrivs = 1, kInstall = 2 };
struct Report {
  int stage;
  int err;
};

[[noreturn]] void child(int sock, char* const* argv, const sock_fprog* prog, const LaunchSys& sys) {
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  signal(SIGHUP, SIG_DFL);
  Report r{kOk, 0};
  int listener = -1;
  if (const int e = sys.no_new_privs(); e < 0) {
    r = {kNoNewPrivs, -e};
  } else if (const int fd = sys.install(prog); fd < 0) {
    r = {kInstall, -fd};
  } else {
    listener = fd;
  }
  // From here on the filter is live: the calls it hands to the supervisor (socket, connect,
  // listen, accept, close) would wait for a supervisor that has no listener yet, so none of
  // them may run before exec. sendmsg is not one of them; both fds are O_CLOEXEC and go away
  // with the exec.
  iovec iov{&r, sizeof r};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (listener >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &listener, sizeof(int));
  }
  if (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 || r.stage != kOk) _exit(127);
  execvp(argv[0], argv);
  const int e = errno;
  std::fprintf(stderr, "sockshim: cannot run %s: %s\n", argv[0], std::strerror(e));
  _exit(e == ENOENT ? 127 : 126);
}

// Reads the child's report; the listener in *fd when it sent one. An error text otherwise.
std::string receive(int sock, int timeout_ms, int* fd) {
  pollfd p{sock, POLLIN, 0};
  int n = 0;
  do n = poll(&p, 1, timeout_ms); while (n < 0 && errno == EINTR);
  if (n == 0) return "seccomp: the launched process did not report within " + std::to_string(timeout_ms) + " ms";
  Report r{-1, 0};
  iovec iov{&r, sizeof r};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t got = 0;
  do got = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC); while (got < 0 && errno == EINTR);
  if (got != static_cast<ssize_t>(sizeof r)) return "seccomp: the launched process died before it reported";
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) std::memcpy(fd, CMSG_DATA(c), sizeof(int));
  const std::string why = std::strerror(r.err);
  switch (r.stage) {
    case kOk:
      return *fd >= 0 ? "" : "seccomp: no listener arrived from the launched process";
    case kNoNewPrivs:
      return "seccomp: prctl(PR_SET_NO_NEW_PRIVS) failed: " + why;
    case kInstall:
      if (r.err == EBUSY)
        return "seccomp: the kernel refused a notification listener: " + why +
               " (another supervisor already listens on this process tree, e.g. a sockshim run inside a seccomp run)";
      return "seccomp: installing the filter with a notification listener failed: " + why +
             (r.err == EINVAL || r.err == ENOSYS ? " (seccomp user notification unavailable in this kernel?)" : "");
  }
  return "seccomp: the launched process sent a report nobody understands";
}

}  // namespace

const LaunchSys& kernel_sys() {
  static const LaunchSys sys{real_no_new_privs, real_install};
  return sys;
}

Launched launch(const std::vector<std::string>& command, const bpfvm::seccomp::ValidatedProgram& filter,
                const LaunchSys& sys, int timeout_ms) {
  Launched out;
  std::vector<char*> argv;
  for (const auto& a : command) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<sock_filter> insns;
  for (const auto& i : filter.program()) insns.push_back({i.code, i.jt, i.jf, i.k});
  const sock_fprog prog{static_cast<unsigned short>(insns.size()), insns.data()};
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    out.error = std::string("seccomp: socketpair: ") + std::strerror(errno);
    return out;
  }
  const pid_t pid = fork();
  if (pid < 0) {
    out.error = std::string("fork: ") + std::strerror(errno);
    close(sv[0]);
    close(sv[1]);
    return out;
  }
  if (pid == 0) {
    close(sv[0]);   // before the filter: close is one of the calls it hands over
    child(sv[1], argv.data(), &prog, sys);
  }
  close(sv[1]);
  int fd = -1;
  out.error = receive(sv[0], timeout_ms, &fd);
  close(sv[0]);
  if (out.error.empty()) {
    out.pid = pid;
    out.listener = fd;
    return out;
  }
  if (fd >= 0) close(fd);
  kill(pid, SIGKILL);   // it never execs without a listener in our hands
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return out;
}

}  // namespace shim::seccomp
