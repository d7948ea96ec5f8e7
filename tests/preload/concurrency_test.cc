// The shim inside a busy program: exact totals from many threads, fork while other threads are
// inside wrapped calls, wrapped calls from signal handlers, errno left as the program set it.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cerrno>
#include <thread>
#include <vector>

#include "preload_env.h"

using namespace preload_test;
namespace st = shim::stats;

TEST_CASE("8 threads x 100000 operations give exact totals", "[preload][threads]") {
  only_rule(-1);
  constexpr int kThreads = 8, kOps = 100000;
  const auto sent0 = counter(kUnixDgram, st::kSendCalls);
  const auto recv0 = counter(kUnixDgram, st::kRecvCalls);
  const auto bytes0 = counter(kUnixDgram, st::kRecvBytes);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      int sv[2];
      if (::socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) != 0) {
        ++failures;
        return;
      }
      char b = 'x';
      for (int i = 0; i < kOps; ++i) {
        if (::send(sv[0], &b, 1, 0) != 1 || ::recv(sv[1], &b, 1, 0) != 1) ++failures;
      }
      ::close(sv[0]);
      ::close(sv[1]);
    });
  }
  for (auto& t : threads) t.join();
  REQUIRE(failures.load() == 0);
  CHECK(counter(kUnixDgram, st::kSendCalls) - sent0 == std::uint64_t{kThreads} * kOps);
  CHECK(counter(kUnixDgram, st::kRecvCalls) - recv0 == std::uint64_t{kThreads} * kOps);
  CHECK(counter(kUnixDgram, st::kRecvBytes) - bytes0 == std::uint64_t{kThreads} * kOps);
}

TEST_CASE("fork while other threads are inside wrapped calls does not deadlock", "[preload][fork]") {
  only_rule(-1);
  std::atomic<bool> stop{false};
  std::vector<std::thread> busy;
  for (int t = 0; t < 3; ++t) {
    busy.emplace_back([&] {
      while (!stop.load()) {
        const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
        ::close(fd);
      }
    });
  }
  int ok = 0;
  for (int i = 0; i < 40; ++i) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      alarm(10);   // a deadlocked child dies instead of hanging the test
      const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
      const int rc = fd >= 0 && ::close(fd) == 0 ? 0 : 1;
      _exit(rc);
    }
    int status = 0;
    if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0)
      ++ok;
  }
  stop.store(true);
  for (auto& t : busy) t.join();
  CHECK(ok == 40);
}

namespace {
int g_signal_fd = -1;
std::atomic<int> g_handler_sends{0};
void on_alarm(int) {
  const int saved = errno;
  char b = 's';
  if (::send(g_signal_fd, &b, 1, MSG_DONTWAIT) == 1) ++g_handler_sends;
  errno = saved;
}
}  // namespace

TEST_CASE("wrapped calls from a signal handler interrupting wrapped calls", "[preload][signals]") {
  only_rule(-1);
  int main_pair[2], sig_pair[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_DGRAM, 0, main_pair) == 0);
  REQUIRE(::socketpair(AF_UNIX, SOCK_DGRAM, 0, sig_pair) == 0);
  const int big = 1 << 20;
  ::setsockopt(sig_pair[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  g_signal_fd = sig_pair[0];
  g_handler_sends = 0;
  struct sigaction sa {};
  sa.sa_handler = on_alarm;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sa, nullptr);
  const auto sent0 = counter(kUnixDgram, st::kSendCalls);
  itimerval every{{0, 200}, {0, 200}};
  setitimer(ITIMER_REAL, &every, nullptr);
  constexpr int kOps = 50000;
  int main_sends = 0;
  char b = 'm';
  for (int i = 0; i < kOps; ++i) {
    if (::send(main_pair[0], &b, 1, 0) == 1) ++main_sends;
    ::recv(main_pair[1], &b, 1, 0);
  }
  itimerval off{};
  setitimer(ITIMER_REAL, &off, nullptr);
  signal(SIGALRM, SIG_DFL);
  CHECK(main_sends == kOps);
  CHECK(g_handler_sends.load() > 0);
  CHECK(counter(kUnixDgram, st::kSendCalls) - sent0 ==
        static_cast<std::uint64_t>(main_sends + g_handler_sends.load()));
  for (int fd : {main_pair[0], main_pair[1], sig_pair[0], sig_pair[1]}) ::close(fd);
}

TEST_CASE("errno is what the program set, on every path that does not inject", "[preload][errno]") {
  only_rule(-1);
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  int pipefd[2];
  REQUIRE(pipe(pipefd) == 0);
  char b = 'e';
  errno = 4242;
  CHECK(::send(sv[0], &b, 1, 0) == 1);
  CHECK(errno == 4242);
  errno = 4343;
  CHECK(::write(pipefd[1], &b, 1) == 1);   // first use of a non-socket fd: classified
  CHECK(errno == 4343);
  errno = 4444;
  CHECK(::read(pipefd[0], &b, 1) == 1);
  CHECK(errno == 4444);
  // A failing real call reports the kernel's errno, unchanged.
  CHECK(::recv(sv[1], &b, 1, 0) == 1);
  CHECK(::recv(sv[1], &b, 1, MSG_DONTWAIT) == -1);
  CHECK(errno == EAGAIN);
  CHECK(::connect(pipefd[0], nullptr, 0) == -1);
  CHECK(errno == ENOTSOCK);
  CHECK(::close(-1) == -1);
  CHECK(errno == EBADF);
  for (int fd : {sv[0], sv[1], pipefd[0], pipefd[1]}) ::close(fd);
}
