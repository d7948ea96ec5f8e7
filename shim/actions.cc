#include "shim/actions.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "filters/table.h"
#include "shim/capture.h"
#include "shim/real.h"
#include "shim/sys.h"

namespace shim::actions {
namespace {

// iovec arrays longer than this are shortened by dropping the tail entries (the transfer is then
// shorter still, which "at most N bytes" allows).
constexpr int kMaxIov = 64;
constexpr std::size_t kMaxCorruptCopy = 64 * 1024;

std::size_t iov_total(const iovec* iov, std::size_t n) noexcept {
  std::size_t total = 0;
  for (std::size_t i = 0; iov && i < n; ++i) total += iov[i].iov_len;
  return total;
}

// Copies iov into out, cut so the total is at most limit. Returns the number of entries.
int clamp_iov(const iovec* iov, std::size_t n, std::size_t limit, iovec* out) noexcept {
  int k = 0;
  for (std::size_t i = 0; iov && i < n && k < kMaxIov && limit > 0; ++i) {
    out[k] = iov[i];
    out[k].iov_len = std::min(out[k].iov_len, limit);
    limit -= out[k].iov_len;
    ++k;
  }
  return k;
}

// The iovecs of a readv/writev/sendmsg/recvmsg call; null for the others.
const iovec* iov_of(const Call& c, std::size_t& n) noexcept {
  if (c.fn == Fn::kReadv || c.fn == Fn::kWritev) {
    n = c.iovcnt > 0 ? static_cast<std::size_t>(c.iovcnt) : 0;
    return c.iov;
  }
  if ((c.fn == Fn::kSendmsg || c.fn == Fn::kRecvmsg) && c.msg) {
    n = c.msg->msg_iovlen;
    return c.msg->msg_iov;
  }
  n = 0;
  return nullptr;
}

// recvmsg/sendmsg with replaced iovecs; the program's msghdr learns what recvmsg reports.
long msg_call(const Call& c, const iovec* iov, int n) noexcept {
  msghdr m = *c.msg;
  m.msg_iov = const_cast<iovec*>(iov);
  m.msg_iovlen = static_cast<std::size_t>(n);
  if (c.fn == Fn::kSendmsg) return real::fns.sendmsg(c.fd, &m, c.flags);
  const long r = real::fns.recvmsg(c.fd, &m, c.flags);
  c.msg->msg_namelen = m.msg_namelen;
  c.msg->msg_controllen = m.msg_controllen;
  c.msg->msg_flags = m.msg_flags;
  return r;
}

void flip(unsigned char* p, std::size_t n, std::uint64_t bits, const Draw& draw) noexcept {
  for (std::uint64_t k = 0; n > 0 && k < bits; ++k) {
    const std::uint64_t bit = bit_position(draw, k, n);
    p[bit / 8] ^= static_cast<unsigned char>(1u << (bit % 8));
  }
}

}  // namespace

std::uint64_t bit_position(const Draw& draw, std::uint64_t k, std::size_t n) noexcept {
  const auto what = static_cast<std::uint32_t>(filters::kDrawCorrupt + k);
  return filters::random64(draw.seed, draw.rule, draw.hit, what) % (static_cast<std::uint64_t>(n) * 8);
}

std::size_t requested(const Call& c) noexcept {
  std::size_t n = 0;
  if (const iovec* iov = iov_of(c, n)) return iov_total(iov, n);
  switch (c.fn) {
    case Fn::kSend: case Fn::kSendto: case Fn::kWrite: case Fn::kRecv: case Fn::kRecvfrom:
    case Fn::kRead: case Fn::kRecvChk: case Fn::kRecvfromChk: case Fn::kReadChk: case Fn::kSendfile:
      return c.len;
    default:
      return 0;
  }
}

long transfer(const Call& c, std::size_t limit) noexcept {
  // The _chk variants abort on a buffer overflow; let them see the original arguments then.
  const bool chk_ok = c.len <= c.buflen;
  const std::size_t len = std::min(c.len, limit);
  switch (c.fn) {
    case Fn::kSend: return real::fns.send(c.fd, c.buf, len, c.flags);
    case Fn::kSendto: return real::fns.sendto(c.fd, c.buf, len, c.flags, c.addr, c.addrlen);
    case Fn::kWrite: return real::fns.write(c.fd, c.buf, len);
    case Fn::kRecv: return real::fns.recv(c.fd, c.buf, len, c.flags);
    case Fn::kRecvfrom: return real::fns.recvfrom(c.fd, c.buf, len, c.flags, c.from, c.fromlen);
    case Fn::kRead: return real::fns.read(c.fd, c.buf, len);
    case Fn::kRecvChk:
      return chk_ok ? real::fns.recv(c.fd, c.buf, len, c.flags)
                    : real::fns.__recv_chk(c.fd, c.buf, c.len, c.buflen, c.flags);
    case Fn::kRecvfromChk:
      return chk_ok ? real::fns.recvfrom(c.fd, c.buf, len, c.flags, c.from, c.fromlen)
                    : real::fns.__recvfrom_chk(c.fd, c.buf, c.len, c.buflen, c.flags, c.from, c.fromlen);
    case Fn::kReadChk:
      return chk_ok ? real::fns.read(c.fd, c.buf, len)
                    : real::fns.__read_chk(c.fd, c.buf, c.len, c.buflen);
    case Fn::kSendmmsg: return real::fns.sendmmsg(c.fd, c.mmsg, c.vlen, c.flags);
    case Fn::kSendfile: return real::fns.sendfile(c.fd, c.a, c.offset, len);
    case Fn::kRecvmmsg: {
      if (limit == SIZE_MAX || !c.mmsg || c.vlen == 0) return real::fns.recvmmsg(c.fd, c.mmsg, c.vlen, c.flags, c.timeout);
      // A cut (a paced socket's step): the first message alone, its iovecs cut to the limit.
      msghdr& first = c.mmsg[0].msg_hdr;
      iovec cut[kMaxIov];
      mmsghdr one = c.mmsg[0];
      one.msg_hdr.msg_iov = cut;
      one.msg_hdr.msg_iovlen = static_cast<std::size_t>(clamp_iov(first.msg_iov, first.msg_iovlen, limit, cut));
      const int r = real::fns.recvmmsg(c.fd, &one, 1, c.flags, c.timeout);
      if (r == 1) {
        first.msg_namelen = one.msg_hdr.msg_namelen;
        first.msg_controllen = one.msg_hdr.msg_controllen;
        first.msg_flags = one.msg_hdr.msg_flags;
        c.mmsg[0].msg_len = one.msg_len;
      }
      return r;
    }
    case Fn::kReadv: case Fn::kWritev: case Fn::kSendmsg: case Fn::kRecvmsg: {
      std::size_t n = 0;
      const iovec* iov = iov_of(c, n);
      iovec cut[kMaxIov];
      const bool unchanged = iov_total(iov, n) <= limit;
      if (unchanged && c.fn == Fn::kReadv) return real::fns.readv(c.fd, c.iov, c.iovcnt);
      if (unchanged && c.fn == Fn::kWritev) return real::fns.writev(c.fd, c.iov, c.iovcnt);
      if (unchanged && c.fn == Fn::kSendmsg) return real::fns.sendmsg(c.fd, c.msg, c.flags);
      if (unchanged) return real::fns.recvmsg(c.fd, c.msg, c.flags);
      const int k = clamp_iov(iov, n, limit, cut);
      if (c.fn == Fn::kReadv) return real::fns.readv(c.fd, cut, k);
      if (c.fn == Fn::kWritev) return real::fns.writev(c.fd, cut, k);
      return msg_call(c, cut, k);
    }
    case Fn::kOther:
      break;
  }
  errno = ENOSYS;   // not a transfer: never reached by a valid rule
  return -1;
}

off64_t sendfile_start(const Call& c, long moved) noexcept {
  if (c.offset) return *c.offset - moved;
  const int e = errno;
  const off64_t at = sys::lseek(c.a, 0, SEEK_CUR);
  errno = e;
  return at < 0 ? -1 : at - moved;
}

void sendfile_advance(const Call& c, long n) noexcept {
  if (n <= 0) return;
  const int e = errno;
  if (c.offset)
    *c.offset += n;
  else
    sys::lseek(c.a, n, SEEK_CUR);
  errno = e;
}

long sendfile_again(const Call& c, off64_t start, std::size_t n) noexcept {
  off64_t at = start;   // an offset of its own: the program's and the file's stay put
  return start < 0 ? 0 : real::fns.sendfile(c.fd, c.a, &at, n);
}

long send_corrupted(const Call& c, std::uint64_t bits, const Draw& draw) noexcept {
  std::size_t n = std::min(requested(c), kMaxCorruptCopy);
  // sendfile's bytes are in its file: a copy read with pread where the call would read them.
  const off64_t file_at = c.fn == Fn::kSendfile ? sendfile_start(c, 0) : 0;
  if (n == 0 || c.fn == Fn::kSendmmsg || file_at < 0) return transfer(c, SIZE_MAX);
  const std::size_t mapped = n;
  void* copy = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (copy == MAP_FAILED) return transfer(c, SIZE_MAX);   // no memory: send unchanged
  auto* out = static_cast<unsigned char*>(copy);
  std::size_t iovn = 0;
  if (c.fn == Fn::kSendfile) {
    // Unreadable or at its end: the real call, unchanged, says so itself.
    const int e = errno;
    const long got = sys::pread(c.a, copy, n, file_at);
    errno = e;
    if (got <= 0) {
      munmap(copy, mapped);
      return transfer(c, SIZE_MAX);
    }
    n = static_cast<std::size_t>(got);
  } else if (const iovec* iov = iov_of(c, iovn)) {
    std::size_t at = 0;
    for (std::size_t i = 0; i < iovn && at < n; ++i) {
      const std::size_t k = std::min(iov[i].iov_len, n - at);
      std::memcpy(out + at, iov[i].iov_base, k);
      at += k;
    }
  } else {
    std::memcpy(out, c.buf, n);
  }
  flip(out, n, bits, draw);
  long r;
  const iovec one{copy, n};
  switch (c.fn) {
    case Fn::kSend: r = real::fns.send(c.fd, copy, n, c.flags); break;
    case Fn::kSendto: r = real::fns.sendto(c.fd, copy, n, c.flags, c.addr, c.addrlen); break;
    case Fn::kSendmsg: r = msg_call(c, &one, 1); break;
    default: r = real::fns.write(c.fd, copy, n); break;   // write, writev, sendfile
  }
  if (c.fn == Fn::kSendfile) sendfile_advance(c, r);   // as if the call had sent them
  if (capture::on()) capture::sent(c, copy, r);   // the corrupted bytes are what went out
  const int e = errno;
  munmap(copy, mapped);
  errno = e;
  return r;
}

void corrupt_received(const Call& c, std::size_t n, std::uint64_t bits, const Draw& draw) noexcept {
  if (n == 0) return;
  std::size_t iovn = 0;
  const iovec* iov = iov_of(c, iovn);
  if (!iov) {
    if (c.buf && c.fn != Fn::kRecvmmsg) flip(static_cast<unsigned char*>(c.buf), std::min(n, c.len), bits, draw);
    return;
  }
  // Positions over the whole received run, then mapped to the iovec that holds each byte.
  for (std::uint64_t k = 0; k < bits; ++k) {
    std::uint64_t bit = bit_position(draw, k, n);
    std::size_t byte = bit / 8;
    for (std::size_t i = 0; i < iovn; ++i) {
      if (byte < iov[i].iov_len) {
        static_cast<unsigned char*>(iov[i].iov_base)[byte] ^= static_cast<unsigned char>(1u << (bit % 8));
        break;
      }
      byte -= iov[i].iov_len;
    }
  }
}

bool sleep_ms(std::uint64_t ms) noexcept {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return sleep_until_ns(static_cast<std::int64_t>(now.tv_sec) * 1000000000 + now.tv_nsec +
                        static_cast<std::int64_t>(ms) * 1000000);
}

bool sleep_until_ns(std::int64_t ns) noexcept {
  const timespec until{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
  // clock_nanosleep returns the error instead of setting errno: errno stays untouched.
  return clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, nullptr) != EINTR;
}

void reset(int fd) noexcept {
  const int e = errno;
  sockaddr unspec{};
  unspec.sa_family = AF_UNSPEC;
  real::fns.connect(fd, &unspec, sizeof unspec);
  errno = e;
}

}  // namespace shim::actions
