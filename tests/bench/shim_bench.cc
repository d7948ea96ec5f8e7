// shim_bench: the loops scripts/bench-shim.sh runs under callgrind, with and without the shim.
// Not a test: it measures nothing itself and asserts nothing about speed. It only makes a known
// number of wrapped socket calls per iteration, so that the difference in instruction counts
// between two iteration counts, with and without the shim, is the shim's cost per call.
//
//   shim_bench connect N    one loopback listener; N times: socket, connect, accept, close the
//                           accepted socket, close the client  (5 wrapped calls per iteration)
//   shim_bench pingpong N   one connected loopback TCP pair; N times: send 64 bytes client→server,
//                           recv 64 on the server, send 64 back, recv 64 on the client
//                           (4 wrapped calls per iteration)
//   shim_bench sockopt N    one connected loopback TCP pair; N times: setsockopt SO_RCVTIMEO and
//                           getsockopt SO_RCVBUF on the client  (2 wrapped calls per iteration)
//   shim_bench files N      N times: open /dev/null (not wrapped) and close it, write one byte
//                           into a pipe and read it back  (3 wrapped calls per iteration, on
//                           descriptors that are no sockets: what every program does most)
//
// Single-threaded and deterministic: every call inside the loop is checked, and any surprise
// (a short transfer, an error) ends the program with status 1 instead of retrying, because a retry
// would change the number of calls per iteration. The set-up before the loop and the report after
// it make wrapped calls too; they cost the same for every N and cancel out in the script.
//
// Output (stdout, one line each):
//   workload=connect iterations=N listener_port=P
//   per_iter: socket=1 connect=1 accept=1 close=2
//   calls_per_iter=5
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace {

// The wrapped libc functions the loops call, in the order they are reported.
enum Fn { kSocket, kConnect, kAccept, kClose, kSend, kRecv, kSetsockopt, kGetsockopt, kRead, kWrite, kFnCount };
constexpr std::array<const char*, kFnCount> kFnNames = {"socket", "connect", "accept",     "close",
                                                        "send",   "recv",    "setsockopt", "getsockopt",
                                                        "read",   "write"};

// Calls made inside the measured loop, per function. Incremented next to each call, so the
// per-iteration figure printed is what the loop really did, not what this comment claims.
std::array<unsigned long long, kFnCount> g_calls{};

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "shim_bench: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

// A listening socket on 127.0.0.1 with a port the kernel chose; *addr gets its address.
// Its port is reported, so the script can check that port-keyed rules really never match it.
int g_listener_port = 0;

int make_listener(sockaddr_in* addr) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket (listener)");
  const int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) die("setsockopt");
  *addr = sockaddr_in{};
  addr->sin_family = AF_INET;
  addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr->sin_port = 0;
  if (bind(fd, reinterpret_cast<const sockaddr*>(addr), sizeof *addr) != 0) die("bind");
  if (listen(fd, 16) != 0) die("listen");
  socklen_t len = sizeof *addr;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(addr), &len) != 0) die("getsockname");
  g_listener_port = ntohs(addr->sin_port);
  return fd;
}

// A blocking connect to a loopback listener completes the handshake inside the call, so the
// accept that follows never waits.
void run_connect(unsigned long long n) {
  sockaddr_in addr{};
  const int lfd = make_listener(&addr);
  for (unsigned long long i = 0; i < n; ++i) {
    const int c = socket(AF_INET, SOCK_STREAM, 0);
    ++g_calls[kSocket];
    if (c < 0) die("socket");
    const int rc = connect(c, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
    ++g_calls[kConnect];
    if (rc != 0) die("connect");
    const int s = accept(lfd, nullptr, nullptr);
    ++g_calls[kAccept];
    if (s < 0) die("accept");
    // The accepted side closes first, so the TIME_WAIT state stays on the listener's port and
    // the client's ephemeral ports are free again at once: any N runs without exhausting them.
    if (close(s) != 0) die("close (accepted)");
    ++g_calls[kClose];
    if (close(c) != 0) die("close (client)");
    ++g_calls[kClose];
  }
  close(lfd);
}

// A connected loopback TCP pair, made before a loop (its calls cancel out between two N).
void connected_pair(int* client, int* server) {
  sockaddr_in addr{};
  const int lfd = make_listener(&addr);
  *client = socket(AF_INET, SOCK_STREAM, 0);
  if (*client < 0) die("socket");
  if (connect(*client, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) die("connect");
  *server = accept(lfd, nullptr, nullptr);
  if (*server < 0) die("accept");
  close(lfd);
}

void run_pingpong(unsigned long long n) {
  int c = -1, s = -1;
  connected_pair(&c, &s);
  // No Nagle: each 64-byte send leaves at once, whatever is in flight.
  const int one = 1;
  if (setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) die("setsockopt");
  if (setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) die("setsockopt");

  char out[64], in[64];
  std::memset(out, 'x', sizeof out);
  for (unsigned long long i = 0; i < n; ++i) {
    out[0] = static_cast<char>(i);
    // MSG_WAITALL: one recv returns all 64 bytes (or fails), so the call count never varies.
    if (send(c, out, sizeof out, 0) != static_cast<ssize_t>(sizeof out)) die("send (client)");
    ++g_calls[kSend];
    if (recv(s, in, sizeof in, MSG_WAITALL) != static_cast<ssize_t>(sizeof in)) die("recv (server)");
    ++g_calls[kRecv];
    if (send(s, in, sizeof in, 0) != static_cast<ssize_t>(sizeof in)) die("send (server)");
    ++g_calls[kSend];
    if (recv(c, in, sizeof in, MSG_WAITALL) != static_cast<ssize_t>(sizeof in)) die("recv (client)");
    ++g_calls[kRecv];
    if (in[0] != out[0]) {
      std::fprintf(stderr, "shim_bench: pingpong: reply %llu does not match\n", i);
      std::exit(1);
    }
  }
  close(s);
  close(c);
}

void run_sockopt(unsigned long long n) {
  int c = -1, s = -1;
  connected_pair(&c, &s);
  for (unsigned long long i = 0; i < n; ++i) {
    const timeval tv{1, static_cast<suseconds_t>(i % 1000)};
    if (setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0) die("setsockopt");
    ++g_calls[kSetsockopt];
    int buf = 0;
    socklen_t len = sizeof buf;
    if (getsockopt(c, SOL_SOCKET, SO_RCVBUF, &buf, &len) != 0) die("getsockopt");
    ++g_calls[kGetsockopt];
  }
  close(s);
  close(c);
}

void run_files(unsigned long long n) {
  int p[2];
  if (pipe(p) != 0) die("pipe");
  char byte = 'x';
  for (unsigned long long i = 0; i < n; ++i) {
    const int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) die("open");
    if (close(fd) != 0) die("close");
    ++g_calls[kClose];
    if (write(p[1], &byte, 1) != 1) die("write");
    ++g_calls[kWrite];
    if (read(p[0], &byte, 1) != 1) die("read");
    ++g_calls[kRead];
  }
  close(p[0]);
  close(p[1]);
}

int usage() {
  std::fprintf(stderr,
               "usage: shim_bench connect|pingpong|sockopt|files N\n"
               "  connect N    N × (socket, connect, accept, close, close) on loopback TCP\n"
               "  pingpong N   N × (send, recv, send, recv) of 64 bytes on one loopback TCP pair\n"
               "  sockopt N    N × (setsockopt SO_RCVTIMEO, getsockopt SO_RCVBUF) on a TCP socket\n"
               "  files N      N × (open+close /dev/null, write+read one byte through a pipe)\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) return usage();
  const std::string_view workload = argv[1];
  char* end = nullptr;
  errno = 0;
  const unsigned long long n = std::strtoull(argv[2], &end, 10);
  if (errno != 0 || end == argv[2] || *end != '\0' || n == 0 || argv[2][0] == '-') return usage();

  if (workload == "connect") {
    run_connect(n);
  } else if (workload == "pingpong") {
    run_pingpong(n);
  } else if (workload == "sockopt") {
    run_sockopt(n);
  } else if (workload == "files") {
    run_files(n);
  } else {
    return usage();
  }

  unsigned long long total = 0;
  for (const auto k : g_calls) total += k;
  std::printf("workload=%s iterations=%llu listener_port=%d\nper_iter:", argv[1], n,
              g_listener_port);
  for (int f = 0; f < kFnCount; ++f) {
    if (g_calls[f] == 0) continue;
    if (g_calls[f] % n != 0) {
      std::fprintf(stderr, "shim_bench: %s called %llu times in %llu iterations\n", kFnNames[f],
                   g_calls[f], n);
      return 1;
    }
    std::printf(" %s=%llu", kFnNames[f], g_calls[f] / n);
  }
  std::printf("\ncalls_per_iter=%llu\n", total / n);
  return 0;
}
