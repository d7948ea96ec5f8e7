// Regression tests for defects found by attacking the shim (issue 18): counts that must follow
// what the kernel really did, also when the program does odd or racy things.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <iterator>
#include <catch2/catch.hpp>
#include <cerrno>
#include <cstring>
#include <thread>

#include "preload_env.h"
#include "shim/stats/segment.h"

using namespace preload_test;
namespace st = shim::stats;

namespace {

const shim::Cookie kUnixSeqpacket = shim::make_cookie(AF_UNIX, SOCK_SEQPACKET, 0);

// The newest process record of pid, or nullptr.
const st::ProcessRecord* record_of(pid_t pid) { return st::find_process(segment(), pid); }

}  // namespace

TEST_CASE("close_range that the kernel refuses closes nothing, so it counts nothing", "[preload][close_range]") {
  only_rule(-1);
  int fds[10];
  for (int& fd : fds) {
    fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    REQUIRE(fd >= 0);
  }
  const auto closed0 = counter(kUdp, st::kClosed);
  const int lo = *std::min_element(std::begin(fds), std::end(fds));
  const int hi = *std::max_element(std::begin(fds), std::end(fds));
  errno = 0;
  CHECK(::close_range(static_cast<unsigned>(lo), static_cast<unsigned>(hi), 0x80) == -1);   // unknown flag
  CHECK(errno == EINVAL);
  CHECK(::close_range(static_cast<unsigned>(hi), static_cast<unsigned>(lo), 0) == (lo == hi ? 0 : -1));
  CHECK(counter(kUdp, st::kClosed) - closed0 == 0);
  for (int fd : fds) CHECK(::fcntl(fd, F_GETFD) >= 0);   // all still open...
  for (int fd : fds) CHECK(::send(fd, "", 0, 0) == -1);   // ...and still known as sockets
  CHECK(::close_range(static_cast<unsigned>(lo), static_cast<unsigned>(hi), 0) == 0);
  CHECK(counter(kUdp, st::kClosed) - closed0 == 10);
}

TEST_CASE("MSG_PEEK counts the call, not the bytes: the recv that takes them does", "[preload][recv]") {
  only_rule(-1);
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  const auto bytes0 = counter(kUnixStream, st::kRecvBytes);
  const auto calls0 = counter(kUnixStream, st::kRecvCalls);
  REQUIRE(::send(sv[0], "hello", 5, 0) == 5);
  char buf[8];
  CHECK(::recv(sv[1], buf, sizeof buf, MSG_PEEK) == 5);
  msghdr m{};
  iovec iov{buf, sizeof buf};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  CHECK(::recvmsg(sv[1], &m, MSG_PEEK) == 5);
  CHECK(::recv(sv[1], buf, sizeof buf, 0) == 5);
  CHECK(counter(kUnixStream, st::kRecvBytes) - bytes0 == 5);
  CHECK(counter(kUnixStream, st::kRecvCalls) - calls0 == 3);
  ::close(sv[0]);
  ::close(sv[1]);
}

// A child that no fork handler announced: made by _Fork() (glibc 2.34) or a raw clone.
void check_unannounced_child(pid_t (*make_child)()) {
  only_rule(-1);
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  REQUIRE(fd >= 0);
  const auto closed0 = counter(kUdp, st::kClosed);
  const pid_t pid = make_child();
  if (pid == 0) {
    ::close(fd);   // the child's copy: inherited, so not the close `closed` counts
    _exit(0);
  }
  REQUIRE(pid > 0);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(counter(kUdp, st::kClosed) - closed0 == 0);
  ::close(fd);
  CHECK(counter(kUdp, st::kClosed) - closed0 == 1);
  const st::ProcessRecord* r = record_of(pid);
  REQUIRE(r != nullptr);
  CHECK(r->ppid == getpid());
}

TEST_CASE("a child of _Fork() gets its own record and does not count inherited closes", "[preload][fork]") {
  check_unannounced_child([] { return _Fork(); });
}

TEST_CASE("a child of a raw clone system call is noticed the same way", "[preload][fork]") {
  check_unannounced_child([] { return static_cast<pid_t>(syscall(SYS_clone, SIGCHLD, nullptr, nullptr, nullptr, nullptr)); });
}

// Records of pid in the segment (an exec'd image has two: before and after; a process one).
int records_of(pid_t pid) {
  st::Segment& s = segment();
  std::uint32_t n = s.header.process_next.load();
  if (n > st::kMaxProcesses) n = st::kMaxProcesses;
  int found = 0;
  for (std::uint32_t i = 0; i < n; ++i)
    found += s.processes[i].state.load() != st::kProcFree && s.processes[i].pid == pid;
  return found;
}

// The fork handler adopts a child and leaves the fork canary for the child's first call to arm
// (shim/fork_watch.h): that call must not adopt it again, and a raw clone the child makes before
// any call (its canary still at 0, inherited along with the adopter's pid) must still be noticed.
TEST_CASE("a fork child is adopted once, and a raw clone it makes before any call is noticed", "[preload][fork]") {
  only_rule(-1);
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  REQUIRE(fd >= 0);
  const auto closed0 = counter(kUdp, st::kClosed);
  const pid_t pid = fork();
  if (pid == 0) {
    const pid_t g = static_cast<pid_t>(syscall(SYS_clone, SIGCHLD, nullptr, nullptr, nullptr, nullptr));
    if (g == 0) {
      ::close(fd);   // the grandchild's inherited copy
      _exit(0);
    }
    int status = 0;
    const bool waited = g > 0 && waitpid(g, &status, 0) == g && WIFEXITED(status);
    ::close(fd);   // the child's first wrapped call after the clone: arms the canary
    const st::ProcessRecord* gr = waited ? record_of(g) : nullptr;
    const bool ok = gr && gr->ppid == getpid() && records_of(getpid()) == 1 && records_of(g) == 1;
    _exit(ok ? 0 : 1);
  }
  REQUIRE(pid > 0);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(counter(kUdp, st::kClosed) - closed0 == 0);   // both inherited copies' closes
  ::close(fd);
  CHECK(counter(kUdp, st::kClosed) - closed0 == 1);
}

// One thread swaps a unix seqpacket socket and a UDP socket onto one fd number with dup2 while
// another receives on that number. Every count must stay with the kinds the program made: the
// number never reads as unknown (so it is never classified half from one socket, half from the
// other) and every close is counted once.
TEST_CASE("recv racing dup2 that swaps socket kinds on one fd number", "[preload][dup2][threads]") {
  only_rule(-1);
  const shim::Cookie kUnixDgram = shim::make_cookie(AF_UNIX, SOCK_DGRAM, 0);
  const shim::Cookie kInetSeqpacket = shim::make_cookie(AF_INET, SOCK_SEQPACKET, 0);
  const shim::Cookie kInetSeqpacketSctp = shim::make_cookie(AF_INET, SOCK_SEQPACKET, IPPROTO_SCTP);
  auto all = [](shim::Cookie c) {
    std::uint64_t sum = 0;
    for (unsigned k = 0; k < st::kCounterCount; ++k) sum += counter(c, static_cast<st::Counter>(k));
    return sum;
  };
  const auto foreign0 = all(kUnixDgram) + all(kInetSeqpacket) + all(kInetSeqpacketSctp);
  const auto unix_opened0 = counter(kUnixSeqpacket, st::kOpened);
  const auto unix_closed0 = counter(kUnixSeqpacket, st::kClosed);
  const auto udp_opened0 = counter(kUdp, st::kOpened);
  const auto udp_closed0 = counter(kUdp, st::kClosed);
  const auto udp_bytes0 = counter(kUdp, st::kRecvBytes);
  const auto udp_calls0 = counter(kUdp, st::kRecvCalls);

  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0);
  const int udp = ::socket(AF_INET, SOCK_DGRAM, 0);
  REQUIRE(udp >= 0);
  const int target = ::dup(sv[0]);
  REQUIRE(target >= 0);
  ::fcntl(sv[1], F_SETFL, O_NONBLOCK);
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; i < 200000 && !done.load(); ++i)
      if (::send(sv[1], "0123456789", 10, MSG_DONTWAIT) < 0) std::this_thread::yield();
  });
  std::thread swapper([&] {
    for (int i = 0; i < 20000; ++i) {
      ::dup2(sv[0], target);
      ::dup2(udp, target);
    }
    done.store(true);
  });
  char buf[64];
  for (int i = 0; i < 2000000 && !done.load(); ++i) ::recv(target, buf, sizeof buf, MSG_DONTWAIT);
  swapper.join();
  writer.join();
  ::close(target);
  ::close(sv[0]);
  ::close(sv[1]);
  ::close(udp);
  CHECK(all(kUnixDgram) + all(kInetSeqpacket) + all(kInetSeqpacketSctp) - foreign0 == 0);
  CHECK(counter(kUnixSeqpacket, st::kOpened) - unix_opened0 == 2);
  CHECK(counter(kUnixSeqpacket, st::kClosed) - unix_closed0 == 2);
  CHECK(counter(kUdp, st::kOpened) - udp_opened0 == 1);
  CHECK(counter(kUdp, st::kClosed) - udp_closed0 == 1);
  // Nothing is ever sent to the UDP socket: a recv that raced a swap counts under no kind.
  CHECK(counter(kUdp, st::kRecvBytes) - udp_bytes0 == 0);
  CHECK(counter(kUdp, st::kRecvCalls) - udp_calls0 == 0);
}
