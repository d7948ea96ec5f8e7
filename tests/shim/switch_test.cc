// The switch on its own: each test drives a fresh Switch with Calls and "real" functions that are
// lambdas (no system call made for the program), over a scripted kernel for the calls the switch
// makes itself (tests/shim/fake_os.h), and reads the counters it left in a real stats segment.
#include <arpa/inet.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "filters/table.h"
#include "shim/stats/segment.h"
#include "shim/switch.h"
#include "tests/catch.h"
#include "tests/shim/fake_os.h"

using shim::Call;
using shim::Op;

namespace {

const shim::Cookie kTcp4 = shim::make_cookie(AF_INET, SOCK_STREAM, IPPROTO_TCP);

// A fresh switch over a fresh segment, with the given rule file (JSON), or none.
struct Rig {
  std::string name;
  shim::stats::Mapping map;
  filters::Table table;
  std::unique_ptr<shim::Switch> sw = std::make_unique<shim::Switch>();

  explicit Rig(const char* rules = nullptr) {
    static int serial = 0;
    fake_os::reset();
    name = "switch-test-" + std::to_string(::getpid()) + "-" + std::to_string(++serial);
    int err = 0;
    REQUIRE(shim::stats::create_segment(name.c_str(), {}, map, &err) == shim::stats::SegmentError::kNone);
    REQUIRE(sw->fds().init());
    sw->set_owner(fake_os::pid);
    sw->set_segment(map.seg);
    if (rules) {
      table = filters::load_table_text(rules, "rules.json");
      sw->set_table(&table);
    } else {
      sw->set_table(nullptr);
    }
    sw->set_ready();
  }
  ~Rig() {
    shim::stats::unmap_segment(map);
    shim::stats::remove_segment(name.c_str());
  }

  // The wrapper's path: hot paths first, the general path when they decline.
  template <class Real>
  auto call(const Call& c, Real real) -> decltype(real()) {
    auto make = [&]() noexcept { return c; };
    auto slow = [&]() noexcept { return sw->general(make, real); };
    return sw->dispatch(make, real, slow);
  }

  std::uint64_t counter(shim::Cookie ck, shim::stats::Counter k) {
    shim::stats::CookieSlot* s = shim::stats::cookie_slot(*map.seg, ck);
    return s ? s->counters[k].load() : 0;
  }
  shim::FdKind kind(int fd) { return shim::FdState{sw->fds().find(fd)->state.load()}.kind(); }
  shim::ConnState conn(int fd) { return shim::FdState{sw->fds().find(fd)->state.load()}.conn(); }
};

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

Call socket_call() { return Call{.op = Op::kSocket, .a = AF_INET, .b = SOCK_STREAM, .c = 0}; }
Call connect_call(int fd, const sockaddr_in& a) {
  return Call{.op = Op::kConnect, .fd = fd, .addr = reinterpret_cast<const sockaddr*>(&a), .addrlen = sizeof a};
}
Call send_call(int fd, std::size_t n) { return Call{.op = Op::kSend, .fn = shim::Fn::kSend, .fd = fd, .len = n}; }
Call recv_call(int fd, std::size_t n) { return Call{.op = Op::kRecv, .fn = shim::Fn::kRecv, .fd = fd, .len = n}; }
Call close_call(int fd) { return Call{.op = Op::kClose, .fd = fd}; }

}  // namespace

TEST_CASE("a socket's life without rules is counted on the hot paths without asking the kernel", "[switch]") {
  Rig rig;
  CHECK(rig.call(socket_call(), [] { return 5; }) == 5);
  const sockaddr_in peer = loopback(8080);
  CHECK(rig.call(connect_call(5, peer), [] { return 0; }) == 0);
  CHECK(rig.call(send_call(5, 100), [] { return ssize_t{100}; }) == 100);
  CHECK(rig.call(recv_call(5, 64), [] { return ssize_t{40}; }) == 40);
  CHECK(rig.call(close_call(5), [] { return 0; }) == 0);
  CHECK(rig.counter(kTcp4, shim::stats::kOpened) == 1);
  CHECK(rig.counter(kTcp4, shim::stats::kConnected) == 1);
  CHECK(rig.counter(kTcp4, shim::stats::kSendCalls) == 1);
  CHECK(rig.counter(kTcp4, shim::stats::kSendBytes) == 100);
  CHECK(rig.counter(kTcp4, shim::stats::kRecvCalls) == 1);
  CHECK(rig.counter(kTcp4, shim::stats::kRecvBytes) == 40);
  CHECK(rig.counter(kTcp4, shim::stats::kClosed) == 1);
  CHECK(fake_os::calls.empty());   // every fact came from the arguments and the results
  CHECK(rig.kind(5) == shim::FdKind::kUnknown);   // closed: the number may be anything next
}

TEST_CASE("a socket the switch did not see made is classified once from the kernel's answers", "[switch]") {
  Rig rig;
  fake_os::fds[9] = fake_os::Fd{.connected = true, .local_port = 40000, .peer_port = 443};
  CHECK(rig.call(send_call(9, 10), [] { return ssize_t{10}; }) == 10);
  CHECK(rig.call(send_call(9, 20), [] { return ssize_t{20}; }) == 20);
  CHECK(fake_os::count("fstat") == 2);   // before and after the questions, once
  CHECK(rig.kind(9) == shim::FdKind::kSocket);
  CHECK(rig.conn(9) == shim::ConnState::kConnected);
  CHECK(rig.counter(kTcp4, shim::stats::kSendBytes) == 30);
  // Inherited (from exec or a parent): its close is the other owner's to count.
  CHECK(rig.call(close_call(9), [] { return 0; }) == 0);
  CHECK(rig.counter(kTcp4, shim::stats::kClosed) == 0);
}

TEST_CASE("a number that names another socket at each question is left unknown", "[switch]") {
  Rig rig;
  fake_os::fds[9] = fake_os::Fd{.inode_flips = true};
  int real_calls = 0;
  CHECK(rig.call(send_call(9, 10), [&] { ++real_calls; return ssize_t{10}; }) == 10);
  CHECK(real_calls == 1);
  CHECK(fake_os::count("fstat") == 6);   // three tries of two
  CHECK(rig.kind(9) == shim::FdKind::kUnknown);
  CHECK(rig.counter(kTcp4, shim::stats::kSendCalls) == 0);
}

TEST_CASE("a descriptor that is no socket is asked about once and then passed through", "[switch]") {
  Rig rig;
  fake_os::fds[3] = fake_os::Fd{.socket = false};
  const Call read{.op = Op::kRead, .fn = shim::Fn::kRead, .fd = 3, .len = 8};
  CHECK(rig.call(read, [] { return ssize_t{8}; }) == 8);
  CHECK(rig.call(read, [] { return ssize_t{8}; }) == 8);
  CHECK(fake_os::count("fstat") == 1);
  CHECK(rig.kind(3) == shim::FdKind::kNotSocket);
  CHECK(rig.call(close_call(3), [] { return 0; }) == 0);
  CHECK(rig.kind(3) == shim::FdKind::kUnknown);   // the number may be a socket next
}

TEST_CASE("sendfile is a write: to a socket a send of the bytes it moved, to a file nothing", "[switch]") {
  Rig rig;
  fake_os::fds[3] = fake_os::Fd{.socket = false};
  off64_t at = 0;
  const Call to_file{.op = Op::kWrite, .fn = shim::Fn::kSendfile, .fd = 3, .a = 4, .len = 1000, .offset = &at};
  CHECK(rig.call(to_file, [] { return ssize_t{1000}; }) == 1000);
  CHECK(rig.call(to_file, [] { return ssize_t{1000}; }) == 1000);
  CHECK(fake_os::count("fstat") == 1);   // then passed through, as a write of a file
  CHECK(rig.kind(3) == shim::FdKind::kNotSocket);
  CHECK(rig.call(socket_call(), [] { return 5; }) == 5);
  const sockaddr_in peer = loopback(8080);
  CHECK(rig.call(connect_call(5, peer), [] { return 0; }) == 0);
  const Call to_socket{.op = Op::kWrite, .fn = shim::Fn::kSendfile, .fd = 5, .a = 4, .len = 70000, .offset = &at};
  CHECK(rig.call(to_socket, [] { return ssize_t{65536}; }) == 65536);
  CHECK(rig.call(to_socket, [] { return ssize_t{0}; }) == 0);   // the file's end
  CHECK(rig.counter(kTcp4, shim::stats::kSendCalls) == 2);
  CHECK(rig.counter(kTcp4, shim::stats::kSendBytes) == 65536);
}

TEST_CASE("a non-blocking connect is pending until SO_ERROR and a peer say it finished", "[switch]") {
  Rig rig;
  rig.call(socket_call(), [] { return 5; });
  fake_os::fds[5] = fake_os::Fd{};
  const sockaddr_in peer = loopback(8080);
  errno = 0;
  CHECK(rig.call(connect_call(5, peer), [] { errno = EINPROGRESS; return -1; }) == -1);
  CHECK(errno == EINPROGRESS);
  CHECK(rig.counter(kTcp4, shim::stats::kConnectPending) == 1);
  CHECK(rig.conn(5) == shim::ConnState::kConnecting);
  int so_error = 0;
  socklen_t n = sizeof so_error;
  const Call ask{.op = Op::kGetsockopt, .fd = 5, .a = SOL_SOCKET, .b = SO_ERROR, .optval = &so_error, .optlen = &n};
  const auto zero = [&] { so_error = 0; return 0; };
  CHECK(rig.call(ask, zero) == 0);   // 0 while the handshake still runs: no peer yet
  CHECK(rig.conn(5) == shim::ConnState::kConnecting);
  fake_os::fds[5].connected = true;
  CHECK(rig.call(ask, zero) == 0);
  CHECK(rig.conn(5) == shim::ConnState::kConnected);
  CHECK(rig.counter(kTcp4, shim::stats::kConnected) == 1);
  CHECK(rig.counter(kTcp4, shim::stats::kConnectFailed) == 0);
}

TEST_CASE("a refuse rule answers connect without the real call; other ports reach it", "[switch]") {
  Rig rig(R"({"rules": [{"name": "no-http", "on": "connect", "match": {"port": 80},
                         "do": {"fail": "ECONNREFUSED"}}]})");
  rig.call(socket_call(), [] { return 5; });
  rig.call(socket_call(), [] { return 6; });
  int real_calls = 0;
  const sockaddr_in http = loopback(80), other = loopback(81);
  errno = 0;
  CHECK(rig.call(connect_call(5, http), [&] { ++real_calls; return 0; }) == -1);
  CHECK(errno == ECONNREFUSED);
  CHECK(real_calls == 0);
  CHECK(rig.counter(kTcp4, shim::stats::kConnectFailed) == 1);
  CHECK(rig.counter(kTcp4, shim::stats::kFaultsInjected) == 1);
  CHECK(rig.map.seg->rules[0].hits.load() == 1);
  CHECK(rig.map.seg->rules[0].fired.load() == 1);
  CHECK(rig.call(connect_call(6, other), [&] { ++real_calls; return 0; }) == 0);
  CHECK(real_calls == 1);
  CHECK(rig.counter(kTcp4, shim::stats::kConnected) == 1);
  CHECK(rig.map.seg->rules[0].hits.load() == 1);
}

TEST_CASE("a send rule's decision is cached per socket until its facts change", "[switch]") {
  Rig rig(R"({"rules": [{"name": "reset-redis", "on": "send", "match": {"port": 6379},
                         "do": {"fail": "ECONNRESET"}}]})");
  rig.call(socket_call(), [] { return 5; });
  const sockaddr_in web = loopback(8080);
  rig.call(connect_call(5, web), [] { return 0; });
  // Not the rule's port: the general path decides once and caches "none"; errno is kept.
  errno = 1234;
  CHECK(rig.call(send_call(5, 10), [] { return ssize_t{10}; }) == 10);
  CHECK(errno == 1234);
  CHECK(rig.sw->fds().find(5)->cached_rule(filters::CallType::kSend) == 1);
  CHECK(rig.call(send_call(5, 10), [] { return ssize_t{10}; }) == 10);
  CHECK(rig.counter(kTcp4, shim::stats::kSendBytes) == 20);
  // A new socket on the rule's port: refused on its first send.
  rig.call(socket_call(), [] { return 7; });
  const sockaddr_in redis = loopback(6379);
  rig.call(connect_call(7, redis), [] { return 0; });
  errno = 0;
  CHECK(rig.call(send_call(7, 10), [] { return ssize_t{10}; }) == -1);
  CHECK(errno == ECONNRESET);
  CHECK(rig.map.seg->rules[0].fired.load() == 1);
}

TEST_CASE("a dup'd socket is counted closed by the close of its last number", "[switch]") {
  Rig rig;
  rig.call(socket_call(), [] { return 5; });
  CHECK(rig.call(Call{.op = Op::kDup, .fd = 5}, [] { return 6; }) == 6);
  CHECK(rig.kind(6) == shim::FdKind::kSocket);
  rig.call(close_call(5), [] { return 0; });
  CHECK(rig.counter(kTcp4, shim::stats::kClosed) == 0);
  CHECK(rig.call(send_call(6, 3), [] { return ssize_t{3}; }) == 3);
  rig.call(close_call(6), [] { return 0; });
  CHECK(rig.counter(kTcp4, shim::stats::kClosed) == 1);
  CHECK(rig.counter(kTcp4, shim::stats::kSendBytes) == 3);
}

TEST_CASE("listen asks the kernel for its port only when rules may need it", "[switch]") {
  SECTION("without rules") {
    Rig rig;
    rig.call(socket_call(), [] { return 5; });
    fake_os::fds[5] = fake_os::Fd{.local_port = 5555};
    CHECK(rig.call(Call{.op = Op::kListen, .fd = 5}, [] { return 0; }) == 0);
    CHECK(fake_os::count("getsockname") == 0);
    CHECK(rig.counter(kTcp4, shim::stats::kListened) == 1);
    CHECK(rig.conn(5) == shim::ConnState::kListening);
  }
  SECTION("with a rule on accept of that port") {
    Rig rig(R"({"rules": [{"name": "slow-accept", "on": "accept", "match": {"port": 5555},
                           "do": {"fail": "EAGAIN"}}]})");
    rig.call(socket_call(), [] { return 5; });
    fake_os::fds[5] = fake_os::Fd{.local_port = 5555};
    CHECK(rig.call(Call{.op = Op::kListen, .fd = 5}, [] { return 0; }) == 0);
    CHECK(fake_os::count("getsockname") == 1);
    CHECK(rig.sw->fds().find(5)->local_port.load() == 5555);
    int real_calls = 0;
    errno = 0;
    CHECK(rig.call(Call{.op = Op::kAccept, .fd = 5}, [&] { ++real_calls; return 6; }) == -1);
    CHECK(errno == EAGAIN);
    CHECK(real_calls == 0);
  }
}

TEST_CASE("a vfork child's close leaves the parent's table alone", "[switch]") {
  Rig rig;
  rig.call(socket_call(), [] { return 5; });
  sockshim_vfork_hint = 1;
  fake_os::pid = fake_os::pid + 1;   // the child: another pid, the parent's memory
  CHECK(rig.call(close_call(5), [] { return 0; }) == 0);
  CHECK(rig.kind(5) == shim::FdKind::kSocket);
  CHECK(rig.counter(kTcp4, shim::stats::kClosed) == 0);
  fake_os::pid = fake_os::pid - 1;   // back in the parent: the hint is cleared, the close counts
  CHECK(rig.call(close_call(5), [] { return 0; }) == 0);
  CHECK(sockshim_vfork_hint == 0);
  CHECK(rig.counter(kTcp4, shim::stats::kClosed) == 1);
}

TEST_CASE("a rate rule paces the socket socket() makes through the kernel's option", "[switch]") {
  Rig rig(R"({"rules": [{"name": "slow", "on": "socket", "match": {"protocol": "tcp"},
                         "do": {"rate": "1MiB/s"}}]})");
  fake_os::fds[5] = fake_os::Fd{};
  CHECK(rig.call(socket_call(), [] { return 5; }) == 5);
  CHECK(fake_os::last_set_level == SOL_SOCKET);
  CHECK(fake_os::last_set_name == SO_MAX_PACING_RATE);
  CHECK(fake_os::last_set_value == 1 << 20);
  CHECK((rig.sw->fds().find(5)->state.load() & shim::FdState::kPaced) != 0);
  CHECK(rig.map.seg->rules[0].armed.load() == 1);
}

TEST_CASE("socket()'s failure is counted open_failed with the real call's errno kept", "[switch]") {
  Rig rig;
  CHECK(rig.call(socket_call(), [] { return 5; }) == 5);   // the first fills the slot cache
  errno = 0;
  CHECK(rig.call(socket_call(), [] { errno = EMFILE; return -1; }) == -1);
  CHECK(errno == EMFILE);
  CHECK(rig.call(socket_call(), [] { return 6; }) == 6);   // the cached, frameless way
  CHECK(rig.counter(kTcp4, shim::stats::kOpened) == 2);
  CHECK(rig.counter(kTcp4, shim::stats::kOpenFailed) == 1);
  CHECK(rig.kind(6) == shim::FdKind::kSocket);
  CHECK(rig.conn(6) == shim::ConnState::kNone);
}

TEST_CASE("only sockets raise the fd table's high-water mark that fork's scan reads up to", "[switch]") {
  Rig rig;
  // A shell reads its script on fd 255: classified as no socket, it must not make every fork's
  // scan (mark_all_inherited) read the 16 pages of entries below it.
  fake_os::fds[255] = fake_os::Fd{.socket = false};
  const Call read{.op = Op::kRead, .fn = shim::Fn::kRead, .fd = 255, .len = 8};
  CHECK(rig.call(read, [] { return ssize_t{8}; }) == 8);
  CHECK(rig.kind(255) == shim::FdKind::kNotSocket);
  CHECK(rig.sw->fds().get_below_high(255) == nullptr);
  // A socket found the same way is below the mark, and the scan finds it.
  fake_os::fds[300] = fake_os::Fd{.connected = true, .peer_port = 80};
  CHECK(rig.call(send_call(300, 4), [] { return ssize_t{4}; }) == 4);
  CHECK(rig.sw->fds().get_below_high(300) != nullptr);
  int found = 0;
  rig.sw->fds().for_each_socket([&](int fd, shim::FdEntry&) { found += fd == 300; });
  CHECK(found == 1);
}

namespace {

// A real loopback TCP connection (the paced tests need the kernel's bytes; the switch's own
// calls still go to fake_os): mine is the program's end, peer the other.
struct TcpPair {
  int mine = -1, peer = -1;
  TcpPair() {
    const int ls = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a = loopback(0);
    socklen_t n = sizeof a;
    REQUIRE(::bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(ls, 1) == 0);
    REQUIRE(::getsockname(ls, reinterpret_cast<sockaddr*>(&a), &n) == 0);
    mine = ::socket(AF_INET, SOCK_STREAM, 0);
    const int room = 1 << 20;   // rmem_max may cut it: queue() asks for no more than 128 KiB + 1
    ::setsockopt(mine, SOL_SOCKET, SO_RCVBUF, &room, sizeof room);
    REQUIRE(::connect(mine, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    peer = ::accept(ls, nullptr, nullptr);
    ::close(ls);
    REQUIRE(peer >= 0);
  }
  ~TcpPair() {
    ::close(mine);
    ::close(peer);
  }
  // Sends want bytes to mine (the peer's write never blocks: MSG_DONTWAIT) and waits until more
  // than two steps of them are queued there (more than a paced read may take).
  void queue(std::size_t want) {
    static char junk[64 << 10];
    for (std::size_t i = 0; i < sizeof junk; ++i) junk[i] = static_cast<char>(i * 7);
    std::size_t sent = 0;
    for (int tries = 0; sent < want && tries < 100; ++tries) {
      const ssize_t r = ::send(peer, junk, std::min(sizeof junk, want - sent), MSG_DONTWAIT);
      if (r > 0) sent += static_cast<std::size_t>(r);
      else ::usleep(1000);
    }
    REQUIRE(sent == want);
    int queued = 0;
    const std::size_t enough = 2 * (64 << 10) + 1;
    for (int tries = 0; tries < 1000 && static_cast<std::size_t>(queued) < enough; ++tries) {
      ::ioctl(mine, FIONREAD, &queued);
      if (static_cast<std::size_t>(queued) < enough) ::usleep(1000);
    }
    REQUIRE(static_cast<std::size_t>(queued) >= enough);
  }
};

double seconds_since(const timespec& t0) {
  timespec t{};
  ::clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<double>(t.tv_sec - t0.tv_sec) + static_cast<double>(t.tv_nsec - t0.tv_nsec) / 1e9;
}

timespec now() {
  timespec t{};
  ::clock_gettime(CLOCK_MONOTONIC, &t);
  return t;
}

constexpr const char* kPacedRules = R"({"rules": [{"name": "slow", "on": "socket",
    "match": {"protocol": "tcp"}, "do": {"rate": "1MiB/s"}}]})";
constexpr std::size_t kStep = 64 << 10;   // at 1 MiB/s a read takes at most 64 KiB: 62.5 ms' worth
constexpr double kStepSeconds = 0.055;    // 62.5 ms, less a timer's slack

// The switch learns of pair.mine as the socket() a rate rule paces.
void pace(Rig& rig, const TcpPair& pair) {
  fake_os::fds[pair.mine] = fake_os::Fd{.connected = true};
  const int fd = pair.mine;
  REQUIRE(rig.call(socket_call(), [fd] { return fd; }) == fd);
  REQUIRE((rig.sw->fds().find(fd)->state.load() & shim::FdState::kPaced) != 0);
}

}  // namespace

TEST_CASE("recvmmsg on a paced socket is held back: one message of one step, then a wait", "[switch][rate]") {
  Rig rig(kPacedRules);
  TcpPair pair;
  pace(rig, pair);
  pair.queue(3 * kStep);
  static char bufs[4][kStep];
  iovec iov[4];
  mmsghdr m[4]{};
  for (int i = 0; i < 4; ++i) {
    iov[i] = {bufs[i], kStep};
    m[i].msg_hdr.msg_iov = &iov[i];
    m[i].msg_hdr.msg_iovlen = 1;
  }
  // MSG_WAITFORONE: only the first message waits (else the call would wait for all four).
  const Call c{.op = Op::kRecvmmsg, .fn = shim::Fn::kRecvmmsg, .fd = pair.mine, .mmsg = m, .vlen = 4, .flags = MSG_WAITFORONE};
  const auto real = [&] { return ::recvmmsg(pair.mine, m, 4, MSG_WAITFORONE, nullptr); };
  // Unpaced, one call would take all three steps queued, in three messages.
  timespec t0 = now();
  CHECK(rig.call(c, real) == 1);
  CHECK(m[0].msg_len == kStep);
  CHECK(seconds_since(t0) < kStepSeconds);   // the first read is free
  t0 = now();
  CHECK(rig.call(c, real) == 1);
  CHECK(m[0].msg_len == kStep);
  CHECK(seconds_since(t0) >= kStepSeconds);   // paid for the first step's 64 KiB
  CHECK(rig.counter(kTcp4, shim::stats::kRecvBytes) == 2 * kStep);
}

TEST_CASE("MSG_PEEK on a paced socket waits as a read, sees what the read takes, and costs nothing", "[switch][rate]") {
  Rig rig(kPacedRules);
  TcpPair pair;
  pace(rig, pair);
  pair.queue(3 * kStep);
  static char first[4 * kStep], peeked[4 * kStep], taken[4 * kStep];
  const auto recv_into = [&](char* buf, int flags) {
    const Call c{.op = Op::kRecv, .fn = shim::Fn::kRecv, .fd = pair.mine, .buf = buf, .len = 4 * kStep, .flags = flags};
    return rig.call(c, [&] { return ::recv(pair.mine, buf, 4 * kStep, flags); });
  };
  CHECK(recv_into(first, 0) == static_cast<ssize_t>(kStep));   // free
  timespec t0 = now();
  CHECK(recv_into(peeked, MSG_PEEK) == static_cast<ssize_t>(kStep));   // cut to one step
  CHECK(seconds_since(t0) >= kStepSeconds);                         // waited for the first read's due time
  t0 = now();
  CHECK(recv_into(taken, 0) == static_cast<ssize_t>(kStep));
  CHECK(seconds_since(t0) < kStepSeconds);   // the peek took nothing, so cost nothing
  CHECK(std::memcmp(peeked, taken, kStep) == 0);
  t0 = now();
  CHECK(recv_into(taken, MSG_PEEK) == static_cast<ssize_t>(kStep));
  CHECK(seconds_since(t0) >= kStepSeconds);   // the read after the peek was charged
}

TEST_CASE("a socket inherited across execve with a rate rule's pacing rate is paced again", "[switch][rate]") {
  Rig rig(R"({"rules": [{"name": "slow", "on": "connect", "match": {"protocol": "tcp"},
                         "do": {"rate": "1MiB/s"}}]})");
  fake_os::fds[9] = fake_os::Fd{.connected = true, .peer_port = 443, .pacing_rate = 1 << 20};    // the rule's
  fake_os::fds[10] = fake_os::Fd{.connected = true, .peer_port = 443};                           // unpaced
  fake_os::fds[11] = fake_os::Fd{.connected = true, .peer_port = 443, .pacing_rate = 512 << 10};  // the program's own
  for (int fd : {9, 10, 11}) CHECK(rig.call(send_call(fd, 10), [] { return ssize_t{10}; }) == 10);
  const auto paced = [&](int fd) { return (rig.sw->fds().find(fd)->state.load() & shim::FdState::kPaced) != 0; };
  CHECK(paced(9));
  CHECK(rig.sw->fds().find(9)->recv_rate.load() == 1u << 20);
  CHECK_FALSE(paced(10));
  CHECK_FALSE(paced(11));
  CHECK(rig.map.seg->rules[0].armed.load() == 0);   // counted by the image that paced it
}

// The decisions a socket starts with (shim/rule_profile.h, RuleStarts) are computed ahead for a
// family and a port no rule names, and written at accept, listen and dup (and asked inline by
// connect): they may say "none" only where the table's own look-up finds no rule that could
// match. Checked against Table::may_match for every call type, over families and ports that rule
// files of each kind name or do not.
TEST_CASE("the rule decisions computed ahead never say none where a rule may match", "[switch][rules]") {
  const char* files[] = {
      R"({"rules": [{"name": "p", "on": ["connect", "accept", "send", "recv", "close"], "match": {"port": 20000},
                     "do": {"fail": "EIO"}}]})",
      R"({"rules": [{"name": "f", "on": ["connect", "accept", "send", "recv", "close"], "match": {"family": "inet6"},
                     "do": {"fail": "EIO"}}]})",
      R"({"rules": [{"name": "a", "on": "connect", "match": {"port": 80}, "do": {"fail": "EIO"}},
                    {"name": "b", "on": "send", "match": {"family": "unix"}, "do": {"fail": "EIO"}},
                    {"name": "c", "on": "close", "do": {"fail": "EIO"}},
                    {"name": "d", "on": "recv", "match": {"port": 5555, "family": "inet"}, "do": {"fail": "EIO"}}]})",
      R"({"rules": [{"name": "a", "on": "send", "match": {"family": "inet"}, "do": {"fail": "EIO"}},
                    {"name": "b", "on": ["send", "accept"], "match": {"family": "inet6", "port": 443},
                     "do": {"fail": "EIO"}},
                    {"name": "c", "on": "recv", "match": {"family": "unix"}, "do": {"fail": "EIO"}},
                    {"name": "d", "on": ["recv", "close"], "match": {"type": "dgram"}, "do": {"fail": "EIO"}}]})",
  };
  const int families[] = {AF_INET, AF_INET6, AF_UNIX, 0, 47, 48, 100, 0xffff};
  const int ports[] = {-1, 0, 1, 80, 81, 5555, 20000, 20001, 65535};
  for (const char* text : files) {
    const filters::Table table = filters::load_table_text(text, "rules.json");
    auto starts = std::make_unique<shim::RuleStarts>();
    starts->build(table);
    for (const int family : families)
      for (const int port : ports)
        for (std::size_t i = 0; i < filters::kCallTypeCount; ++i) {
          const auto t = static_cast<filters::CallType>(i);
          const bool none = starts->none(starts->row(family, port), t);
          INFO("rules " << text << " family " << family << " port " << port << " type " << i);
          if (none) CHECK_FALSE(table.may_match(t, family, port));
          // A port no rule names and a family no rule concerns: "none" is what makes the hot
          // paths hot, so it must be there too.
          if (!table.may_match(t, family, port) && !table.may_match(t, family, -1) &&
              !(port >= 0 && port <= 65535 && (starts->named[port / 64] >> (port % 64)) & 1u))
            CHECK(none);
        }
  }
}

// The same on the switch's paths: sockets whose decisions were started at accept, listen or dup
// still meet the rules that concern them.
TEST_CASE("rules still fire on sockets whose decisions were started ahead", "[switch][rules]") {
  SECTION("a family rule on an accepted socket's send, not on another family's") {
    Rig rig(R"({"rules": [{"name": "inet-send", "on": "send", "match": {"family": "inet"},
                           "do": {"fail": "ECONNRESET"}},
                          {"name": "v6-close", "on": "close", "match": {"family": "inet6"}, "do": {"fail": "EIO"}}]})");
    rig.call(socket_call(), [] { return 5; });
    fake_os::fds[5] = fake_os::Fd{.local_port = 7000};
    CHECK(rig.call(Call{.op = Op::kListen, .fd = 5}, [] { return 0; }) == 0);
    CHECK(rig.call(Call{.op = Op::kAccept, .fd = 5}, [] { return 6; }) == 6);
    CHECK(rig.sw->fds().find(6)->cached_rule(filters::CallType::kClose) == 1);   // started: none
    int real_calls = 0;
    errno = 0;
    CHECK(rig.call(send_call(6, 10), [&] { ++real_calls; return ssize_t{10}; }) == -1);
    CHECK(errno == ECONNRESET);
    CHECK(real_calls == 0);
    CHECK(rig.call(close_call(6), [] { return 0; }) == 0);
    CHECK(rig.map.seg->rules[0].fired.load() == 1);
    CHECK(rig.map.seg->rules[1].hits.load() == 0);
  }
  SECTION("a port rule on the listener's port: accept, the accepted socket's close and its dup's") {
    Rig rig(R"({"rules": [{"name": "close-7000", "on": "close", "match": {"port": 7000}, "do": {"fail": "EIO"}},
                          {"name": "accept-7001", "on": "accept", "match": {"port": 7001},
                           "do": {"fail": "EAGAIN"}}]})");
    rig.call(socket_call(), [] { return 5; });
    fake_os::fds[5] = fake_os::Fd{.local_port = 7000};
    CHECK(rig.call(Call{.op = Op::kListen, .fd = 5}, [] { return 0; }) == 0);
    CHECK(rig.call(Call{.op = Op::kAccept, .fd = 5}, [] { return 6; }) == 6);
    CHECK(rig.call(Call{.op = Op::kDup, .fd = 6}, [] { return 8; }) == 8);
    errno = 0;
    CHECK(rig.call(close_call(8), [] { return 0; }) == -1);
    CHECK(errno == EIO);
    errno = 0;
    CHECK(rig.call(close_call(6), [] { return 0; }) == -1);
    CHECK(errno == EIO);
    CHECK(rig.map.seg->rules[0].fired.load() == 2);
    // A listener on the other rule's port: its accept is refused.
    rig.call(socket_call(), [] { return 9; });
    fake_os::fds[9] = fake_os::Fd{.local_port = 7001};
    CHECK(rig.call(Call{.op = Op::kListen, .fd = 9}, [] { return 0; }) == 0);
    int real_calls = 0;
    errno = 0;
    CHECK(rig.call(Call{.op = Op::kAccept, .fd = 9}, [&] { ++real_calls; return 10; }) == -1);
    CHECK(errno == EAGAIN);
    CHECK(real_calls == 0);
  }
  SECTION("without rules, the same paths start nothing") {
    Rig rig;
    rig.call(socket_call(), [] { return 5; });
    fake_os::fds[5] = fake_os::Fd{.local_port = 7000};
    CHECK(rig.call(Call{.op = Op::kListen, .fd = 5}, [] { return 0; }) == 0);
    CHECK(rig.call(Call{.op = Op::kAccept, .fd = 5}, [] { return 6; }) == 6);
    CHECK(rig.call(Call{.op = Op::kDup, .fd = 6}, [] { return 8; }) == 8);
    CHECK(rig.call(connect_call(rig.call(socket_call(), [] { return 9; }), loopback(80)), [] { return 0; }) == 0);
    CHECK(rig.kind(6) == shim::FdKind::kSocket);
    CHECK(rig.counter(kTcp4, shim::stats::kAccepted) == 1);
    CHECK(rig.counter(kTcp4, shim::stats::kConnected) == 1);
  }
  SECTION("a family rule on connect, asked per call") {
    Rig rig(R"({"rules": [{"name": "v4", "on": "connect", "match": {"family": "inet"},
                           "do": {"fail": "ENETUNREACH"}}]})");
    rig.call(socket_call(), [] { return 5; });
    int real_calls = 0;
    errno = 0;
    CHECK(rig.call(connect_call(5, loopback(443)), [&] { ++real_calls; return 0; }) == -1);
    CHECK(errno == ENETUNREACH);
    CHECK(real_calls == 0);
  }
}
