// One intercepted call, as plain values: what the wrapper hands the Switch.
#pragma once

#include <netdb.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include <cstddef>
#include <cstdint>

#include "filters/call_type.h"

namespace shim {

// Which libc function (family) was called. Several ops share a filters::CallType; the op tells
// the Switch how to read the arguments and the result.
enum class Op : std::uint8_t {
  kSocket,       // a=domain b=type c=protocol
  kSocketpair,   // a,b,c as socket; sv
  kConnect,      // fd, addr
  kBind,         // fd, addr
  kListen,       // fd
  kAccept,       // fd (the listener); accept and accept4
  kClose,        // fd
  kShutdown,     // fd
  kGetsockopt,   // fd, a=level b=name, optval/optlen
  kSetsockopt,   // fd, a=level b=name c=optlen, optin
  kSend,         // fd, addr (sendto/sendmsg destination, may be null); result is bytes
  kSendmmsg,     // fd, mmsg/vlen; result is messages
  kRecv,         // fd; result is bytes
  kRecvmmsg,     // fd, mmsg; result is messages
  kRead,         // read/readv/__read_chk: recv only when fd is a socket
  kWrite,        // write/writev/sendfile: send only when fd (sendfile's out_fd) is a socket
  kDup,          // fd → result is the new fd (dup, F_DUPFD, F_DUPFD_CLOEXEC)
  kDup2,         // fd → a (dup2, dup3)
  kCloseRange,   // a=first b=last c=flags
  kGetaddrinfo,  // host, service, hints
  kFork,
};

// The exact libc function behind a transfer op, for the actions that make the real call
// themselves with changed arguments (short, duplicate, corrupt). kOther: every other function.
enum class Fn : std::uint8_t {
  kOther,
  kSend, kSendto, kSendmsg, kSendmmsg, kWrite, kWritev,
  kRecv, kRecvfrom, kRecvmsg, kRecvmmsg, kRead, kReadv,
  kRecvChk, kRecvfromChk, kReadChk,
  kSendfile,   // sendfile and sendfile64 (one function on x86-64): Op::kWrite on a socket
};

struct Call {
  Op op;
  Fn fn = Fn::kOther;
  int fd = -1;
  const sockaddr* addr = nullptr;   // connect, bind, sendto/sendmsg destination
  socklen_t addrlen = 0;
  int a = 0, b = 0, c = 0;
  int* sv = nullptr;                // socketpair
  void* optval = nullptr;           // getsockopt
  socklen_t* optlen = nullptr;
  const void* optin = nullptr;      // setsockopt's value (its length in c)
  struct mmsghdr* mmsg = nullptr;   // sendmmsg, recvmmsg
  unsigned vlen = 0;                // sendmmsg, recvmmsg
  void* buf = nullptr;              // send/recv/read/write families: the caller's bytes
  std::size_t len = 0;
  std::size_t buflen = 0;           // the _chk variants' object size
  int flags = 0;
  const struct iovec* iov = nullptr;   // readv/writev
  int iovcnt = 0;
  struct msghdr* msg = nullptr;     // sendmsg/recvmsg
  sockaddr* from = nullptr;         // recvfrom's out-parameters
  socklen_t* fromlen = nullptr;
  struct timespec* timeout = nullptr;  // recvmmsg
  const char* host = nullptr;       // getaddrinfo
  const char* service = nullptr;
  const struct addrinfo* hints = nullptr;
  // sendfile: the file it reads is `a`, the bytes `len`; where it reads from (null: the file's
  // own position, which the call moves on).
  off64_t* offset = nullptr;
};

constexpr filters::CallType call_type_of(Op op) noexcept {
  using filters::CallType;
  switch (op) {
    case Op::kSocket: case Op::kSocketpair: return CallType::kSocket;
    case Op::kConnect: return CallType::kConnect;
    case Op::kBind: return CallType::kBind;
    case Op::kListen: return CallType::kListen;
    case Op::kAccept: return CallType::kAccept;
    case Op::kClose: case Op::kCloseRange: return CallType::kClose;
    case Op::kShutdown: return CallType::kShutdown;
    case Op::kGetsockopt: return CallType::kGetsockopt;
    case Op::kSetsockopt: return CallType::kSetsockopt;
    case Op::kSend: case Op::kSendmmsg: case Op::kWrite: return CallType::kSend;
    case Op::kRecv: case Op::kRecvmmsg: case Op::kRead: return CallType::kRecv;
    case Op::kGetaddrinfo: return CallType::kGetaddrinfo;
    case Op::kDup: case Op::kDup2: case Op::kFork: return CallType::kCount;
  }
  return CallType::kCount;
}

}  // namespace shim
