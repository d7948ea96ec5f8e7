#include "shim/seccomp/launcher.h"

#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <ctime>
#include <new>
#include <cstdio>
#include <cstring>

namespace shim::seccomp {
namespace {

int real_no_new_privs() { return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 ? 0 : -errno; }

// WAIT_KILLABLE_RECV (Linux 5.19): once the supervisor received a call, only a fatal signal ends
// the program's wait. Without it a signal can end the wait after the supervisor made the call
// (sent the bytes, took them) but before its answer, and the restart would make it again: the
// kernel drops an answer that races the signal even when SECCOMP_IOCTL_NOTIF_SEND succeeds. The
// supervisor ends held calls' waits for their signals itself (Supervisor::interrupt_signalled).
// Older kernels refuse the flag (EINVAL): then without it, and that race stays.
int g_killable = 0;   // set in the child by real_install, reported in the shared page

int real_install(const sock_fprog* prog) {
  long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                    SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, prog);
  if (fd >= 0) g_killable = 1;
  if (fd < 0 && errno == EINVAL)
    fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, prog);
  return fd >= 0 ? static_cast<int>(fd) : -errno;
}

// What the child reports before it execs, in a page it shares with the parent (MAP_SHARED,
// made before fork): the stage that failed and its errno, or kOk with the listener's number in
// the child, which the parent takes with pidfd_getfd. Not over a socket: sendmsg, write and close
// are calls the filter may hand to the supervisor, which has no listener yet, so from the
// install to the exec the child makes only futex calls (never notified) and the exec itself.
enum Stage : int { kOk = 0, kNoNewPrivs = 1, kInstall = 2 };
struct Shared {
  std::atomic<int> reported{0};   // 1: stage, err and listener are written
  std::atomic<int> taken{0};      // 1: the parent holds the listener (or gave up): exec
  int stage = kOk;
  int err = 0;
  int listener = -1;
  int killable = 0;
};
static_assert(std::atomic<int>::is_always_lock_free);

long futex(std::atomic<int>* word, int op, int val, const timespec* timeout) {
  return syscall(SYS_futex, reinterpret_cast<int*>(word), op, val, timeout, nullptr, 0);
}
void wake(std::atomic<int>& word, int val) {
  word.store(val, std::memory_order_release);
  futex(&word, FUTEX_WAKE, INT32_MAX, nullptr);
}
// Waits until `word` leaves 0, at most timeout_ms. False on timeout.
bool wait_set(std::atomic<int>& word, int timeout_ms) {
  timespec end{};
  clock_gettime(CLOCK_MONOTONIC, &end);
  end.tv_sec += timeout_ms / 1000;
  end.tv_nsec += static_cast<long>(timeout_ms % 1000) * 1'000'000;
  if (end.tv_nsec >= 1'000'000'000) end.tv_sec += 1, end.tv_nsec -= 1'000'000'000;
  while (word.load(std::memory_order_acquire) == 0) {
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    timespec left{end.tv_sec - now.tv_sec, end.tv_nsec - now.tv_nsec};
    if (left.tv_nsec < 0) left.tv_sec -= 1, left.tv_nsec += 1'000'000'000;
    if (left.tv_sec < 0) return false;
    futex(&word, FUTEX_WAIT, 0, &left);   // EAGAIN (already set), EINTR, ETIMEDOUT: look again
  }
  return true;
}

[[noreturn]] void child(Shared* sh, char* const* argv, const sock_fprog* prog, const LaunchSys& sys,
                        int timeout_ms) {
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  signal(SIGHUP, SIG_DFL);
  if (const int e = sys.no_new_privs(); e < 0) {
    sh->stage = kNoNewPrivs, sh->err = -e;
  } else if (const int fd = sys.install(prog); fd < 0) {
    sh->stage = kInstall, sh->err = -fd;
  } else {
    sh->listener = fd;   // O_CLOEXEC: gone from here with the exec
    sh->killable = g_killable;
  }
  wake(sh->reported, 1);
  if (sh->stage != kOk || !wait_set(sh->taken, timeout_ms)) _exit(127);
  execvp(argv[0], argv);
  const int e = errno;
  std::fprintf(stderr, "sockshim: cannot run %s: %s\n", argv[0], std::strerror(e));
  _exit(e == ENOENT ? 127 : 126);
}

// Reads the child's report and takes its listener into *fd. An error text otherwise.
std::string receive(Shared* sh, pid_t pid, int timeout_ms, int* fd) {
  if (!wait_set(sh->reported, timeout_ms))
    return "seccomp: the launched process did not report within " + std::to_string(timeout_ms) + " ms";
  const std::string why = std::strerror(sh->err);
  switch (sh->stage) {
    case kOk: {
      const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
      if (pidfd >= 0) {
        *fd = static_cast<int>(syscall(SYS_pidfd_getfd, pidfd, sh->listener, 0));
        const int e = errno;
        close(pidfd);
        if (*fd >= 0) {
          fcntl(*fd, F_SETFD, FD_CLOEXEC);
          return "";
        }
        errno = e;
      }
      return std::string("seccomp: cannot take the listener from the launched process (pidfd_getfd): ") +
             std::strerror(errno);
    }
    case kNoNewPrivs:
      return "seccomp: prctl(PR_SET_NO_NEW_PRIVS) failed: " + why;
    case kInstall:
      if (sh->err == EBUSY)
        return "seccomp: the kernel refused a notification listener: " + why +
               " (another supervisor already listens on this process tree, e.g. a sockshim run inside a seccomp run)";
      return "seccomp: installing the filter with a notification listener failed: " + why +
             (sh->err == EINVAL || sh->err == ENOSYS ? " (seccomp user notification unavailable in this kernel?)" : "");
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
  void* page = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) {
    out.error = std::string("seccomp: mmap: ") + std::strerror(errno);
    return out;
  }
  auto* sh = new (page) Shared;
  const pid_t pid = fork();
  if (pid < 0) {
    out.error = std::string("fork: ") + std::strerror(errno);
    munmap(page, sizeof(Shared));
    return out;
  }
  if (pid == 0) child(sh, argv.data(), &prog, sys, timeout_ms);
  int fd = -1;
  out.error = receive(sh, pid, timeout_ms, &fd);
  if (out.error.empty()) {
    wake(sh->taken, 1);   // the child may exec now
    out.killable = sh->killable != 0;
    munmap(page, sizeof(Shared));
    out.pid = pid;
    out.listener = fd;
    return out;
  }
  kill(pid, SIGKILL);   // it never execs without a listener in our hands
  munmap(page, sizeof(Shared));
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return out;
}

}  // namespace shim::seccomp
