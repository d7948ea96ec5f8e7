// The first call of each wrapped function finds the real one (shim/real.h): run under the preload
// object, this makes those first calls from eight threads at once, from a signal handler, and
// with an error to report, and checks each answer. Exit 0 pass, 1 fail (a line says which).
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

namespace {

std::atomic<int> g_failures{0};

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "FAIL: %s (errno %d)\n", what, errno);
  g_failures.fetch_add(1);
}

int g_pair[2];

// A thread cancelled while blocked in a wrapped recv: the unwinder walks through the shim's frames
// (built without exceptions, but with unwind tables) and the thread's cleanup handler runs.
std::atomic<bool> g_cleanup_ran{false};
void note_cleanup(void*) { g_cleanup_ran.store(true); }
void* blocked_recv(void* arg) {
  const int fd = *static_cast<int*>(arg);
  char c;
  pthread_cleanup_push(note_cleanup, nullptr);
  recv(fd, &c, 1, 0);
  pthread_cleanup_pop(0);
  return nullptr;
}
volatile sig_atomic_t g_sent = -2;

// send()'s first call in the process is this one, inside a signal handler.
void on_signal(int) {
  const int saved = errno;
  g_sent = static_cast<int>(send(g_pair[0], "s", 1, MSG_DONTWAIT));
  errno = saved;
}

}  // namespace

int main() {
  if (!getenv("LD_PRELOAD")) {
    std::fprintf(stderr, "first_calls_probe: run it with LD_PRELOAD=libsockshim.so\n");
    return 77;
  }
  // An error on the first call: the resolver passes the real function's answer through.
  errno = 0;
  check(listen(-1, 1) == -1 && errno == EBADF, "first listen(-1) fails with EBADF");

  // Eight threads released at once, each making first calls to the same functions.
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&go] {
      while (!go.load()) {
      }
      const int fd = socket(AF_INET, SOCK_STREAM, 0);
      check(fd >= 0, "socket from a thread");
      int one = 1;
      check(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0, "setsockopt from a thread");
      int v = 0;
      socklen_t len = sizeof v;
      check(getsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &v, &len) == 0 && v == 1, "getsockopt from a thread");
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      check(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0, "bind from a thread");
      const int copy = dup(fd);
      check(copy >= 0, "dup from a thread");
      check(close(copy) == 0, "close of the copy from a thread");
      check(shutdown(fd, SHUT_RDWR) == -1 && errno == ENOTCONN, "shutdown of an unconnected socket: ENOTCONN");
      check(close(fd) == 0, "close from a thread");
    });
  }
  go.store(true);
  for (auto& t : threads) t.join();

  check(socketpair(AF_UNIX, SOCK_STREAM, 0, g_pair) == 0, "socketpair");
  struct sigaction sa{};
  sa.sa_handler = on_signal;
  check(sigaction(SIGUSR1, &sa, nullptr) == 0, "sigaction");
  raise(SIGUSR1);
  check(g_sent == 1, "send from a signal handler, its first call");
  char c = 0;
  check(recv(g_pair[1], &c, 1, 0) == 1 && c == 's', "recv of what the handler sent");
  pthread_t blocked;
  check(pthread_create(&blocked, nullptr, blocked_recv, &g_pair[1]) == 0, "pthread_create");
  usleep(100 * 1000);   // long enough to block in recv; cancellation works at any point anyway
  check(pthread_cancel(blocked) == 0, "pthread_cancel");
  void* result = nullptr;
  check(pthread_join(blocked, &result) == 0 && result == PTHREAD_CANCELED, "the blocked thread ended cancelled");
  check(g_cleanup_ran.load(), "its cleanup handler ran (unwound through the shim's recv)");
  close(g_pair[0]);
  close(g_pair[1]);
  if (g_failures.load() == 0) std::printf("first calls: ok\n");
  return g_failures.load() == 0 ? 0 : 1;
}
