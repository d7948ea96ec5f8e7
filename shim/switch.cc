#include "shim/switch.h"

#include <netdb.h>
#include <sys/socket.h>

#include <cerrno>

#include "shim/capture.h"
#include "shim/os.h"
#include "shim/stats/segment.h"

namespace shim {

constinit Switch g_switch;

namespace {

bool would_block(int e) noexcept { return e == EAGAIN || e == EWOULDBLOCK || e == EINTR; }

// Whether the handshake of a connect that reports SO_ERROR 0 finished: it has a peer then.
void peer_connected(int fd, bool& connected) noexcept {
  sockaddr_storage ss{};
  socklen_t n = sizeof ss;
  connected = os::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &n) == 0;
}

}  // namespace

bool Switch::before(const Call& c, Decision& d) noexcept {
  switch (c.op) {
    case Op::kSocket:
    case Op::kSocketpair:
      if (const int idx = rules_.socket_rule(c); idx >= 0) firing_.fire(c, d, idx);
      // A socket the rule refused counts as a failed open and a fault (docs/stats.md), as the
      // seccomp supervisor counts it.
      if (d.inject) {
        const int type = c.b & kSockTypeMask;
        stats::CookieSlot* slot = book_.slot_for(make_cookie(c.a, type, SocketBook::kernel_protocol(-1, c.a, type, c.c)));
        stats::add(slot, stats::kOpenFailed);
        stats::add(slot, stats::kFaultsInjected);
      }
      return true;
    case Op::kGetaddrinfo:
      if (const int idx = rules_.lookup_rule(c); idx >= 0) firing_.fire(c, d, idx);
      return true;   // general() makes the real lookup guarded; after() counts nothing
    case Op::kFork:
      return false;
    case Op::kCloseRange:
      if (book_.in_vfork_child()) return false;
      if (capture::on())   // capture hears of each socket number it closes (its FIN, maybe)
        book_.close_range(static_cast<unsigned>(c.a), static_cast<unsigned>(c.b), c.c, capture::closing);
      else
        book_.close_range(static_cast<unsigned>(c.a), static_cast<unsigned>(c.b), c.c);
      return false;
    case Op::kDup2: {
      // dup2 closes the target silently; remember what was there so after() can count it. The
      // target's entry is overwritten only once dup2 succeeded: the kernel swaps the number from
      // the old file to the new one at once, so it never names nothing, and a call racing on it
      // must not find it "unknown" and classify whichever socket it meets half-way.
      if (c.a == c.fd || book_.in_vfork_child()) return false;
      if (FdEntry* t = book_.fds().find(c.a)) {
        d.target = t;
        t->swaps.fetch_add(1, std::memory_order_acq_rel);   // odd: a swap is under way (after() ends it)
        // What the number holds: after_dup() counts its close only if dup2 succeeded.
        d.target_state = t->state.load(std::memory_order_relaxed);
        if (FdState{d.target_state}.kind() == FdKind::kSocket) {
          d.slot = t->slot.load(std::memory_order_relaxed);
          d.target_id = t->sock_id.load(std::memory_order_relaxed);
        }
      }
      d.entry = book_.fds().find(c.fd);
      d.state = d.entry ? d.entry->state.load(std::memory_order_relaxed) : 0;
      return true;
    }
    case Op::kDup:
      if (book_.in_vfork_child()) return false;
      d.entry = book_.fds().find(c.fd);
      d.state = d.entry ? d.entry->state.load(std::memory_order_relaxed) : 0;
      return true;
    default:
      return before_fd(c, d);
  }
}

// Calls on one fd. Fast exits first: an fd known not to be a socket costs two loads.
bool Switch::before_fd(const Call& c, Decision& d) noexcept {
  FdEntry* e = book_.fds().find(c.fd);
  std::uint32_t bits = e ? e->state.load(std::memory_order_relaxed) : 0;
  FdKind kind = FdState{bits}.kind();
  if (kind == FdKind::kNotSocket) {
    if (c.op == Op::kClose) book_.fds().clear(c.fd);
    return false;
  }
  if (kind == FdKind::kUnknown) {
    // Closing an fd never seen as a socket needs no classification: forget the number.
    if (c.op == Op::kClose) {
      if (e) book_.fds().clear(c.fd);
      return false;
    }
    e = book_.fds().find(c.fd);   // the high-water mark only once it is a socket (classify)
    if (!e || !book_.classify(c.fd, *e)) return false;
    packets_.recover(c.fd, *e);   // execve kept the socket's filter and pacing, not their record
    bits = e->state.load(std::memory_order_relaxed);
    kind = FdState{bits}.kind();
  }
  if (kind != FdKind::kSocket) return false;   // kBusy: another thread is classifying it
  d.entry = e;
  d.state = bits;
  d.swaps = e->swaps.load(std::memory_order_acquire);
  d.slot = e->slot.load(std::memory_order_relaxed);
  if (const int idx = rules_.rule_for(c, d.type, *e, bits); idx >= 0) {
    firing_.fire(c, d, idx);
    if (d.inject) {
      RuleFiring::count_injected(c, d);
      return true;
    }
  }
  if ((bits & FdState::kArmed) && (c.op == Op::kSetsockopt || c.op == Op::kGetsockopt) &&
      PacketRules::filter_option_of(c.op == Op::kSetsockopt, c.a, c.b)) {
    d.custom = true;   // perform() answers it
    d.filter_option = true;
  }
  // Every receive on a paced socket waits for its due time, recvmmsg and MSG_PEEK too (a peek
  // shows what the next read may take; after() charges only the bytes a read takes).
  if ((bits & FdState::kPaced) && (c.op == Op::kRecv || c.op == Op::kRead || c.op == Op::kRecvmmsg))
    PacketRules::hold_back(c, d);
  if (c.op == Op::kClose) {
    if (book_.in_vfork_child()) return false;
    d.count_close = book_.forget_fd(c.fd, d.slot);
    if (capture::on()) capture::closing(c.fd, d.count_close);
  }
  return true;
}

int Switch::after(const Call& c, Decision& d, long r, int e) noexcept {
  switch (c.op) {
    case Op::kSocket: {
      const int type = c.b & kSockTypeMask;
      if (r >= 0) {
        const Cookie ck = make_cookie(c.a, type, SocketBook::kernel_protocol(static_cast<int>(r), c.a, type, c.c));
        book_.opened(static_cast<int>(r), ck);
        if (d.arm_rule >= 0) packets_.arm_loss(static_cast<int>(r), book_.fds().find(static_cast<int>(r)), c.a, d.arm_rule);
        if (d.pace_rule >= 0) packets_.pace(static_cast<int>(r), book_.fds().find(static_cast<int>(r)), d.pace_rule);
      } else {
        stats::add(book_.slot_for(make_cookie(c.a, type, SocketBook::kernel_protocol(-1, c.a, type, c.c))),
                   stats::kOpenFailed);
      }
      break;
    }
    case Op::kSocketpair: {
      const int type = c.b & kSockTypeMask;
      const Cookie ck = make_cookie(c.a, type, SocketBook::kernel_protocol(r == 0 ? c.sv[0] : -1, c.a, type, c.c));
      stats::CookieSlot* slot = book_.slot_for(ck);
      if (r == 0) {
        book_.open_socket(c.sv[0], ck, ConnState::kNone, 0, 0);
        book_.open_socket(c.sv[1], ck, ConnState::kNone, 0, 0);
        stats::add(slot, stats::kOpened, 2);
      } else {
        stats::add(slot, stats::kOpenFailed);
      }
      break;
    }
    case Op::kConnect:
      book_.after_connect(c, d, r, e);
      break;
    case Op::kBind:
      if (r == 0) book_.bound(*d.entry, c.addr, c.addrlen);
      break;
    case Op::kListen:
      if (r == 0)
        book_.listened(*d.entry, c.fd, d.state);
      else
        stats::add(d.slot, stats::kListenFailed);
      break;
    case Op::kAccept:
      if (r >= 0) {
        book_.accepted(*d.entry, static_cast<int>(r));
        FdEntry* const accepted = book_.fds().find(static_cast<int>(r));
        if (d.state & FdState::kArmed) packets_.inherit_filter(*d.entry, accepted);
        // The kernel copies the listener's SO_MAX_PACING_RATE too; the recv pacing goes with it.
        if (d.state & FdState::kPaced) PacketRules::set_recv_rate(accepted, d.entry->recv_rate.load(std::memory_order_relaxed));
        if (d.pace_rule >= 0) packets_.pace(static_cast<int>(r), accepted, d.pace_rule);
        if (d.arm_rule >= 0) packets_.arm_loss(static_cast<int>(r), accepted, cookie_family(d.entry->cookie.load(std::memory_order_relaxed)), d.arm_rule);
      } else if (!would_block(e)) {
        stats::add(d.slot, stats::kAcceptFailed);
      }
      break;
    case Op::kClose:
      // Linux releases the fd even when close reports EINTR; only other errors are failures.
      if (r == 0 || e == EINTR) {
        if (d.count_close) stats::add(d.slot, stats::kClosed);
      } else {
        stats::add(d.slot, stats::kCloseFailed);
      }
      break;
    case Op::kGetsockopt:
      // An error a `then.so_error` rule left for the program's connect to find.
      if (r == 0 && c.a == SOL_SOCKET && c.b == SO_ERROR && c.optval && d.entry && c.optlen &&
          *c.optlen >= static_cast<socklen_t>(sizeof(int)) &&
          d.entry->so_error.load(std::memory_order_relaxed) != 0) {
        *static_cast<int*>(c.optval) = d.entry->so_error.exchange(0, std::memory_order_relaxed);
        if (FdState{d.state}.conn() == ConnState::kConnecting) book_.resolve_pending(d, false);
        break;
      }
      if (r == 0 && c.a == SOL_SOCKET && c.b == SO_ERROR && c.optval &&
          FdState{d.state}.conn() == ConnState::kConnecting) {
        const int so_error = *static_cast<const int*>(c.optval);
        if (so_error != 0) {
          book_.resolve_pending(d, false);
        } else {
          // SO_ERROR is also 0 while the handshake is still running: ask whether it finished.
          bool connected = false;
          peer_connected(c.fd, connected);
          if (connected) book_.resolve_pending(d, true);
        }
      }
      break;
    case Op::kSend: case Op::kWrite: case Op::kSendmmsg:
    case Op::kRecv: case Op::kRead: case Op::kRecvmmsg:
      book_.after_transfer(c, d, r, e);
      if (d.paced && r > 0 && !(c.flags & MSG_PEEK)) PacketRules::charge(*d.entry, PacketRules::received(c, r));
      break;
    case Op::kDup: case Op::kDup2: {
      const bool closed = book_.after_dup(c, d, r);
      // A socket dup2 took off its target number: capture's close, before after_call below gives
      // the number the new socket's record.
      if (capture::on() && r >= 0 && c.op == Op::kDup2 && FdState{d.target_state}.kind() == FdKind::kSocket)
        capture::closing(c.a, closed);
      break;
    }
    case Op::kShutdown: case Op::kSetsockopt: case Op::kCloseRange: case Op::kGetaddrinfo:
    case Op::kFork:
      break;
  }
  if (capture::on()) capture::after_call(c, r, e, d.corrupt_bits != 0);
  return e;
}

long Switch::settle(const Call& c, FdEntry* e, std::uint32_t bits, stats::CookieSlot* slot,
                    bool count_close, long r) noexcept {
  int* const err = &errno;
  const int real_errno = *err;
  Decision d;
  d.entry = e;
  d.state = bits;
  d.slot = slot;
  d.saved_errno = real_errno;
  d.count_close = count_close;
  *err = after(c, d, r, real_errno);
  return r;
}

}  // namespace shim
