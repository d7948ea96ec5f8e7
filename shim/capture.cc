#include "shim/capture.h"

#include <netinet/in.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "shim/actions.h"
#include "shim/capture_ring.h"
#include "shim/real.h"
#include "shim/sys.h"

namespace shim::capture {

constinit bool g_on = false;

namespace {

// What capture knows of one fd number: the socket's identity (SO_COOKIE) and addresses. Filled
// on the socket's first call that needs it (its connect or accept, else its first transfer),
// copied to the numbers dup makes, cleared when the number is closed or reused. The bytes'
// stream offsets are the writer's business (it counts per socket), not this number's.
enum : std::uint32_t { kUnknown = 0, kBusy = 1, kTcp = 2, kUdp = 3, kIgnored = 4 };
struct Sock {
  std::atomic<std::uint32_t> state{kUnknown};
  std::uint16_t local_port = 0, peer_port = 0;
  std::uint8_t local[16] = {}, peer[16] = {};
  std::uint64_t cookie = 0;
  std::uint32_t forks = 0;   // g_forks when this number was described: forked since if it differs
  // TCP bytes this number lost each way (the ring was full), told to the writer by the next
  // record that gets through (RecordHead::skip).
  std::atomic<std::uint32_t> lost[2] = {};
  // A non-blocking connect in progress: its handshake is recorded once the connection shows it
  // completed (the first transfer that succeeds), never for a connect that failed.
  std::atomic<std::uint32_t> pending{0};
};

constinit Ring g_ring{};
// fork()s this process made or came from since capture began: a socket described before one may
// be held by another process too, so its close is not known to be the last (kFlagLast).
constinit std::atomic<std::uint32_t> g_forks{0};
void count_fork() noexcept { g_forks.fetch_add(1, std::memory_order_relaxed); }
constinit Sock* g_socks = nullptr;
constinit std::size_t g_nsocks = 0;

// A sockaddr's address as 16 bytes (IPv4 as IPv4-mapped IPv6) and its port; false for families
// that carry no IP.
bool to_bytes(const sockaddr* a, socklen_t n, std::uint8_t out[16], std::uint16_t& port) noexcept {
  if (!a) return false;
  if (a->sa_family == AF_INET && n >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    const auto* s = reinterpret_cast<const sockaddr_in*>(a);
    std::memset(out, 0, 10);
    out[10] = out[11] = 0xff;
    std::memcpy(out + 12, &s->sin_addr, 4);
    port = ntohs(s->sin_port);
    return true;
  }
  if (a->sa_family == AF_INET6 && n >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    const auto* s = reinterpret_cast<const sockaddr_in6*>(a);
    std::memcpy(out, &s->sin6_addr, 16);
    port = ntohs(s->sin6_port);
    return true;
  }
  return false;
}

bool local_of(int fd, Sock& s) noexcept {
  sockaddr_storage ss{};
  socklen_t n = sizeof ss;
  return ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &n) == 0 &&
         to_bytes(reinterpret_cast<sockaddr*>(&ss), n, s.local, s.local_port);
}

void peer_of(int fd, Sock& s) noexcept {
  sockaddr_storage ss{};
  socklen_t n = sizeof ss;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &n) != 0 ||
      !to_bytes(reinterpret_cast<sockaddr*>(&ss), n, s.peer, s.peer_port)) {
    std::memset(s.peer, 0, sizeof s.peer);
    s.peer_port = 0;
  }
}

// The socket's identity, the same through dup, fork and exec: the kernel's SO_COOKIE (Linux
// 4.15), else its inode number (unique among open sockets) with the top bit set. 0: neither.
std::uint64_t cookie_of(int fd) noexcept {
  std::uint64_t cookie = 0;
  socklen_t n = sizeof cookie;
  if (real::getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &n) == 0 && n == sizeof cookie && cookie != 0)
    return cookie;
  struct stat st {};
  return sys::fstat(fd, &st) == 0 ? (std::uint64_t{1} << 63) | st.st_ino : 0;
}

Sock* slot_of(int fd) noexcept {
  return fd >= 0 && static_cast<std::size_t>(fd) < g_nsocks ? &g_socks[fd] : nullptr;
}

// fd's record, filled from the kernel when unknown (or always, with fresh: a connect or accept
// just changed what it is). Null when fd is no TCP or UDP socket over IP, or when another thread
// is filling it for longer than a moment (the call then goes unrecorded).
Sock* describe(int fd, bool fresh) noexcept {
  Sock* s = slot_of(fd);
  if (!s) return nullptr;
  std::uint32_t st = s->state.load(std::memory_order_acquire);
  for (int spins = 0; st == kBusy && spins < 4096; ++spins) {
    __builtin_ia32_pause();
    st = s->state.load(std::memory_order_acquire);
  }
  if (st == kBusy) return nullptr;
  if (!fresh && st != kUnknown) return st == kIgnored ? nullptr : s;
  if (!s->state.compare_exchange_strong(st, kBusy, std::memory_order_acquire)) return nullptr;
  int type = 0, protocol = 0;
  socklen_t n = sizeof type;
  std::uint32_t next = kIgnored;
  if (real::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &n) == 0 && local_of(fd, *s)) {
    n = sizeof protocol;
    real::getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &n);
    s->cookie = cookie_of(fd);
    if (type == SOCK_STREAM && protocol == IPPROTO_TCP && s->cookie) next = kTcp;
    if (type == SOCK_DGRAM && protocol == IPPROTO_UDP) next = kUdp;
    peer_of(fd, *s);
  }
  s->lost[0].store(0, std::memory_order_relaxed);
  s->lost[1].store(0, std::memory_order_relaxed);
  s->pending.store(0, std::memory_order_relaxed);
  s->forks = g_forks.load(std::memory_order_relaxed);
  s->state.store(next, std::memory_order_release);
  return next == kIgnored ? nullptr : s;
}

std::int64_t now_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

RecordHead head_of(const Sock& s, Kind kind, Dir dir, std::uint8_t protocol) noexcept {
  RecordHead h{};
  h.t_ns = now_ns();
  h.sock = s.cookie;
  h.kind = kind;
  h.dir = dir;
  h.protocol = protocol;
  h.local_port = s.local_port;
  h.peer_port = s.peer_port;
  std::memcpy(h.local, s.local, 16);
  std::memcpy(h.peer, s.peer, 16);
  return h;
}

// Appends a TCP record, telling the writer what this number lost that way before it; a record
// that does not get through is added to that.
void append_tcp(Sock& s, RecordHead& h, const Part* parts, std::size_t nparts) noexcept {
  std::atomic<std::uint32_t>& lost = s.lost[static_cast<int>(h.dir)];
  h.skip = lost.load(std::memory_order_relaxed) ? lost.exchange(0, std::memory_order_relaxed) : 0;
  if (!append(g_ring, h, parts, nparts) && h.skip + h.len >= h.skip)   // a 4 GiB gap stays unknown
    lost.fetch_add(h.skip + h.len, std::memory_order_relaxed);
}

// An event without bytes on a TCP socket: it comes after every byte recorded that way before it.
void event(Sock& s, Kind kind, Dir dir) noexcept {
  RecordHead h = head_of(s, kind, dir, IPPROTO_TCP);
  append_tcp(s, h, nullptr, 0);
}

// The iovecs of a call's bytes (one for the plain buffer functions), at most kMaxParts.
constexpr std::size_t kMaxParts = 64;
std::size_t parts_of(const Call& c, Part* out) noexcept {
  const iovec* iov = nullptr;
  std::size_t n = 0;
  if (c.fn == Fn::kReadv || c.fn == Fn::kWritev) {
    iov = c.iov;
    n = c.iovcnt > 0 ? static_cast<std::size_t>(c.iovcnt) : 0;
  } else if ((c.fn == Fn::kSendmsg || c.fn == Fn::kRecvmsg) && c.msg) {
    iov = c.msg->msg_iov;
    n = c.msg->msg_iovlen;
  } else {
    out[0] = Part{c.buf, c.len};
    return c.buf ? 1 : 0;
  }
  if (n > kMaxParts) n = kMaxParts;
  for (std::size_t i = 0; i < n; ++i) out[i] = Part{iov[i].iov_base, iov[i].iov_len};
  return n;
}

// Bytes of a TCP stream: one record per kSlotPayload bytes, in order.
void stream_bytes(Sock& s, Dir dir, const Part* parts, std::size_t nparts, std::size_t total) noexcept {
  RecordHead h = head_of(s, Kind::kData, dir, IPPROTO_TCP);
  std::size_t part = 0, in_part = 0;
  for (std::size_t done = 0; done < total;) {
    const std::size_t len = total - done < kSlotPayload ? total - done : kSlotPayload;
    // The slice [done, done + len) of the gathered parts, as at most kMaxParts pieces.
    Part slice[kMaxParts];
    std::size_t k = 0, need = len;
    while (need && part < nparts && k < kMaxParts) {
      const std::size_t avail = parts[part].len - in_part;
      const std::size_t take = avail < need ? avail : need;
      if (take) slice[k++] = Part{static_cast<const char*>(parts[part].data) + in_part, take};
      need -= take;
      in_part += take;
      if (in_part == parts[part].len) ++part, in_part = 0;
    }
    h.len = static_cast<std::uint32_t>(len - need);
    append_tcp(s, h, slice, k);
    done += len;
  }
}

// One UDP datagram. addr: the address the call names (destination of a send, source of a
// receive), null for the socket's connected peer.
void datagram(int fd, Sock& s, Dir dir, const sockaddr* addr, socklen_t addrlen, const Part* parts,
              std::size_t nparts, std::size_t total) noexcept {
  if (s.local_port == 0) local_of(fd, s);   // the kernel bound it on the first send
  RecordHead h = head_of(s, Kind::kData, dir, IPPROTO_UDP);
  if (addr && !to_bytes(addr, addrlen, h.peer, h.peer_port)) return;
  if (total > kMaxRecord) total = kMaxRecord;   // more than UDP carries: a datagram goes whole
  h.len = static_cast<std::uint32_t>(total);
  append(g_ring, h, parts, nparts);
}

void transfer(const Call& c, Sock& s, std::uint32_t kind, bool out, std::size_t r, const void* bytes) noexcept {
  Part parts[kMaxParts];
  std::size_t n = 0;
  if (bytes) {
    parts[0] = Part{bytes, r};
    n = 1;
  } else {
    n = parts_of(c, parts);
  }
  const Dir dir = out ? Dir::kOut : Dir::kIn;
  if (kind == kTcp) {
    stream_bytes(s, dir, parts, n, r);
    return;
  }
  const sockaddr* addr = nullptr;
  socklen_t len = 0;
  if (out) {
    addr = c.addr, len = c.addrlen;
  } else if (c.fn == Fn::kRecvmsg && c.msg && c.msg->msg_name) {
    addr = static_cast<const sockaddr*>(c.msg->msg_name), len = c.msg->msg_namelen;
  } else if (c.from && c.fromlen) {
    addr = c.from, len = *c.fromlen;
  }
  datagram(c.fd, s, dir, addr, len, parts, n, r);
}

// The r bytes a sendfile sent from `start` in its file (never in the program's memory), read back
// with pread: a TCP stream's a slot's worth at a time through the stack, a UDP datagram whole
// through a buffer mapped for it (no heap). Bytes it cannot read back (the file shrank, or has no
// position: start < 0) are told to the writer as lost, so the stream's sequence numbers hold.
void file_bytes(const Call& c, Sock& s, std::uint32_t kind, off64_t start, std::size_t r) noexcept {
  if (kind == kTcp) {
    unsigned char buf[kSlotPayload];
    std::size_t done = 0;
    while (start >= 0 && done < r) {
      const std::size_t want = r - done < kSlotPayload ? r - done : kSlotPayload;
      const long got = sys::pread(c.a, buf, want, start + static_cast<off64_t>(done));
      if (got <= 0) break;
      const Part p{buf, static_cast<std::size_t>(got)};
      stream_bytes(s, Dir::kOut, &p, 1, p.len);
      done += p.len;
    }
    if (done < r) s.lost[static_cast<int>(Dir::kOut)].fetch_add(static_cast<std::uint32_t>(r - done), std::memory_order_relaxed);
    return;
  }
  const std::size_t n = r < kMaxRecord ? r : kMaxRecord;
  void* buf = start < 0 ? MAP_FAILED : sys::mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (buf == MAP_FAILED) return;
  if (const long got = sys::pread(c.a, buf, n, start); got > 0) {
    const Part p{buf, static_cast<std::size_t>(got)};
    datagram(c.fd, s, Dir::kOut, nullptr, 0, &p, 1, p.len);
  }
  sys::munmap(buf, n);
}

void messages(const Call& c, Sock& s, bool out, long r) noexcept {
  for (long i = 0; c.mmsg && i < r; ++i) {
    const msghdr& m = c.mmsg[i].msg_hdr;
    Part parts[kMaxParts];
    std::size_t n = m.msg_iovlen < kMaxParts ? m.msg_iovlen : kMaxParts;
    for (std::size_t k = 0; k < n; ++k) parts[k] = Part{m.msg_iov[k].iov_base, m.msg_iov[k].iov_len};
    const std::size_t bytes = c.mmsg[i].msg_len;
    if (s.state.load(std::memory_order_relaxed) == kTcp)
      stream_bytes(s, out ? Dir::kOut : Dir::kIn, parts, n, bytes);
    else
      datagram(c.fd, s, out ? Dir::kOut : Dir::kIn, static_cast<const sockaddr*>(m.msg_name), m.msg_namelen,
               parts, n, bytes);
  }
}

void forget(int fd) noexcept {
  if (Sock* s = slot_of(fd)) {
    std::uint32_t st = s->state.load(std::memory_order_relaxed);
    if (st != kBusy) s->state.compare_exchange_strong(st, kUnknown, std::memory_order_relaxed);
  }
}

// nfd now names the socket `from` names (dup and friends): it takes its identity and addresses
// without asking the kernel again. A number whose record is being filled, or that is no socket
// we capture, leaves nfd unknown (described afresh on its first use).
void copy_number(int from, int nfd) noexcept {
  Sock* a = slot_of(from);
  Sock* b = slot_of(nfd);
  if (!b || a == b) return;
  std::uint32_t was = b->state.load(std::memory_order_relaxed);
  const std::uint32_t st = a ? a->state.load(std::memory_order_acquire) : kUnknown;
  if ((st != kTcp && st != kUdp) || was == kBusy ||
      !b->state.compare_exchange_strong(was, kBusy, std::memory_order_acquire)) {
    forget(nfd);
    return;
  }
  b->local_port = a->local_port;
  b->peer_port = a->peer_port;
  std::memcpy(b->local, a->local, 16);
  std::memcpy(b->peer, a->peer, 16);
  b->cookie = a->cookie;
  b->forks = a->forks;
  b->lost[0].store(0, std::memory_order_relaxed);
  b->lost[1].store(0, std::memory_order_relaxed);
  b->pending.store(0, std::memory_order_relaxed);   // the old number records the handshake
  b->state.store(st, std::memory_order_release);
}

}  // namespace

bool init(const char* path, const char** why) noexcept {
  const int fd = sys::open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    *why = "cannot open the capture ring";
    return false;
  }
  struct stat st {};
  if (sys::fstat(fd, &st) != 0 || st.st_uid != sys::geteuid() || st.st_size < static_cast<off_t>(kHeaderBytes)) {
    sys::close(fd);
    *why = "the capture ring is not this user's or is truncated";
    return false;
  }
  void* mem = sys::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  sys::close(fd);
  if (mem == MAP_FAILED) {
    *why = "cannot map the capture ring";
    return false;
  }
  const Ring r = attach_ring(mem, static_cast<std::size_t>(st.st_size));
  if (!r) {
    sys::munmap(mem, static_cast<std::size_t>(st.st_size));
    *why = "the capture ring is of another version or damaged";
    return false;
  }
  rlimit rl{};
  std::size_t n = 65536;
  if (sys::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY) n = rl.rlim_max;
  if (n > (std::size_t{1} << 20)) n = std::size_t{1} << 20;
  void* t = sys::mmap(nullptr, n * sizeof(Sock), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (t == MAP_FAILED) {
    sys::munmap(mem, static_cast<std::size_t>(st.st_size));
    *why = "cannot map memory for the capture's socket table";
    return false;
  }
  // In parent and child: after a fork either may hold a socket the other closes. (Children of
  // _Fork or clone run no handlers: their closes may then claim a last reference wrongly.)
  pthread_atfork(nullptr, count_fork, count_fork);
  g_ring = r;
  g_socks = static_cast<Sock*>(t);   // zero pages: every entry kUnknown
  g_nsocks = n;
  g_on = true;
  return true;
}

void after_call(const Call& c, long r, int err, bool bytes_recorded) noexcept {
  const int saved = errno;
  switch (c.op) {
    case Op::kSocket:
      if (r >= 0) forget(static_cast<int>(r));
      break;
    case Op::kSocketpair:
      if (r == 0 && c.sv) forget(c.sv[0]), forget(c.sv[1]);
      break;
    case Op::kDup: case Op::kDup2:
      // A new number for the socket: the same stream (the writer counts per socket).
      if (r >= 0) copy_number(c.fd, static_cast<int>(r));
      break;
    case Op::kConnect:
      if (r == 0 || err == EINPROGRESS) {
        Sock* s = describe(c.fd, true);
        if (s && s->state.load(std::memory_order_relaxed) == kTcp) {
          // The peer as the program named it: the handshake may not have finished yet.
          to_bytes(c.addr, c.addrlen, s->peer, s->peer_port);
          if (r == 0)
            event(*s, Kind::kConnect, Dir::kOut);
          else
            s->pending.store(1, std::memory_order_relaxed);
        }
      }
      break;
    case Op::kAccept:
      if (r >= 0)
        if (Sock* s = describe(static_cast<int>(r), true); s && s->state.load(std::memory_order_relaxed) == kTcp)
          event(*s, Kind::kAccept, Dir::kIn);
      break;
    case Op::kShutdown:
      if (r == 0 && (c.a == SHUT_WR || c.a == SHUT_RDWR))
        if (Sock* s = describe(c.fd, false); s && s->state.load(std::memory_order_relaxed) == kTcp)
          event(*s, Kind::kFin, Dir::kOut);
      break;
    case Op::kSend: case Op::kWrite: case Op::kRecv: case Op::kRead: {
      const bool out = c.op == Op::kSend || c.op == Op::kWrite;
      if (r < 0 && err != ECONNRESET) break;
      if (!out && r >= 0 && (c.flags & MSG_PEEK)) break;   // the recv that takes them records them
      Sock* s = describe(c.fd, false);
      if (!s) break;
      const std::uint32_t kind = s->state.load(std::memory_order_relaxed);
      // A pending connect that moved bytes (or met end of file) has connected; one that failed
      // (ECONNRESET here) never had a connection to show.
      if (s->pending.load(std::memory_order_relaxed) && s->pending.exchange(0, std::memory_order_relaxed) && r >= 0)
        event(*s, Kind::kConnect, Dir::kOut);
      if (r < 0) {   // ECONNRESET: the peer reset the connection
        if (kind == kTcp) event(*s, Kind::kRst, Dir::kIn);
      } else if (r == 0) {
        // End of file on a stream: the peer's FIN (a zero-length read asked for nothing).
        if (kind == kTcp && !out && (c.len > 0 || c.iov || c.msg)) event(*s, Kind::kFin, Dir::kIn);
        // An empty datagram (a sendfile at its file's end sends none).
        if (kind == kUdp && c.fn != Fn::kSendfile) transfer(c, *s, kind, out, 0, nullptr);
      } else if (bytes_recorded && out) {
        // sent() recorded them
      } else if (c.fn == Fn::kSendfile) {
        file_bytes(c, *s, kind, actions::sendfile_start(c, r), static_cast<std::size_t>(r));
      } else {
        transfer(c, *s, kind, out, static_cast<std::size_t>(r), nullptr);
      }
      break;
    }
    case Op::kSendmmsg: case Op::kRecvmmsg:
      if (r > 0)   // send_corrupted() leaves message vectors alone
        if (Sock* s = describe(c.fd, false)) messages(c, *s, c.op == Op::kSendmmsg, r);
      break;
    default:
      break;
  }
  errno = saved;
}

void sent(const Call& c, const void* bytes, long r) noexcept {
  if (r <= 0) return;
  const int saved = errno;
  if (Sock* s = describe(c.fd, false))
    transfer(c, *s, s->state.load(std::memory_order_relaxed), true, static_cast<std::size_t>(r), bytes);
  errno = saved;
}

void sent_file(const Call& c, off64_t start, long r) noexcept {
  if (r <= 0) return;
  const int saved = errno;
  if (Sock* s = describe(c.fd, false))
    file_bytes(c, *s, s->state.load(std::memory_order_relaxed), start, static_cast<std::size_t>(r));
  errno = saved;
}

void closing(int fd, bool last) noexcept {
  Sock* s = slot_of(fd);
  if (!s) return;
  const int saved = errno;
  // Every close of a connected TCP socket's number: only the kernel knows whether another
  // process (or number) still holds it, and the writer asks it when this process cannot be sure.
  if (s->state.load(std::memory_order_acquire) == kTcp && s->peer_port != 0) {
    RecordHead h = head_of(*s, Kind::kClose, Dir::kOut, IPPROTO_TCP);
    if (last && s->forks == g_forks.load(std::memory_order_relaxed)) h.flags = kFlagLast;
    append_tcp(*s, h, nullptr, 0);
  }
  forget(fd);
  errno = saved;
}

void reset(int fd) noexcept {
  const int saved = errno;
  if (Sock* s = describe(fd, false); s && s->state.load(std::memory_order_relaxed) == kTcp) {
    event(*s, Kind::kRst, Dir::kOut);
    forget(fd);   // unconnected from now on: its close sends nothing
  }
  errno = saved;
}

}  // namespace shim::capture
