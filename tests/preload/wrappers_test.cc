// One case per wrapped symbol, checked against the list the wrappers are generated from
// (shim/symbols.def): the call passes through unchanged without a rule, and with its call type's
// rule enabled it fails with that rule's errno without the real call happening.
#include <dlfcn.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstring>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "preload_env.h"
#include "shim/stats/segment.h"

extern "C" ssize_t __recv_chk(int, void*, size_t, size_t, int);
extern "C" ssize_t __recvfrom_chk(int, void*, size_t, size_t, int, sockaddr*, socklen_t*);
extern "C" ssize_t __read_chk(int, void*, size_t, size_t);
extern "C" int fcntl64(int, int, ...);

using filters::CallType;
using namespace preload_test;
namespace st = shim::stats;

namespace {

const char* const kSymbols[] = {
#define SHIM_SYMBOL(ret, name, params, args, call) #name,
#define SHIM_SYMBOL_VA(ret, name) #name,
#include "shim/symbols.def"
#undef SHIM_SYMBOL
#undef SHIM_SYMBOL_VA
};

struct Case {
  const char* symbol;
  CallType type;   // kCount: no rule can act on it
  int injected;    // errno (or EAI_* for getaddrinfo) of that call type's rule
  // Runs the call once; `inject` says whether the rule is on. Asserts on its own.
  std::function<void(bool inject)> run;
};

bool nothing_pending(int fd) {
  char b;
  return ::recv(fd, &b, 1, MSG_DONTWAIT) == -1 && errno == EAGAIN;
}

// Checks an injected failure: -1 and the rule's errno.
void check_injected(long rc, int want) {
  const int got = errno;
  CHECK(rc == -1);
  INFO("got errno " << got << " (" << std::strerror(got) << "), want " << want);
  CHECK(got == want);
}

// A send-family call on a connected pair: bytes arrive, or nothing arrives when injected.
Case send_case(const char* sym, std::function<long(int fd, const char* p, size_t n)> call) {
  return {sym, CallType::kSend, EPIPE, [call](bool inject) {
            Listener l;
            TcpPair p(l);
            const auto before = counter(kTcp, st::kSendBytes);
            const long rc = call(p.client, "hello", 5);
            if (inject) {
              check_injected(rc, EPIPE);
              CHECK(nothing_pending(p.server));
              return;
            }
            CHECK(rc == 5);
            char buf[8] = {};
            CHECK(::recv(p.server, buf, sizeof buf, 0) == 5);
            CHECK(std::string(buf) == "hello");
            CHECK(counter(kTcp, st::kSendBytes) - before == 5);
          }};
}

// sendfile's bytes come from a file (a memfd holding p), read from an offset it moves on. A
// sendfile from file to file beside it is the real call, counted nowhere.
using SendfileFn = ssize_t (*)(int, int, off64_t*, size_t);
long send_from_file(SendfileFn fn, int fd, const char* p, size_t n) {
  const int file = ::memfd_create("wrappers_test", MFD_CLOEXEC);
  const int copy = ::memfd_create("wrappers_test_copy", MFD_CLOEXEC);
  REQUIRE(file >= 0);
  REQUIRE(::write(file, p, n) == static_cast<long>(n));
  const auto sent = counter(kTcp, st::kSendCalls);
  off64_t at = 0;
  CHECK(fn(copy, file, &at, n) == static_cast<long>(n));
  CHECK(at == static_cast<off64_t>(n));
  CHECK(counter(kTcp, st::kSendCalls) == sent);
  at = 0;
  const long rc = fn(fd, file, &at, n);
  CHECK(at == (rc > 0 ? rc : 0));   // an injected failure moved nothing
  ::close(file);
  ::close(copy);
  return rc;
}

// A receive-family call: the bytes are read, or stay in the socket when injected.
Case recv_case(const char* sym, std::function<long(int fd, char* p, size_t n)> call) {
  return {sym, CallType::kRecv, ECONNRESET, [call](bool inject) {
            Listener l;
            TcpPair p(l);
            REQUIRE(::send(p.client, "world", 5, 0) == 5);
            const auto before = counter(kTcp, st::kRecvBytes);
            char buf[8] = {};
            const long rc = call(p.server, buf, 5);
            if (inject) {
              check_injected(rc, ECONNRESET);
              only_rule(-1);
              CHECK(::recv(p.server, buf, sizeof buf, 0) == 5);   // still there
              return;
            }
            CHECK(rc == 5);
            CHECK(std::string(buf) == "world");
            CHECK(counter(kTcp, st::kRecvBytes) - before == 5);
          }};
}

// dup-like calls: the copy names the same socket, and closing both counts one close.
Case dup_case(const char* sym, std::function<int(int fd)> call) {
  return {sym, CallType::kCount, 0, [call](bool) {
            Listener l;
            TcpPair p(l);
            const auto sent = counter(kTcp, st::kSendCalls);
            const int copy = call(p.client);
            REQUIRE(copy >= 0);
            CHECK(::write(copy, "x", 1) == 1);
            CHECK(counter(kTcp, st::kSendCalls) - sent == 1);
            const auto closed = counter(kTcp, st::kClosed);
            ::close(copy);
            CHECK(counter(kTcp, st::kClosed) == closed);   // the socket is still open
            ::close(p.client);
            p.client = ::socket(AF_INET, SOCK_STREAM, 0);  // for TcpPair's destructor
            CHECK(counter(kTcp, st::kClosed) - closed == 1);
          }};
}

std::vector<Case> cases() {
  std::vector<Case> v;
  v.push_back({"socket", CallType::kSocket, EMFILE, [](bool inject) {
                 const auto opened = counter(kTcp, st::kOpened);
                 const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
                 if (inject) {
                   check_injected(fd, EMFILE);
                   return;
                 }
                 CHECK(fd >= 0);
                 CHECK(counter(kTcp, st::kOpened) - opened == 1);
                 ::close(fd);
               }});
  v.push_back({"socketpair", CallType::kSocket, EMFILE, [](bool inject) {
                 int sv[2] = {-1, -1};
                 const auto opened = counter(kUnixStream, st::kOpened);
                 const int rc = ::socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
                 if (inject) {
                   check_injected(rc, EMFILE);
                   return;
                 }
                 CHECK(rc == 0);
                 CHECK(counter(kUnixStream, st::kOpened) - opened == 2);
                 ::close(sv[0]);
                 ::close(sv[1]);
               }});
  v.push_back({"connect", CallType::kConnect, ECONNREFUSED, [](bool inject) {
                 Listener l;
                 const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
                 const auto failed = counter(kTcp, st::kConnectFailed);
                 const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&l.addr), sizeof l.addr);
                 if (inject) {
                   check_injected(rc, ECONNREFUSED);
                   CHECK(counter(kTcp, st::kConnectFailed) - failed == 1);
                   only_rule(-1);
                   pollfd pending{l.fd, POLLIN, 0};
                   CHECK(poll(&pending, 1, 100) == 0);   // no connection ever reached the listener
                 } else {
                   CHECK(rc == 0);
                 }
                 ::close(fd);
               }});
  v.push_back({"bind", CallType::kBind, EADDRINUSE, [](bool inject) {
                 const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
                 sockaddr_in a{};
                 a.sin_family = AF_INET;
                 a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                 const int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
                 socklen_t n = sizeof a;
                 getsockname(fd, reinterpret_cast<sockaddr*>(&a), &n);
                 if (inject) {
                   check_injected(rc, EADDRINUSE);
                   CHECK(a.sin_addr.s_addr == 0);   // not bound
                 } else {
                   CHECK(rc == 0);
                   CHECK(a.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
                 }
                 ::close(fd);
               }});
  v.push_back({"listen", CallType::kListen, ENOBUFS, [](bool inject) {
                 const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
                 const auto listened = counter(kTcp, st::kListened);
                 const auto failed = counter(kTcp, st::kListenFailed);
                 const int rc = ::listen(fd, 1);
                 if (inject) {
                   check_injected(rc, ENOBUFS);
                   CHECK(counter(kTcp, st::kListenFailed) - failed == 1);
                 } else {
                   CHECK(rc == 0);
                   CHECK(counter(kTcp, st::kListened) - listened == 1);
                 }
                 ::close(fd);
               }});
  for (const char* sym : {"accept", "accept4"}) {
    const bool four = std::string(sym) == "accept4";
    v.push_back({sym, CallType::kAccept, ECONNABORTED, [four](bool inject) {
                   Listener l;
                   const int c = ::socket(AF_INET, SOCK_STREAM, 0);
                   REQUIRE(::connect(c, reinterpret_cast<const sockaddr*>(&l.addr), sizeof l.addr) == 0);
                   const auto accepted = counter(kTcp, st::kAccepted);
                   const int s = four ? ::accept4(l.fd, nullptr, nullptr, SOCK_CLOEXEC)
                                      : ::accept(l.fd, nullptr, nullptr);
                   if (inject) {
                     check_injected(s, ECONNABORTED);
                     only_rule(-1);
                     const int later = ::accept(l.fd, nullptr, nullptr);   // still queued
                     CHECK(later >= 0);
                     ::close(later);
                   } else {
                     CHECK(s >= 0);
                     CHECK(counter(kTcp, st::kAccepted) - accepted == 1);
                     ::close(s);
                   }
                   ::close(c);
                 }});
  }
  v.push_back({"close", CallType::kClose, EIO, [](bool inject) {
                 const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
                 const auto closed = counter(kTcp, st::kClosed);
                 const int rc = ::close(fd);
                 if (inject) {
                   check_injected(rc, EIO);
                   CHECK(::fcntl(fd, F_GETFD) != -1);   // still open
                   only_rule(-1);
                   CHECK(::close(fd) == 0);
                 } else {
                   CHECK(rc == 0);
                   CHECK(counter(kTcp, st::kClosed) - closed == 1);
                 }
               }});
  v.push_back({"shutdown", CallType::kShutdown, ENOTCONN, [](bool inject) {
                 Listener l;
                 TcpPair p(l);
                 const int rc = ::shutdown(p.client, SHUT_WR);
                 char b;
                 if (inject) {
                   check_injected(rc, ENOTCONN);
                   CHECK(nothing_pending(p.server));   // no FIN was sent
                 } else {
                   CHECK(rc == 0);
                   CHECK(::recv(p.server, &b, 1, 0) == 0);   // EOF
                 }
               }});
  v.push_back({"getsockopt", CallType::kGetsockopt, ENOPROTOOPT, [](bool inject) {
                 const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
                 int type = 0;
                 socklen_t n = sizeof type;
                 const int rc = ::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &n);
                 if (inject) {
                   check_injected(rc, ENOPROTOOPT);
                 } else {
                   CHECK(rc == 0);
                   CHECK(type == SOCK_DGRAM);
                 }
                 ::close(fd);
               }});
  v.push_back({"setsockopt", CallType::kSetsockopt, EINVAL, [](bool inject) {
                 const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
                 const int on = 1;
                 const int rc = ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
                 int got = 0;
                 socklen_t n = sizeof got;
                 only_rule(-1);
                 ::getsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &got, &n);
                 if (inject) {
                   check_injected(rc, EINVAL);
                   CHECK(got == 0);   // not set
                 } else {
                   CHECK(rc == 0);
                   CHECK(got == 1);
                 }
                 ::close(fd);
               }});
  v.push_back(send_case("send", [](int fd, const char* p, size_t n) { return ::send(fd, p, n, 0); }));
  v.push_back(send_case("sendto", [](int fd, const char* p, size_t n) {
    return ::sendto(fd, p, n, 0, nullptr, 0);
  }));
  v.push_back(send_case("sendmsg", [](int fd, const char* p, size_t n) {
    iovec iov{const_cast<char*>(p), n};
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    return ::sendmsg(fd, &m, 0);
  }));
  v.push_back(send_case("sendmmsg", [](int fd, const char* p, size_t n) -> long {
    iovec iov{const_cast<char*>(p), n};
    mmsghdr m{};
    m.msg_hdr.msg_iov = &iov;
    m.msg_hdr.msg_iovlen = 1;
    const int rc = ::sendmmsg(fd, &m, 1, 0);
    return rc == 1 ? static_cast<long>(m.msg_len) : rc;
  }));
  v.push_back(send_case("write", [](int fd, const char* p, size_t n) { return ::write(fd, p, n); }));
  v.push_back(send_case("writev", [](int fd, const char* p, size_t n) {
    iovec iov[2] = {{const_cast<char*>(p), 2}, {const_cast<char*>(p + 2), n - 2}};
    return ::writev(fd, iov, 2);
  }));
  // With _FILE_OFFSET_BITS=64 the header maps sendfile to sendfile64, so look the plain name up.
  v.push_back(send_case("sendfile", [](int fd, const char* p, size_t n) {
    return send_from_file(reinterpret_cast<SendfileFn>(dlsym(RTLD_DEFAULT, "sendfile")), fd, p, n);
  }));
  v.push_back(send_case("sendfile64", [](int fd, const char* p, size_t n) {
    return send_from_file(&::sendfile64, fd, p, n);
  }));
  v.push_back(recv_case("recv", [](int fd, char* p, size_t n) { return ::recv(fd, p, n, MSG_WAITALL); }));
  v.push_back(recv_case("recvfrom", [](int fd, char* p, size_t n) {
    return ::recvfrom(fd, p, n, MSG_WAITALL, nullptr, nullptr);
  }));
  v.push_back(recv_case("recvmsg", [](int fd, char* p, size_t n) {
    iovec iov{p, n};
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    return ::recvmsg(fd, &m, MSG_WAITALL);
  }));
  v.push_back(recv_case("recvmmsg", [](int fd, char* p, size_t n) -> long {
    iovec iov{p, n};
    mmsghdr m{};
    m.msg_hdr.msg_iov = &iov;
    m.msg_hdr.msg_iovlen = 1;
    const int rc = ::recvmmsg(fd, &m, 1, MSG_WAITALL, nullptr);
    return rc == 1 ? static_cast<long>(m.msg_len) : rc;
  }));
  v.push_back(recv_case("read", [](int fd, char* p, size_t n) { return ::read(fd, p, n); }));
  v.push_back(recv_case("readv", [](int fd, char* p, size_t n) {
    iovec iov{p, n};
    return ::readv(fd, &iov, 1);
  }));
  v.push_back(recv_case("__recv_chk", [](int fd, char* p, size_t n) {
    return __recv_chk(fd, p, n, 8, MSG_WAITALL);
  }));
  v.push_back(recv_case("__recvfrom_chk", [](int fd, char* p, size_t n) {
    return __recvfrom_chk(fd, p, n, 8, MSG_WAITALL, nullptr, nullptr);
  }));
  v.push_back(recv_case("__read_chk", [](int fd, char* p, size_t n) { return __read_chk(fd, p, n, 8); }));
  v.push_back(dup_case("dup", [](int fd) { return ::dup(fd); }));
  v.push_back(dup_case("dup2", [](int fd) { return ::dup2(fd, 900); }));
  v.push_back(dup_case("dup3", [](int fd) { return ::dup3(fd, 901, O_CLOEXEC); }));
  // With _FILE_OFFSET_BITS=64 the header maps fcntl to fcntl64, so look the plain name up.
  v.push_back(dup_case("fcntl", [](int fd) {
    auto plain = reinterpret_cast<int (*)(int, int, ...)>(dlsym(RTLD_DEFAULT, "fcntl"));
    return plain(fd, F_DUPFD_CLOEXEC, 500);
  }));
  v.push_back(dup_case("fcntl64", [](int fd) { return fcntl64(fd, F_DUPFD, 600); }));
  v.push_back({"close_range", CallType::kCount, 0, [](bool) {
                 const int a = ::socket(AF_INET, SOCK_STREAM, 0);
                 const int fd = ::dup2(a, 950);
                 ::close(a);   // 950 alone names the socket now
                 const auto closed = counter(kTcp, st::kClosed);
                 CHECK(::close_range(950, 960, 0) == 0);
                 CHECK(counter(kTcp, st::kClosed) - closed == 1);
                 CHECK(::fcntl(fd, F_GETFD) == -1);
               }});
  v.push_back({"getaddrinfo", CallType::kGetaddrinfo, EAI_AGAIN, [](bool inject) {
                 addrinfo hints{};
                 hints.ai_flags = AI_NUMERICHOST;
                 addrinfo* res = nullptr;
                 const int rc = ::getaddrinfo("127.0.0.1", "80", &hints, &res);
                 if (inject) {
                   CHECK(rc == EAI_AGAIN);
                   CHECK(res == nullptr);
                 } else {
                   CHECK(rc == 0);
                   REQUIRE(res != nullptr);
                   freeaddrinfo(res);
                 }
               }});
  v.push_back({"fork", CallType::kCount, 0, [](bool) {
                 const pid_t pid = ::fork();
                 if (pid == 0) {
                   const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
                   ::close(fd);
                   std::exit(0);   // exit(), so the child's record is completed
                 }
                 REQUIRE(pid > 0);
                 int status = 0;
                 REQUIRE(waitpid(pid, &status, 0) == pid);
                 CHECK(WIFEXITED(status));
                 const st::ProcessRecord* r = st::find_process(segment(), pid);
                 REQUIRE(r != nullptr);
                 CHECK(r->ppid == getpid());
                 CHECK(r->state.load() == st::kProcExited);
                 CHECK(r->exit_status == 0);
               }});
  return v;
}

}  // namespace

TEST_CASE("every wrapped symbol has a case", "[preload][wrappers]") {
  std::set<std::string> covered;
  for (const Case& c : cases()) covered.insert(c.symbol);
  for (const char* s : kSymbols) {
    INFO("symbol " << s << " from shim/symbols.def has no case in wrappers_test.cc");
    CHECK(covered.count(s) == 1);
  }
}

TEST_CASE("each wrapped symbol passes through without a rule", "[preload][wrappers]") {
  only_rule(-1);
  for (const Case& c : cases()) {
    INFO("symbol " << c.symbol);
    c.run(false);
  }
}

TEST_CASE("each wrapped symbol fails with its rule's errno, without the real call", "[preload][wrappers]") {
  for (const Case& c : cases()) {
    if (c.type == CallType::kCount) continue;
    INFO("symbol " << c.symbol);
    const auto injected_before = st::cookie_slot(segment(), kTcp)->counters[st::kFaultsInjected].load();
    const auto fired_before = segment().rules[rule_for(c.type)].fired.load();
    only_rule(rule_for(c.type));
    c.run(true);
    only_rule(-1);
    CHECK(segment().rules[rule_for(c.type)].fired.load() - fired_before == 1);
    (void)injected_before;
  }
}
