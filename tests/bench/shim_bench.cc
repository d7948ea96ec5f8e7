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
//   shim_bench mix N        N times: every wrapped function but fork once or more — a listener's
//                           life (socket, setsockopt, getsockopt, bind, listen, connect, accept,
//                           accept4, fcntl, fcntl64, dup, dup2, dup3, shutdown, close_range,
//                           close), socketpair, every send and receive function on a TCP pair
//                           and a UDP pair (the _chk ones too), getaddrinfo of a numeric address,
//                           and read/write/close on a pipe (fork: a process each, not a call)
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
#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace {

// The wrapped libc functions the loops call, in the order they are reported.
enum Fn {
  kSocket, kConnect, kAccept, kClose, kSend, kRecv, kSetsockopt, kGetsockopt, kRead, kWrite,
  kSocketpair, kBind, kListen, kAccept4, kShutdown, kCloseRange, kSendto, kSendmsg, kSendmmsg,
  kRecvfrom, kRecvmsg, kRecvmmsg, kReadv, kWritev, kDup, kDup2, kDup3, kFcntl, kFcntl64,
  kGetaddrinfo, kRecvChk, kRecvfromChk, kReadChk, kFnCount
};
constexpr std::array<const char*, kFnCount> kFnNames = {
    "socket",   "connect",    "accept",      "close",    "send",     "recv",        "setsockopt",
    "getsockopt", "read",     "write",       "socketpair", "bind",   "listen",      "accept4",
    "shutdown", "close_range", "sendto",     "sendmsg",  "sendmmsg", "recvfrom",    "recvmsg",
    "recvmmsg", "readv",      "writev",      "dup",      "dup2",     "dup3",        "fcntl",
    "fcntl64",  "getaddrinfo", "__recv_chk", "__recvfrom_chk", "__read_chk"};

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

}  // namespace

// The fortified entry points programs built with _FORTIFY_SOURCE call; glibc exports them.
extern "C" {
ssize_t __recv_chk(int fd, void* buf, size_t n, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void* buf, size_t n, size_t buflen, int flags, sockaddr* from, socklen_t* fromlen);
ssize_t __read_chk(int fd, void* buf, size_t n, size_t buflen);
int fcntl64(int fd, int cmd, ...);
}

namespace {

// One call, counted; any failure ends the run (a retry would change the calls per iteration).
#define CALL(fn, expr, ok)       \
  do {                           \
    const auto rc_ = (expr);     \
    ++g_calls[fn];               \
    if (!(ok)) die(kFnNames[fn]); \
    (void)rc_;                   \
  } while (0)

// Sends `n` bytes with one call of each send function and receives them with one call of each
// receive function (MSG_WAITALL where there is a flag; loopback delivers before send returns).
void transfers(int tx, int rx) {
  char out[32], in[32];
  std::memset(out, 'm', sizeof out);
  iovec ov{out, sizeof out}, iv{in, sizeof in};
  msghdr om{}, im{};
  om.msg_iov = &ov;
  om.msg_iovlen = 1;
  im.msg_iov = &iv;
  im.msg_iovlen = 1;
  const ssize_t n = sizeof out;
  CALL(kSend, send(tx, out, sizeof out, 0), rc_ == n);
  CALL(kRecv, recv(rx, in, sizeof in, MSG_WAITALL), rc_ == n);
  CALL(kSendto, sendto(tx, out, sizeof out, 0, nullptr, 0), rc_ == n);
  CALL(kRecvfrom, recvfrom(rx, in, sizeof in, MSG_WAITALL, nullptr, nullptr), rc_ == n);
  CALL(kSendmsg, sendmsg(tx, &om, 0), rc_ == n);
  CALL(kRecvmsg, recvmsg(rx, &im, MSG_WAITALL), rc_ == n);
  CALL(kWrite, write(tx, out, sizeof out), rc_ == n);
  CALL(kRead, read(rx, in, sizeof in), rc_ == n);
  CALL(kWritev, writev(tx, &ov, 1), rc_ == n);
  CALL(kReadv, readv(rx, &iv, 1), rc_ == n);
  CALL(kSend, send(tx, out, sizeof out, 0), rc_ == n);
  CALL(kRecvChk, __recv_chk(rx, in, sizeof in, sizeof in, MSG_WAITALL), rc_ == n);
  CALL(kSend, send(tx, out, sizeof out, 0), rc_ == n);
  CALL(kRecvfromChk, __recvfrom_chk(rx, in, sizeof in, sizeof in, MSG_WAITALL, nullptr, nullptr), rc_ == n);
  CALL(kSend, send(tx, out, sizeof out, 0), rc_ == n);
  CALL(kReadChk, __read_chk(rx, in, sizeof in, sizeof in), rc_ == n);
}

void run_mix(unsigned long long n) {
  int c0 = -1, s0 = -1;
  connected_pair(&c0, &s0);
  int u[2];   // a connected UDP pair for the datagram-vector calls
  sockaddr_in ua{}, ub{};
  for (int i = 0; i < 2; ++i) {
    u[i] = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in& a = i ? ub : ua;
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (u[i] < 0 || bind(u[i], reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0 ||
        getsockname(u[i], reinterpret_cast<sockaddr*>(&a), &len) != 0)
      die("udp pair");
  }
  if (connect(u[0], reinterpret_cast<const sockaddr*>(&ub), sizeof ub) != 0 ||
      connect(u[1], reinterpret_cast<const sockaddr*>(&ua), sizeof ua) != 0)
    die("udp connect");
  int p[2];
  if (pipe(p) != 0) die("pipe");
  // Free descriptor numbers for dup2/dup3/close_range, just above what the loop opens (a program's
  // descriptors are mostly low numbers; the shim's dup bookkeeping scans up to the highest).
  const int spare = p[1] + 8;
  const int one = 1;
  const addrinfo hints{.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV, .ai_family = AF_INET,
                       .ai_socktype = SOCK_STREAM, .ai_protocol = 0, .ai_addrlen = 0,
                       .ai_addr = nullptr, .ai_canonname = nullptr, .ai_next = nullptr};
  for (unsigned long long i = 0; i < n; ++i) {
    // A listener's life, a client and two accepted connections.
    int l = -1;
    CALL(kSocket, l = socket(AF_INET, SOCK_STREAM, 0), l >= 0);
    CALL(kSetsockopt, setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), rc_ == 0);
    int type = 0;
    socklen_t tlen = sizeof type;
    CALL(kGetsockopt, getsockopt(l, SOL_SOCKET, SO_TYPE, &type, &tlen), rc_ == 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CALL(kBind, bind(l, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), rc_ == 0);
    CALL(kListen, listen(l, 4), rc_ == 0);
    socklen_t alen = sizeof addr;
    if (getsockname(l, reinterpret_cast<sockaddr*>(&addr), &alen) != 0) die("getsockname");
    int c = -1, c2 = -1, a = -1, a2 = -1;
    CALL(kSocket, c = socket(AF_INET, SOCK_STREAM, 0), c >= 0);
    CALL(kConnect, connect(c, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), rc_ == 0);
    CALL(kAccept4, a = accept4(l, nullptr, nullptr, SOCK_CLOEXEC), a >= 0);
    CALL(kSocket, c2 = socket(AF_INET, SOCK_STREAM, 0), c2 >= 0);
    CALL(kConnect, connect(c2, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), rc_ == 0);
    CALL(kAccept, a2 = accept(l, nullptr, nullptr), a2 >= 0);
    CALL(kFcntl, fcntl(c, F_GETFL), rc_ >= 0);
    CALL(kFcntl64, fcntl64(c, F_GETFD), rc_ >= 0);
    int d = -1;
    CALL(kDup, d = dup(a), d >= 0);
    CALL(kDup2, dup2(a, spare), rc_ == spare);
    CALL(kDup3, dup3(a, spare + 1, O_CLOEXEC), rc_ == spare + 1);
    CALL(kShutdown, shutdown(c, SHUT_WR), rc_ == 0);
    CALL(kCloseRange, close_range(spare, spare + 1, 0), rc_ == 0);
    // Accepted sides first: TIME_WAIT stays on this iteration's listener port.
    CALL(kClose, close(d), rc_ == 0);
    CALL(kClose, close(a), rc_ == 0);
    CALL(kClose, close(a2), rc_ == 0);
    CALL(kClose, close(c), rc_ == 0);
    CALL(kClose, close(c2), rc_ == 0);
    CALL(kClose, close(l), rc_ == 0);
    int sv[2];
    CALL(kSocketpair, socketpair(AF_UNIX, SOCK_STREAM, 0, sv), rc_ == 0);
    CALL(kClose, close(sv[0]), rc_ == 0);
    CALL(kClose, close(sv[1]), rc_ == 0);
    // Every send and receive function, on TCP, and the vector ones on UDP.
    transfers(c0, s0);
    char out[32] = {}, in[32];
    iovec ov{out, sizeof out}, iv{in, sizeof in};
    mmsghdr om{}, im{};
    om.msg_hdr.msg_iov = &ov;
    om.msg_hdr.msg_iovlen = 1;
    im.msg_hdr.msg_iov = &iv;
    im.msg_hdr.msg_iovlen = 1;
    CALL(kSendmmsg, sendmmsg(u[0], &om, 1, 0), rc_ == 1);
    CALL(kRecvmmsg, recvmmsg(u[1], &im, 1, 0, nullptr), rc_ == 1 && im.msg_len == sizeof out);
    addrinfo* res = nullptr;
    CALL(kGetaddrinfo, getaddrinfo("127.0.0.1", "80", &hints, &res), rc_ == 0);
    freeaddrinfo(res);
    // And what every program does most, on descriptors that are no sockets.
    char byte = 'x';
    CALL(kWrite, write(p[1], &byte, 1), rc_ == 1);
    CALL(kRead, read(p[0], &byte, 1), rc_ == 1);
    const int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) die("open");
    CALL(kClose, close(fd), rc_ == 0);
  }
  close(p[0]);
  close(p[1]);
  close(u[0]);
  close(u[1]);
  close(s0);
  close(c0);
}

int usage() {
  std::fprintf(stderr,
               "usage: shim_bench connect|pingpong|sockopt|files N\n"
               "  connect N    N × (socket, connect, accept, close, close) on loopback TCP\n"
               "  pingpong N   N × (send, recv, send, recv) of 64 bytes on one loopback TCP pair\n"
               "  sockopt N    N × (setsockopt SO_RCVTIMEO, getsockopt SO_RCVBUF) on a TCP socket\n"
               "  files N      N × (open+close /dev/null, write+read one byte through a pipe)\n"
               "  mix N        N × every wrapped function but fork at least once (see the source)\n");
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
  } else if (workload == "mix") {
    run_mix(n);
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
