#include "shim/socket_book.h"

#include <sys/stat.h>

#include <cerrno>

#include "shim/once.h"
#include "shim/os.h"
#include "shim/reentry.h"

namespace shim {

namespace {

// Room for the addresses that have ports (IPv4, IPv6): any other is cut short by the kernel,
// which still names its family, and has no port (port_of: 0). Less to clear than a
// sockaddr_storage: listen() with rules asks it for every listener.
std::uint16_t local_port_of(int fd) noexcept {
  sockaddr_in6 ss{};
  socklen_t n = sizeof ss;
  return os::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &n) == 0 ? port_of(reinterpret_cast<sockaddr*>(&ss), n)
                                                                         : 0;
}

std::uint16_t peer_port_of(int fd, bool* connected) noexcept {
  sockaddr_storage ss{};
  socklen_t n = sizeof ss;
  const bool ok = os::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &n) == 0;
  if (connected) *connected = ok;
  return ok ? port_of(reinterpret_cast<sockaddr*>(&ss), n) : 0;
}

// Errors by which a pending non-blocking connect reports that it failed.
bool connect_error(int e) noexcept {
  return e == ECONNREFUSED || e == ETIMEDOUT || e == EHOSTUNREACH || e == ENETUNREACH ||
         e == ECONNRESET || e == ECONNABORTED;
}

std::uint64_t mmsg_bytes(const mmsghdr* v, long n) noexcept {
  std::uint64_t total = 0;
  for (long i = 0; v && i < n; ++i) total += v[i].msg_len;
  return total;
}

}  // namespace

int SocketBook::kernel_protocol(int fd, int domain, int type, int protocol) noexcept {
  if (const int fixed = fixed_protocol(domain, type, protocol); fixed >= 0) return fixed;
  int p = protocol;
  socklen_t n = sizeof p;
  if (fd >= 0 && os::getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &p, &n) != 0) p = protocol;
  return p;
}

// One-time cost per fd. Another thread may dup2 a different socket onto the number between two
// of these questions; the socket's inode, the same before and after them, shows that every answer
// came from one socket (else ask again, or leave the fd unknown). The entry is written only if it
// is still unknown: whoever wrote it meanwhile (socket, accept, dup2) knew better.
bool SocketBook::classify(int fd, FdEntry& e) noexcept {
  struct stat first {}, last {};
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (os::fstat(fd, &first) != 0) return false;
    if (!S_ISSOCK(first.st_mode)) {
      std::uint32_t unknown = 0;
      e.state.compare_exchange_strong(unknown, FdState::make(FdKind::kNotSocket, ConnState::kNone, 0),
                                      std::memory_order_relaxed);
      return false;
    }
    int type = 0, domain = 0, accepting = 0;
    socklen_t n = sizeof type;
    if (os::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &n) != 0) return false;
    n = sizeof domain;
    if (os::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &n) != 0) return false;
    const int protocol = kernel_protocol(fd, domain, type, 0);
    n = sizeof accepting;
    os::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &n);
    bool connected = false;
    const std::uint16_t peer = peer_port_of(fd, &connected);
    const std::uint16_t local = local_port_of(fd);
    if (os::fstat(fd, &last) != 0) return false;
    if (last.st_ino != first.st_ino || last.st_dev != first.st_dev) continue;
    const ConnState conn = accepting ? ConnState::kListening
                                     : connected ? ConnState::kConnected : ConnState::kNone;
    const Cookie ck = make_cookie(domain, type, protocol);
    std::uint32_t unknown = 0;
    if (!e.state.compare_exchange_strong(unknown, FdState::make(FdKind::kBusy, ConnState::kNone, 0),
                                         std::memory_order_acquire))
      return FdState{unknown}.kind() == FdKind::kSocket;
    fds_.note_socket(fd);   // before the entry says so: a scan must find it
    e.cookie.store(ck, std::memory_order_relaxed);
    e.sock_id.store(0, std::memory_order_relaxed);   // given when first dup'd
    e.slot.store(slot_for(ck), std::memory_order_relaxed);
    e.local_port.store(local, std::memory_order_relaxed);
    e.peer_port.store(peer, std::memory_order_relaxed);
    forget_rules(e);
    if (profile_.socket_state) e.reset_rule_state();
    e.state.store(FdState::make(FdKind::kSocket, conn, FdState::kInherited), std::memory_order_release);
    return true;
  }
  return false;   // the number kept changing under us: unknown still, asked again next call
}

stats::CookieSlot* SocketBook::slot_for_miss(Cookie c) noexcept {
  stats::CookieSlot* s = stats::cookie_slot(*seg_, c);
  // A full table (counted in the header as cookie_overflow): the socket counts into a slot of
  // this process that no report reads, so every fd entry has a slot and the hot paths need no test.
  if (!s) return &overflow_slot_;
  slot_cache_[(c * 0x9e3779b97f4a7c15ull) >> 60].store(s, std::memory_order_relaxed);
  return s;
}

// A new socket under this number: no rule decision or rule state of the old one carries over; its
// decisions start from its family and service port (start_rules).
void SocketBook::open_rule_state(FdEntry& e, ConnState conn) noexcept {
  start_rules(e, conn, e.local_port.load(std::memory_order_relaxed), e.peer_port.load(std::memory_order_relaxed));
  if (profile_.socket_state) {
    e.reset_rule_state();
    if (conn == ConnState::kAccepted) stamp_connected(e);
  }
}

std::uint64_t SocketBook::elapsed_ms() const noexcept {
  const std::int64_t ns = stats::monotonic_ns() - seg_->header.created_mono_ns;
  return ns > 0 ? static_cast<std::uint64_t>(ns) / 1000000u : 0;
}

// listened()'s part for rules: the port the kernel chose, and the facts changed.
void SocketBook::listened_rules(FdEntry& e, int fd) const noexcept {
  int local = e.local_port.load(std::memory_order_relaxed);
  if (local == 0) {
    local = local_port_of(fd);
    e.local_port.store(static_cast<std::uint16_t>(local), std::memory_order_relaxed);
  }
  start_rules(e, ConnState::kListening, local, 0);
}

void SocketBook::resolve_pending(Decision& d, bool connected) noexcept {
  // Only the thread that moves the state out of kConnecting counts, so it is counted once.
  std::uint32_t expected = d.state;
  const std::uint32_t next =
      FdState::make(FdKind::kSocket, connected ? ConnState::kConnected : ConnState::kNone, flags_of(d.state));
  if (d.entry->state.compare_exchange_strong(expected, next, std::memory_order_relaxed))
    stats::add(d.slot, connected ? stats::kConnected : stats::kConnectFailed);
  forget_rules(*d.entry);
  d.state = next;
}

void SocketBook::after_connect(const Call& c, Decision& d, long r, int e) noexcept {
  const bool pending = FdState{d.state}.conn() == ConnState::kConnecting;
  if (r == 0 || (e == EISCONN && pending)) {
    if (!pending) {
      connected(*d.entry, c.addr, c.addrlen);   // the hot path's transition
      return;
    }
    resolve_pending(d, true);
    d.entry->peer_port.store(port_of(c.addr, c.addrlen), std::memory_order_relaxed);
    stamp_connected(*d.entry);
    return;
  }
  if (e == EINPROGRESS || (e == EINTR && !pending)) {
    // EINTR: the kernel goes on connecting in the background, exactly as for EINPROGRESS.
    d.entry->peer_port.store(port_of(c.addr, c.addrlen), std::memory_order_relaxed);
    d.entry->state.store(FdState::make(FdKind::kSocket, ConnState::kConnecting, flags_of(d.state)),
                         std::memory_order_relaxed);
    forget_rules(*d.entry);
    stats::add(d.slot, stats::kConnectPending);
    return;
  }
  if (e == EALREADY || e == EINTR) return;   // still pending; nothing new
  if (pending)
    resolve_pending(d, false);
  else
    stats::add(d.slot, stats::kConnectFailed);
}

void SocketBook::after_transfer(const Call& c, Decision& d, long r, int e) noexcept {
  const bool send = c.op == Op::kSend || c.op == Op::kWrite || c.op == Op::kSendmmsg;
  const bool pending = FdState{d.state}.conn() == ConnState::kConnecting;
  if (r < 0) {
    if (pending && connect_error(e)) resolve_pending(d, false);
    return;
  }
  // A first successful transfer on a pending connect means the handshake completed.
  if (pending) resolve_pending(d, true);
  // Peeked bytes stay queued: the recv that takes them counts them, so count the call only.
  if (!send && (c.flags & MSG_PEEK)) {
    stats::add(d.slot, stats::kRecvCalls);
    return;
  }
  const bool messages = c.op == Op::kSendmmsg || c.op == Op::kRecvmmsg;
  const std::uint64_t bytes = messages ? mmsg_bytes(c.mmsg, r) : static_cast<std::uint64_t>(r);
  if (!d.entry) return;   // the general path counts transfers on tracked sockets only
  if (d.entry->swaps.load(std::memory_order_acquire) != d.swaps || (d.swaps & 1)) {
    count_raced(bytes);
    return;
  }
  count_transfer(*d.entry, send, bytes);   // the hot path's transition
}

bool SocketBook::last_reference(int fd, std::uint64_t sock_id) const noexcept {
  bool other = false;
  fds_.for_each_socket([&](int other_fd, FdEntry& e) {
    if (other_fd != fd && e.sock_id.load(std::memory_order_relaxed) == sock_id) other = true;
  });
  return !other;
}

// Forget fd before the real close runs (its number may be reused the moment the kernel frees
// it) and decide whether this close is the one `closed` counts.
bool SocketBook::forget_fd(int fd, stats::CookieSlot*& slot) noexcept {
  FdEntry* e = fds_.find(fd);
  if (!e) return false;
  const FdState st{e->state.load(std::memory_order_relaxed)};
  bool count = false;
  if (st.kind() == FdKind::kSocket) {
    slot = e->slot.load(std::memory_order_relaxed);
    // A shared socket gives up this number's reference also when inherited: its other numbers
    // must still find out which close is the last.
    const bool last = !st.has(FdState::kShared) ||
                      release_reference(fd, e->sock_id.load(std::memory_order_relaxed));
    count = !st.has(FdState::kInherited) && last;
  }
  fds_.clear(fd);
  return count;
}

void SocketBook::close_range(unsigned first, unsigned last, int flags) noexcept {
  close_range(first, last, flags, [](int, bool) {});
}

std::uint64_t SocketBook::share(FdEntry& e) noexcept {
  // Shared from now on, whether the dup succeeds or not, so that its close gives the reference
  // back (a failed dup leaves it the only one). A CAS, not fetch_or: a close racing this one may
  // have cleared the entry, which must not get the flag (a few tries; it only fails under a race).
  std::uint32_t bits = e.state.load(std::memory_order_relaxed);
  for (int tries = 0; tries < 16 && FdState{bits}.kind() == FdKind::kSocket && !(bits & FdState::kShared); ++tries)
    if (e.state.compare_exchange_weak(bits, bits | FdState::kShared, std::memory_order_relaxed)) break;
  std::uint64_t id = e.sock_id.load(std::memory_order_acquire);
  if (id == 0) {
    // A free group (count 0) becomes this socket's with one reference, its own number's; a few
    // probes only: with that many dup'd sockets open, scanning on close is the lesser cost.
    std::uint64_t fresh = 0;
    for (int probe = 0; probe < 8; ++probe) {
      const std::uint32_t g = dup_cursor_.fetch_add(1, std::memory_order_relaxed) % kDupGroups;
      std::uint32_t free = 0;
      if (dup_refs_[g].compare_exchange_strong(free, 1, std::memory_order_acq_rel)) {
        fresh = g + 1;
        break;
      }
    }
    if (fresh == 0) fresh = kScanId | next_sock_id_.fetch_add(1, std::memory_order_relaxed);
    // Two threads dup'ing the same socket for the first time: one identity wins.
    if (e.sock_id.compare_exchange_strong(id, fresh, std::memory_order_acq_rel)) {
      id = fresh;
    } else if (!(fresh & kScanId)) {
      dup_refs_[fresh - 1].store(0, std::memory_order_release);
    }
  }
  if (!(id & kScanId) && id <= kDupGroups) dup_refs_[id - 1].fetch_add(1, std::memory_order_acq_rel);
  return id;
}

void SocketBook::unshare(std::uint64_t id, stats::CookieSlot* slot) noexcept {
  if ((id & kScanId) || id == 0 || id > kDupGroups) return;   // scanning needs no undo
  if (dup_refs_[id - 1].fetch_sub(1, std::memory_order_acq_rel) == 1) stats::bump(*slot, stats::kClosed);
}

[[gnu::always_inline]] inline void SocketBook::dup_socket(FdEntry& from, std::uint32_t bits, int nfd, std::uint64_t id) noexcept {
  FdEntry* n = fds_.get(nfd);
  if (!n) return;
  const std::uint32_t shared = bits | FdState::kShared;
  n->cookie.store(from.cookie.load(std::memory_order_relaxed), std::memory_order_relaxed);
  n->sock_id.store(id, std::memory_order_relaxed);
  n->slot.store(from.slot.load(std::memory_order_relaxed), std::memory_order_relaxed);
  if (profile_.any()) [[unlikely]] copy_rule_facts(from, *n);
  if (bits & (FdState::kArmed | FdState::kPaced)) [[unlikely]]   // the socket's, whichever number names it
    copy_packet_rules(from, *n);
  n->state.store(shared, std::memory_order_relaxed);   // `from` was marked shared by share()
}

int SocketBook::dup_made_slow(int r, FdEntry* src, std::uint32_t bits, std::uint64_t id, FdEntry* target) noexcept {
  if (r >= 0) {
    if (src)
      dup_socket(*src, bits, r, id);
    else if (FdEntry* e = fds_.find(r))
      e->state.store(0, std::memory_order_relaxed);   // FdTable::clear: whatever the number named is gone
  } else if (src) {
    unshare(id, src->slot.load(std::memory_order_relaxed));   // errno untouched
  }
  if (target) target->swaps.fetch_add(1, std::memory_order_acq_rel);
  return r;
}

bool SocketBook::after_dup(const Call& c, Decision& d, long r) noexcept {
  struct EndSwap {   // the target's swap count goes even again once its entry says what it holds
    FdEntry* t;
    ~EndSwap() { if (t) t->swaps.fetch_add(1, std::memory_order_acq_rel); }
  } end_swap{c.op == Op::kDup2 ? d.target : nullptr};
  if (r < 0) return false;   // dup2 failed: the target was not closed after all
  const FdState target{d.target_state};
  bool closed = false;
  if (c.op == Op::kDup2 && target.kind() == FdKind::kSocket) {
    const bool last = !target.has(FdState::kShared) || release_reference(c.a, d.target_id);
    closed = last && !target.has(FdState::kInherited);
    if (closed) stats::add(d.slot, stats::kClosed);
  }
  const int nfd = static_cast<int>(r);
  if (!d.entry || FdState{d.state}.kind() != FdKind::kSocket) {
    fds_.clear(nfd);   // whatever the number named before is gone
    return closed;
  }
  dup_socket(*d.entry, d.state, nfd, share(*d.entry));
  return closed;
}

// The vfork trampoline leaves a hint in the thread, so getpid() is asked only after a vfork.
bool SocketBook::in_vfork_child() const noexcept {
  if (!sockshim_vfork_hint) return false;
  if (os::getpid() != owner_pid_.load(std::memory_order_relaxed)) return true;
  sockshim_vfork_hint = 0;   // the parent, after its vfork returned
  return false;
}

SHIM_ONCE void SocketBook::mark_all_inherited(int pid) noexcept {
  owner_pid_.store(pid, std::memory_order_relaxed);
  fds_.for_each_socket([](int, FdEntry& e) {
    e.state.fetch_or(FdState::kInherited, std::memory_order_relaxed);
  });
}

void SocketBook::set_flag(FdEntry& e, std::uint32_t flag, bool on) noexcept {
  // Only on a socket's entry: a close racing this one may have cleared it, and must win. A few
  // tries: the CAS fails only while other threads change the state.
  std::uint32_t bits = e.state.load(std::memory_order_relaxed);
  for (int tries = 0; tries < 16 && FdState{bits}.kind() == FdKind::kSocket; ++tries) {
    const std::uint32_t next = on ? bits | flag : bits & ~flag;
    if (next == bits || e.state.compare_exchange_weak(bits, next, std::memory_order_relaxed)) break;
  }
}

}  // namespace shim
