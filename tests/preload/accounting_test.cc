// How calls turn into counters: non-blocking connect, sockets the shim did not see created,
// triggers shared through the segment, leaks recorded at exit.
#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cerrno>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "preload_env.h"
#include "shim/stats/segment.h"

using namespace preload_test;
namespace st = shim::stats;

TEST_CASE("non-blocking connect: pending, then connected through SO_ERROR", "[preload][connect]") {
  only_rule(-1);
  Listener l;
  const auto pending0 = counter(kTcp, st::kConnectPending);
  const auto connected0 = counter(kTcp, st::kConnected);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&l.addr), sizeof l.addr);
  REQUIRE((rc == 0 || errno == EINPROGRESS));
  pollfd p{fd, POLLOUT, 0};
  REQUIRE(poll(&p, 1, 5000) == 1);
  int err = -1;
  socklen_t n = sizeof err;
  REQUIRE(::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &n) == 0);
  CHECK(err == 0);
  if (rc != 0) CHECK(counter(kTcp, st::kConnectPending) - pending0 == 1);
  CHECK(counter(kTcp, st::kConnected) - connected0 == 1);
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &n);   // asking again counts nothing more
  CHECK(counter(kTcp, st::kConnected) - connected0 == 1);
  ::close(fd);
}

TEST_CASE("non-blocking connect to a closed port is connect_failed, not connected", "[preload][connect]") {
  only_rule(-1);
  sockaddr_in a{};
  {
    Listener l;   // take a free port, then close it
    a = l.addr;
  }
  const auto failed0 = counter(kTcp, st::kConnectFailed);
  const auto connected0 = counter(kTcp, st::kConnected);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a);
  if (rc == -1 && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    REQUIRE(poll(&p, 1, 5000) == 1);
    int err = 0;
    socklen_t n = sizeof err;
    REQUIRE(::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &n) == 0);
    CHECK(err == ECONNREFUSED);
  } else {
    CHECK(errno == ECONNREFUSED);
  }
  CHECK(counter(kTcp, st::kConnectFailed) - failed0 == 1);
  CHECK(counter(kTcp, st::kConnected) - connected0 == 0);
  ::close(fd);
}

TEST_CASE("a socket made behind the shim's back is classified on first use", "[preload][classify]") {
  only_rule(-1);
  const auto udp_sent0 = counter(kUdp, st::kSendCalls);
  const auto udp_opened0 = counter(kUdp, st::kOpened);
  const auto udp_closed0 = counter(kUdp, st::kClosed);
  // A raw syscall, as a static helper or a program inheriting it across exec would have it.
  const int fd = static_cast<int>(syscall(SYS_socket, AF_INET, SOCK_DGRAM, 0));
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(9);
  CHECK(::sendto(fd, "x", 1, 0, reinterpret_cast<sockaddr*>(&a), sizeof a) == 1);
  CHECK(counter(kUdp, st::kSendCalls) - udp_sent0 == 1);
  CHECK(counter(kUdp, st::kOpened) - udp_opened0 == 0);   // not seen opened...
  ::close(fd);
  CHECK(counter(kUdp, st::kClosed) - udp_closed0 == 0);   // ...so its close is not counted
}

TEST_CASE("nth and times count in the segment", "[preload][triggers]") {
  only_rule(kNthConnectRule);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(9);   // discard: nobody listens here, so the real answer is ECONNREFUSED
  std::string seen;
  for (int i = 0; i < 6; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    const int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    seen += rc == 0 ? "ok " : errno == ETIMEDOUT ? "injected " : errno == ECONNREFUSED ? "refused " : "other ";
    ::close(fd);
  }
  only_rule(-1);
  CHECK(seen == "refused injected refused injected refused refused ");
  CHECK(segment().rules[kNthConnectRule].hits.load() == 6);
  CHECK(segment().rules[kNthConnectRule].fired.load() == 2);
}

TEST_CASE("a listening socket still open at exit is recorded as a leak", "[preload][leaks]") {
  only_rule(-1);
  int port_pipe[2];
  REQUIRE(pipe(port_pipe) == 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    Listener* leaked = new Listener;   // never destroyed: its socket stays open
    const std::uint16_t port = ntohs(leaked->addr.sin_port);
    (void)!::write(port_pipe[1], &port, sizeof port);
    std::exit(0);
  }
  REQUIRE(pid > 0);
  std::uint16_t port = 0;
  REQUIRE(::read(port_pipe[0], &port, sizeof port) == sizeof port);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  const st::ProcessRecord* r = st::find_process(segment(), pid);
  REQUIRE(r != nullptr);
  REQUIRE(r->state.load() == st::kProcExited);
  REQUIRE(r->leak_count == 1);
  CHECK(r->leaks[0].cookie == kTcp);
  CHECK(std::string(r->leaks[0].local) == "127.0.0.1:" + std::to_string(port));
  ::close(port_pipe[0]);
  ::close(port_pipe[1]);
}

TEST_CASE("a vfork child's close, dup2 and close_range leave the parent's table alone", "[preload][vfork]") {
  only_rule(-1);
  Listener l;
  TcpPair p(l);
  const auto closed0 = counter(kTcp, st::kClosed);
  const auto sent0 = counter(kTcp, st::kSendCalls);
  // What CPython's subprocess does between vfork and exec, on memory it shares with us.
  const pid_t pid = vfork();
  if (pid == 0) {
    ::dup2(p.client, 950);
    ::close(p.client);
    ::close_range(950, 950, 0);
    _exit(0);
  }
  REQUIRE(pid > 0);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CHECK(counter(kTcp, st::kClosed) == closed0);
  CHECK(::send(p.client, "x", 1, 0) == 1);                  // still known as a socket
  CHECK(counter(kTcp, st::kSendCalls) - sent0 == 1);
  CHECK(::fcntl(950, F_GETFD) == -1);                        // the child's 950 was its own
}

TEST_CASE("dup of files and pipes, and of sockets onto numbers that held them", "[preload][dup]") {
  only_rule(-1);
  Listener l;
  TcpPair p(l);
  int pipefd[2];
  REQUIRE(::pipe(pipefd) == 0);
  char b = 0;
  // Make 960 a known non-socket (a write classifies it), then dup the socket onto it: the new
  // 960 is the socket, counted as one with p.client.
  REQUIRE(::dup2(pipefd[1], 960) == 960);
  REQUIRE(::write(960, "p", 1) == 1);
  REQUIRE(::read(pipefd[0], &b, 1) == 1);
  const auto sent0 = counter(kTcp, st::kSendCalls);
  const auto closed0 = counter(kTcp, st::kClosed);
  REQUIRE(::dup2(p.client, 960) == 960);
  CHECK(::write(960, "s", 1) == 1);
  CHECK(counter(kTcp, st::kSendCalls) - sent0 == 1);
  ::close(960);
  CHECK(counter(kTcp, st::kClosed) == closed0);   // p.client still names it
  // A pipe dup'd onto a number that named the socket's copy: no socket any more; its transfers
  // and its close count nothing.
  const int copy = ::dup(p.client);
  REQUIRE(copy >= 0);
  REQUIRE(::close(copy) == 0);
  REQUIRE(::dup2(pipefd[1], copy) == copy);   // copy's entry was cleared by the close: hot path
  const auto sent1 = counter(kTcp, st::kSendCalls);
  CHECK(::write(copy, "q", 1) == 1);
  REQUIRE(::read(pipefd[0], &b, 1) == 1);
  ::close(copy);
  CHECK(counter(kTcp, st::kSendCalls) == sent1);
  CHECK(counter(kTcp, st::kClosed) == closed0);
  // F_DUPFD of a pipe lands on the lowest free number, which may have been a socket's.
  const int fresh = ::socket(AF_INET, SOCK_DGRAM, 0);
  REQUIRE(fresh >= 0);
  ::close(fresh);
  const int dupped = ::fcntl(pipefd[1], F_DUPFD, fresh);
  REQUIRE(dupped == fresh);
  const auto udp_sent = counter(kUdp, st::kSendCalls);
  CHECK(::write(dupped, "r", 1) == 1);
  CHECK(counter(kUdp, st::kSendCalls) == udp_sent);
  ::close(dupped);
  ::close(pipefd[0]);
  ::close(pipefd[1]);
  // The socket itself is untouched by all this: one close, counted.
  ::close(p.client);
  p.client = ::socket(AF_INET, SOCK_STREAM, 0);   // for TcpPair's destructor
  CHECK(counter(kTcp, st::kClosed) - closed0 == 1);
}

TEST_CASE("a failed dup of a socket leaves its one close counted", "[preload][dup]") {
  only_rule(-1);
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(s >= 0);
  const auto closed0 = counter(kTcp, st::kClosed);
  errno = 0;
  CHECK(::dup2(s, -1) == -1);
  CHECK(errno == EBADF);
  CHECK(::fcntl(s, F_DUPFD, -1) == -1);
  CHECK(errno == EINVAL);
  CHECK(counter(kTcp, st::kClosed) == closed0);
  REQUIRE(::close(s) == 0);
  CHECK(counter(kTcp, st::kClosed) - closed0 == 1);
}

TEST_CASE("threads dup and close copies of one socket at once: one close, at the end", "[preload][dup][threads]") {
  only_rule(-1);
  Listener l;
  TcpPair p(l);
  const auto closed0 = counter(kTcp, st::kClosed);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        // dup and close, and dup2 onto a number of this thread's that holds the previous copy.
        const int c = ::dup(p.client);
        if (c < 0 || ::close(c) != 0) failures.fetch_add(1);
        if (::dup2(p.client, 700 + t) != 700 + t) failures.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(failures.load() == 0);
  CHECK(counter(kTcp, st::kClosed) == closed0);   // p.client and 700..703 name it still
  for (int t = 0; t < 4; ++t) ::close(700 + t);
  CHECK(counter(kTcp, st::kClosed) == closed0);
  ::close(p.client);
  p.client = ::socket(AF_INET, SOCK_STREAM, 0);   // for TcpPair's destructor
  CHECK(counter(kTcp, st::kClosed) - closed0 == 1);
}

TEST_CASE("more dup'd sockets open at once than reference groups: each close counted once", "[preload][dup]") {
  only_rule(-1);
  // 1 100 sockets and a copy of each: past the shim's 1 024 groups, the rest are told by scanning.
  constexpr int kSockets = 1100;
  rlimit rl{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &rl) == 0);
  const rlimit old = rl;
  if (rl.rlim_cur < 2 * kSockets + 64) {
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? 4096 : std::min<rlim_t>(rl.rlim_max, 4096);
    if (rl.rlim_cur < 2 * kSockets + 64 || setrlimit(RLIMIT_NOFILE, &rl) != 0) {
      WARN("RLIMIT_NOFILE's hard limit is too low for this case; not run");
      return;
    }
  }
  const auto closed0 = counter(kUdp, st::kClosed);
  std::vector<int> fds, copies;
  for (int i = 0; i < kSockets; ++i) {
    const int s = ::socket(AF_INET, SOCK_DGRAM, 0);
    REQUIRE(s >= 0);
    const int c = ::dup(s);
    REQUIRE(c >= 0);
    fds.push_back(s);
    copies.push_back(c);
  }
  for (int s : fds) ::close(s);
  CHECK(counter(kUdp, st::kClosed) == closed0);
  for (int c : copies) ::close(c);
  CHECK(counter(kUdp, st::kClosed) - closed0 == kSockets);
  // And the groups are free again: one more round needs no scanning to be right.
  const int s = ::socket(AF_INET, SOCK_DGRAM, 0);
  const int c = ::dup(s);
  ::close(c);
  CHECK(counter(kUdp, st::kClosed) - closed0 == kSockets);
  ::close(s);
  CHECK(counter(kUdp, st::kClosed) - closed0 == kSockets + 1);
  setrlimit(RLIMIT_NOFILE, &old);
}
