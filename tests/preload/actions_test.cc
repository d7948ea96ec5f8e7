// Every `do` and `then` action and the per-socket triggers, each on real loopback sockets of this
// process with the shim preloaded (rules 13.. of preload_rules.json, one switched on at a time).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "filters/table.h"
#include "preload_env.h"
#include <catch2/catch.hpp>

using namespace preload_test;

namespace {

enum Rule {
  kShort = 13, kDuplicate, kDrop, kCorruptSend, kTruncateRecv, kCorruptRecv, kReset, kEagain,
  kHang, kDelay, kSoError, kThenFail, kAfterBytes, kCountSocket, kCoin, kPeerCidr, kUnixPath, kEintr,
};

// Switches one rule on for a test's scope.
struct OnlyRule {
  explicit OnlyRule(int rule) { only_rule(rule); }
  ~OnlyRule() { only_rule(-1); }
};

double now_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

bool readable(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, ms) == 1;
}

// A bound loopback UDP receiver and a sender connected to it.
struct UdpPair {
  int rx = -1, tx = -1;
  sockaddr_in addr{};
  UdpPair() {
    rx = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t n = sizeof addr;
    REQUIRE(::bind(rx, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::getsockname(rx, reinterpret_cast<sockaddr*>(&addr), &n) == 0);
    tx = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(::connect(tx, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~UdpPair() {
    ::close(rx);
    ::close(tx);
  }
  // Datagrams waiting at rx, drained.
  int drain() {
    int count = 0;
    char buf[2048];
    while (readable(rx, 100) && ::recv(rx, buf, sizeof buf, MSG_DONTWAIT) >= 0) ++count;
    return count;
  }
};

int popcount(const unsigned char* p, std::size_t n) {
  int bits = 0;
  for (std::size_t i = 0; i < n; ++i) bits += std::popcount(static_cast<unsigned>(p[i]));
  return bits;
}

// Receives exactly n bytes from fd (looping over short reads), bounded in time.
std::string recv_all(int fd, std::size_t n) {
  std::string out;
  char buf[256];
  for (int i = 0; i < 1000 && out.size() < n; ++i) {
    if (!readable(fd, 1000)) break;
    const ssize_t r = ::recv(fd, buf, std::min(sizeof buf, n - out.size()), 0);
    if (r <= 0) break;
    out.append(buf, static_cast<std::size_t>(r));
  }
  return out;
}

}  // namespace

TEST_CASE("short: sends and receives move at most N bytes, and nothing is lost", "[preload][actions]") {
  Listener l;
  TcpPair p(l);
  OnlyRule on(kShort);
  const std::string msg = "0123456789";
  CHECK(::send(p.client, msg.data(), msg.size(), 0) == 3);
  iovec iov[2] = {{const_cast<char*>(msg.data() + 3), 4}, {const_cast<char*>(msg.data() + 7), 3}};
  CHECK(::writev(p.client, iov, 2) == 3);
  CHECK(::write(p.client, msg.data() + 6, 4) == 3);
  CHECK(::send(p.client, msg.data() + 9, 1, 0) == 1);
  char buf[64];
  REQUIRE(readable(p.server, 1000));
  const ssize_t first = ::recv(p.server, buf, sizeof buf, 0);
  CHECK(first == 3);
  std::string got(buf, static_cast<std::size_t>(first > 0 ? first : 0));
  got += recv_all(p.server, msg.size() - got.size());
  CHECK(got == msg);
}

TEST_CASE("duplicate: a datagram sent once arrives twice", "[preload][actions]") {
  UdpPair u;
  {
    OnlyRule on(kDuplicate);
    CHECK(::send(u.tx, "dup", 3, 0) == 3);
  }
  CHECK(u.drain() == 2);
}

TEST_CASE("drop: the send reports success and nothing arrives", "[preload][actions]") {
  UdpPair u;
  {
    OnlyRule on(kDrop);
    CHECK(::send(u.tx, "gone", 4, 0) == 4);
    char one[8] = "a";
    iovec iov{one, 1};
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    CHECK(::sendmsg(u.tx, &m, 0) == 1);
  }
  CHECK(u.drain() == 0);
  CHECK(::send(u.tx, "here", 4, 0) == 4);
  CHECK(u.drain() == 1);
}

TEST_CASE("corrupt: one bit of the bytes sent flips, the program's buffer stays intact", "[preload][actions]") {
  UdpPair u;
  unsigned char zeros[64] = {};
  {
    OnlyRule on(kCorruptSend);
    CHECK(::send(u.tx, zeros, sizeof zeros, 0) == static_cast<ssize_t>(sizeof zeros));
  }
  CHECK(popcount(zeros, sizeof zeros) == 0);
  unsigned char got[64] = {};
  REQUIRE(readable(u.rx, 1000));
  CHECK(::recv(u.rx, got, sizeof got, 0) == static_cast<ssize_t>(sizeof got));
  CHECK(popcount(got, sizeof got) == 1);
}

TEST_CASE("then.truncate: the program sees the first N bytes, the rest is gone", "[preload][actions]") {
  Listener l;
  TcpPair p(l);
  CHECK(::send(p.client, "0123456789", 10, 0) == 10);
  REQUIRE(readable(p.server, 1000));
  usleep(20000);   // let all ten bytes arrive, so one recv takes them all
  char buf[64];
  {
    OnlyRule on(kTruncateRecv);
    CHECK(::recv(p.server, buf, sizeof buf, 0) == 2);
  }
  CHECK(std::string(buf, 2) == "01");
  CHECK(::recv(p.server, buf, sizeof buf, MSG_DONTWAIT) == -1);
  CHECK(errno == EAGAIN);
}

TEST_CASE("then.corrupt: bits flip in the bytes received", "[preload][actions]") {
  UdpPair u;
  unsigned char zeros[64] = {};
  CHECK(::send(u.tx, zeros, sizeof zeros, 0) == 64);
  REQUIRE(readable(u.rx, 1000));
  unsigned char got[64] = {};
  iovec iov[2] = {{got, 10}, {got + 10, 54}};
  {
    OnlyRule on(kCorruptRecv);
    CHECK(::readv(u.rx, iov, 2) == 64);
  }
  const int flipped = popcount(got, sizeof got);
  CHECK((flipped == 3 || flipped == 1));   // three draws; two may hit the same bit
}

TEST_CASE("reset: the program sees ECONNRESET and the peer gets a RST", "[preload][actions]") {
  Listener l;
  TcpPair p(l);
  char buf[16];
  {
    OnlyRule on(kReset);
    CHECK(::recv(p.client, buf, sizeof buf, 0) == -1);
    CHECK(errno == ECONNRESET);
  }
  REQUIRE(readable(p.server, 1000));
  CHECK(::recv(p.server, buf, sizeof buf, 0) == -1);
  CHECK(errno == ECONNRESET);
}

TEST_CASE("eagain and eintr fail without calling, and consume nothing", "[preload][actions]") {
  Listener l;
  TcpPair p(l);
  CHECK(::send(p.client, "xy", 2, 0) == 2);
  REQUIRE(readable(p.server, 1000));
  char buf[16];
  {
    OnlyRule on(kEagain);
    CHECK(::recv(p.server, buf, sizeof buf, 0) == -1);
    CHECK(errno == EAGAIN);
  }
  {
    OnlyRule on(kEintr);
    CHECK(::send(p.server, "z", 1, 0) == -1);
    CHECK(errno == EINTR);
  }
  CHECK(recv_all(p.server, 2) == "xy");
  CHECK_FALSE(readable(p.client, 50));   // the interrupted send sent nothing
}

TEST_CASE("hang blocks, then fails with ETIMEDOUT; delay only delays", "[preload][actions]") {
  Listener l;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  double t0 = now_ms();
  {
    OnlyRule on(kHang);
    CHECK(::connect(fd, reinterpret_cast<const sockaddr*>(&l.addr), sizeof l.addr) == -1);
    CHECK(errno == ETIMEDOUT);
  }
  CHECK(now_ms() - t0 >= 49.0);
  REQUIRE(::connect(fd, reinterpret_cast<const sockaddr*>(&l.addr), sizeof l.addr) == 0);
  t0 = now_ms();
  {
    OnlyRule on(kDelay);
    CHECK(::send(fd, "late", 4, 0) == 4);
  }
  CHECK(now_ms() - t0 >= 29.0);
  ::close(fd);
}

TEST_CASE("then.so_error: a non-blocking connect learns the error from SO_ERROR", "[preload][actions]") {
  Listener l;
  OnlyRule on(kSoError);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&l.addr), sizeof l.addr);
  if (rc == -1 && errno == EINPROGRESS) {
    pollfd pf{fd, POLLOUT, 0};
    CHECK(::poll(&pf, 1, 1000) == 1);
    int err = 0;
    socklen_t n = sizeof err;
    CHECK(::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &n) == 0);
    CHECK(err == ECONNREFUSED);
    err = -1;
    CHECK(::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &n) == 0);
    CHECK(err == 0);   // reported once, as the kernel does
  } else {
    CHECK(rc == -1);   // it connected at once: the connect itself reports the error
    CHECK(errno == ECONNREFUSED);
  }
  ::close(fd);
  const int blocking = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  CHECK(::connect(blocking, reinterpret_cast<const sockaddr*>(&l.addr), sizeof l.addr) == -1);
  CHECK(errno == ECONNREFUSED);
  ::close(blocking);
}

TEST_CASE("then.fail: the call happened, the program is told it failed", "[preload][actions]") {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int size = 65536;
  {
    OnlyRule on(kThenFail);
    CHECK(::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size) == -1);
    CHECK(errno == EPERM);
    CHECK(::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size) == 0);   // option not matched
  }
  int now = 0;
  socklen_t n = sizeof now;
  CHECK(::getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &now, &n) == 0);
  CHECK(now == 2 * size);   // the kernel doubles what was set: the real call did run
  ::close(fd);
}

TEST_CASE("after_bytes lets exactly N bytes through, then acts", "[preload][triggers]") {
  Listener l;
  TcpPair p(l);
  OnlyRule on(kAfterBytes);
  CHECK(::send(p.client, "012345", 6, 0) == 6);
  CHECK(::send(p.client, "6789abcdef", 10, 0) == 4);   // cut at the 10th byte
  CHECK(::send(p.client, "x", 1, 0) == -1);
  CHECK(errno == EPIPE);
  CHECK(recv_all(p.server, 10) == "0123456789");
}

TEST_CASE("count socket: nth counts per socket, not per run", "[preload][triggers]") {
  Listener l;
  TcpPair a(l), b(l);
  OnlyRule on(kCountSocket);
  std::string seen;
  for (int i = 0; i < 4; ++i) {
    seen += ::send(a.client, "a", 1, 0) == 1 ? "a" : "-";
    seen += ::send(b.client, "b", 1, 0) == 1 ? "b" : "-";
  }
  CHECK(seen == "ab--ab--");
}

TEST_CASE("probability draws from the seed: the faults are the ones chance() predicts", "[preload][triggers]") {
  const std::uint64_t hits0 = segment().rules[kCoin].hits.load();
  const std::uint64_t seed = segment().header.seed;
  std::string seen, predicted;
  {
    OnlyRule on(kCoin);
    for (int i = 0; i < 64; ++i) {
      const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      seen += fd < 0 && errno == EMFILE ? 'F' : '.';
      if (fd >= 0) ::close(fd);
      predicted += filters::chance(seed, kCoin, hits0 + static_cast<std::uint64_t>(i) + 1) < 0.5 ? 'F' : '.';
    }
  }
  CHECK(seen == predicted);
  CHECK(seen.find('F') != std::string::npos);
  CHECK(seen.find('.') != std::string::npos);
}

TEST_CASE("peer CIDR and unix path globs select the calls they name", "[preload][match]") {
  OnlyRule on(-1);
  only_rule(kPeerCidr);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(9);
  a.sin_addr.s_addr = inet_addr("127.0.0.2");
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  CHECK(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == -1);
  CHECK(errno == ENETUNREACH);
  a.sin_addr.s_addr = inet_addr("127.0.0.1");
  CHECK(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == -1);
  CHECK(errno == ECONNREFUSED);   // the real answer: nobody listens on port 9
  ::close(fd);

  only_rule(kUnixPath);
  sockaddr_un u{};
  u.sun_family = AF_UNIX;
  std::snprintf(u.sun_path, sizeof u.sun_path, "/tmp/sockshim-test-%d.sock", getpid());
  fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  CHECK(::connect(fd, reinterpret_cast<sockaddr*>(&u), sizeof u) == -1);
  CHECK(errno == EACCES);
  std::snprintf(u.sun_path, sizeof u.sun_path, "/tmp/other-%d.sock", getpid());
  CHECK(::connect(fd, reinterpret_cast<sockaddr*>(&u), sizeof u) == -1);
  CHECK(errno == ENOENT);
  ::close(fd);
}

TEST_CASE("every fault fired lands in the decision log", "[preload][events]") {
  auto& h = segment().header;
  const std::uint64_t before = h.event_next.load();
  {
    OnlyRule on(kEintr);
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(9);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(::sendto(fd, "x", 1, 0, reinterpret_cast<sockaddr*>(&a), sizeof a) == -1);
    ::close(fd);
  }
  REQUIRE(h.event_next.load() == before + 1);
  const shim::stats::Event& e = segment().events[before % shim::stats::kMaxEvents];
  CHECK(e.seq.load() == before + 1);
  CHECK(e.rule == kEintr);
  CHECK(e.call == static_cast<std::uint16_t>(filters::CallType::kSend));
  CHECK(e.err == EINTR);
  CHECK(e.pid == getpid());
  CHECK(std::string(e.peer) == "127.0.0.1:9");
}
