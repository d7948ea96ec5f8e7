// The Switch: socktest's call-path point, for every wrapped libc function. A wrapper hands it a
// Call and the real function; the Switch runs the before-filter (which may answer instead of the
// real call), the real call, the bookkeeping and after-filter, then the stats.
// Everything reachable from dispatch() is allocation-free and lock-free (STYLE.md, section 7).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>

#include "filters/table.h"
#include "shim/actions.h"
#include "shim/call.h"
#include "shim/capture.h"
#include "shim/fdtable.h"
#include "shim/fork_watch.h"
#include "shim/real.h"
#include "shim/reentry.h"
#include "shim/socket_filter.h"
#include "shim/stats/layout.h"
#include "shim/stats/segment.h"

namespace shim {

inline constexpr int kSockTypeMask = ~(SOCK_NONBLOCK | SOCK_CLOEXEC);

// What before() decided, handed to after().
struct Decision {
  FdEntry* entry = nullptr;            // the socket the call is on, when it is one we track
  std::uint32_t state = 0;             // entry's FdState bits as before() saw them
  stats::CookieSlot* slot = nullptr;   // counters of the socket's cookie
  int saved_errno = 0;                 // errno at entry: restored on every path that does not fail
  bool inject = false;                 // answer without calling the real function
  int err = 0;                         // errno to report when injecting
  long ret = -1;                       // value to return when injecting
  bool count_close = false;            // kClose: a close that `closed` should count
  std::uint32_t swaps = 0;             // entry's FdEntry::swaps before the real call
  FdEntry* target = nullptr;           // kDup2: the entry of the number dup2 replaces
  std::uint32_t target_state = 0;      // kDup2: its FdState bits and sharing identity before the
  std::uint64_t target_id = 0;         //   call (after_dup() releases its reference on success)
  // Set by a rule that changes the real call instead of replacing it (perform() runs it):
  bool custom = false;
  std::size_t limit = SIZE_MAX;        // short, or the cut before an after_bytes trigger
  bool duplicate = false;
  std::uint64_t corrupt_bits = 0;      // do.corrupt on a send
  actions::Draw draw;                  // the firing hit, for seeded corruption
  const filters::After* then = nullptr;  // the rule's `then`, run after the real call
  // inbound_loss on socket/accept: the socket the real call makes gets this rule's filter.
  int arm_rule = -1;
  // A socket filter option on a socket that carries a rule's filter: filter_option() answers it.
  bool filter_option = false;
  // rate on socket/accept: the socket the real call makes gets this rule's pacing.
  int pace_rule = -1;
  // A recv on a paced socket: after() charges its bytes to the socket's due time.
  bool paced = false;
};

class Switch {
 public:
  // The exported function's part: descriptors that are no sockets. Reads, writes and closes of
  // files and pipes are most of what programs do; their entry says "no socket" (or, for close,
  // "never seen") and the real call is all there is to do, also inside the shim's own work
  // (where it is what the pass-through would do). An fd counts as tracked only once setup mapped
  // the table, after it resolved the real functions, so they are there. Everything else goes
  // to hot(), a function of its own taking the wrapper's arguments, so this part needs no stack
  // frame and ends in a jump: a dozen instructions for a read of a pipe.
  template <class MakeCall, class Real, class Hot>
  [[gnu::always_inline]] inline auto front(MakeCall&& make, Real&& real, Hot&& hot) noexcept -> decltype(real()) {
    const Call p = make();
    // Only read, write and close: send, recv and the socket options are made on sockets (their
    // hot paths handle the odd exception), and a check here would cost every such call.
    if ((p.op == Op::kRead || p.op == Op::kWrite || p.op == Op::kClose) && fds_.tracked(p.fd)) {
      FdEntry& e = fds_.at(p.fd);
      const std::uint32_t bits = e.state.load(std::memory_order_relaxed);
      if ((bits & FdState::kKindMask) == static_cast<std::uint32_t>(FdKind::kNotSocket)) {
        if (p.op == Op::kClose) e.state.store(0, std::memory_order_relaxed);   // may be a socket next
        return real();
      }
      if (p.op == Op::kClose) {
        if (bits == 0) return real();   // never seen: nothing to count
        // A socket: the close-only hot path, handed the entry this function already read.
        if (FdState{bits}.kind() == FdKind::kSocket) return close_socket(p.fd, &e, bits);
      }
    }
    return hot();
  }

  // close() of a socket the exported close found in the table (shim/wrappers.cc: it is the real
  // close and shim_general::close around close_socket_path below). Not inlined, so the exported
  // close needs no frame.
  [[gnu::noinline]] static int close_socket(int fd, FdEntry* e, std::uint32_t bits) noexcept;

  // A socket in the process that made it, not in a vfork child, that no rule concerns: counted as
  // closed when this fd is the last that names it. Anything else goes the general way.
  template <class Real, class Slow>
  [[gnu::always_inline]] inline int close_socket_path(FdEntry& e, std::uint32_t bits, Real&& real, Slow&& slow) noexcept {
    if (t_depth != 0 || (bits & FdState::kInherited) || sockshim_vfork_hint || forked_unseen() || capture::on()) [[unlikely]]
      return slow();
    if (!rule_free(e, filters::CallType::kClose, bits, nullptr, 0)) return slow();
    // The slot is read before the call: once the kernel freed the number, another thread's
    // socket() or accept() may write its own socket into this entry.
    stats::CookieSlot* slot = e.slot.load(std::memory_order_relaxed);
    // A dup'd socket: only the close of its last number counts.
    if ((bits & FdState::kShared) && !release_reference(fds_.fd_of(e), e.sock_id.load(std::memory_order_relaxed))) {
      e.state.store(0, std::memory_order_relaxed);
      return real();
    }
    e.state.store(0, std::memory_order_relaxed);   // before the kernel can reuse the number
    const int r = real();
    if (r == 0) [[likely]] {
      stats::bump(*slot, stats::kClosed);
      return r;
    }
    return static_cast<int>(settle_close(slot, r));
  }

  // Runs the real call with bookkeeping around it. Passes straight through before init, inside
  // the shim's own calls, in secure-exec processes, and for fds that are not sockets.
  // The bookkeeping never calls a wrapped function, so only getaddrinfo's real call (which runs
  // NSS modules that call socket functions through the PLT) and the shim's own setup raise the
  // re-entry depth. A signal handler that interrupts a wrapped call is counted like any call.
  //
  // make() builds the Call, real() makes the real call, slow() runs general() in a function of
  // its own (each wrapper has one, taking the wrapper's own arguments). Only the hot path is
  // inlined into the exported function: its closures stay in registers, and everything else is
  // one tail call away, so the exported function's frame holds no Call and few saved registers.
  template <class MakeCall, class Real, class Slow>
  [[gnu::always_inline]] inline auto dispatch(MakeCall&& make, Real&& real, Slow&& slow) noexcept -> decltype(real()) {
    using R = decltype(real());
    const Call p = make();
    // Wrappers call the real functions through real::fns without a null test: every entry is
    // callable from the start (a resolver until its first call, shim/real.h).
    if (t_depth != 0 || capture::on()) [[unlikely]]   // --pcap: every call goes the general way
      return slow();
    // Hot paths: the common calls on a socket whose state needs no system call to update and
    // that no rule concerns. Nothing they do on success can change errno, so nothing saves it;
    // failures settle out of line with errno kept. They need no "ready" test of their own: an
    // entry of kind kSocket exists only once setup completed (socket checks ready() itself).
    // p.op is a constant in each wrapper, so each wrapper keeps only its own case.
    switch (p.op) {
      case Op::kSend: case Op::kRecv: case Op::kRead: case Op::kWrite: {
        if (!fds_.tracked(p.fd)) break;
        FdEntry* const e = &fds_.at(p.fd);
        const std::uint32_t bits = e->state.load(std::memory_order_relaxed);
        if ((p.op == Op::kSend || p.op == Op::kRecv) &&
            (bits & FdState::kKindMask) == static_cast<std::uint32_t>(FdKind::kNotSocket))
          return real();
        const bool send = p.op == Op::kSend || p.op == Op::kWrite;
        const auto t = send ? filters::CallType::kSend : filters::CallType::kRecv;
        // MSG_PEEK leaves the bytes queued: the recv that takes them counts them (general path).
        if (p.op == Op::kRecv && (p.flags & MSG_PEEK)) break;
        // A socket whose rule decision is not cached yet takes the general path once, which
        // caches it: a call here before the real call would cost every transfer saved registers.
        // A paced socket's receives are held back on the general path (send is constant per
        // wrapper, so sends pay nothing for the test).
        if (FdState{bits}.kind() == FdKind::kSocket && FdState{bits}.conn() != ConnState::kConnecting &&
            (send || !(bits & FdState::kPaced)) && (!has_rules(t) || (!p.addr && e->cached_rule(t) == 1))) {
          const std::uint32_t swaps = e->swaps.load(std::memory_order_acquire);
          const R r = real();
          if (r >= 0) {
            if (__builtin_expect(e->swaps.load(std::memory_order_acquire) == swaps && !(swaps & 1), 1))
              count_transfer(*e, send, static_cast<std::uint64_t>(r));
            else
              count_raced(static_cast<std::uint64_t>(r));
          }
          return r;
        }
        break;
      }
      // The datagram-vector calls (QUIC stacks make them for every batch): one call, the bytes
      // of the messages it moved, as the general path counts them (after_transfer).
      case Op::kSendmmsg: case Op::kRecvmmsg: {
        if (!fds_.tracked(p.fd)) break;
        FdEntry* const e = &fds_.at(p.fd);
        const std::uint32_t bits = e->state.load(std::memory_order_relaxed);
        const bool send = p.op == Op::kSendmmsg;
        const auto t = send ? filters::CallType::kSend : filters::CallType::kRecv;
        // As send and recv: with rules, only once the socket's decision is cached as "none" (the
        // vector calls are decided by the socket alone, never by a message's address).
        if (FdState{bits}.kind() != FdKind::kSocket || FdState{bits}.conn() == ConnState::kConnecting ||
            (has_rules(t) && e->cached_rule(t) != 1) || (!send && (p.flags & MSG_PEEK)))
          break;
        const std::uint32_t swaps = e->swaps.load(std::memory_order_acquire);
        const R r = real();
        if (r >= 0) {
          std::uint64_t bytes = 0;
          for (R i = 0; i < r; ++i) bytes += p.mmsg[i].msg_len;
          if (__builtin_expect(e->swaps.load(std::memory_order_acquire) == swaps && !(swaps & 1), 1))
            count_transfer(*e, send, bytes);
          else
            count_raced(bytes);
        }
        return r;
      }
      // A listener's set-up on a known socket no rule concerns: its transitions as after() makes
      // them (bound, listened); failures count as there.
      case Op::kBind: case Op::kListen: {
        if (!fds_.tracked(p.fd)) break;
        FdEntry* const e = &fds_.at(p.fd);
        const std::uint32_t bits = e->state.load(std::memory_order_relaxed);
        if (FdState{bits}.kind() != FdKind::kSocket || has_rules(call_type_of(p.op))) break;
        const R r = real();
        if (p.op == Op::kBind) {
          if (r == 0) bound(*e, p.addr, p.addrlen);
        } else if (r == 0) {
          listened(*e, p.fd, bits);
        } else {
          stats::bump(*e->slot.load(std::memory_order_relaxed), stats::kListenFailed);   // errno untouched
        }
        return r;
      }
      case Op::kSocket: {
        const int type = p.b & kSockTypeMask;
        const int protocol = fixed_protocol(p.a, type, p.c);
        if (protocol < 0 || !ready() || has_rules(filters::CallType::kSocket)) break;
        // Only the cookie lives across the real call: the failure path rebuilds the rest from it.
        const Cookie ck = make_cookie(p.a, type, protocol);
        const R r = real();
        if (r >= 0) [[likely]] {
          stats::bump(*open_socket(static_cast<int>(r), ck, ConnState::kNone, 0, 0), stats::kOpened);
          return r;
        }
        return static_cast<R>(settle_socket(ck, static_cast<long>(r)));
      }
      case Op::kSocketpair: {
        const int type = p.b & kSockTypeMask;
        const int protocol = fixed_protocol(p.a, type, p.c);
        if (protocol < 0 || !p.sv || !ready() || has_rules(filters::CallType::kSocket)) break;
        const Cookie ck = make_cookie(p.a, type, protocol);
        const R r = real();
        if (r == 0) [[likely]] {
          stats::CookieSlot* slot = open_socket(p.sv[0], ck, ConnState::kNone, 0, 0);
          stats::bump(*open_socket(p.sv[1], ck, ConnState::kNone, 0, 0, slot), stats::kOpened, 2);
          return r;
        }
        return static_cast<R>(settle_socket(ck, static_cast<long>(r)));   // as socket()'s failure
      }
      // The three below keep only the entry (and connect's address) across the real call; what
      // else they need afterwards is reloaded from the entry.
      case Op::kConnect: {
        if (!fds_.tracked(p.fd)) break;
        FdEntry* const e = &fds_.at(p.fd);
        const std::uint32_t bits = e->state.load(std::memory_order_relaxed);
        if (FdState{bits}.kind() != FdKind::kSocket || FdState{bits}.conn() != ConnState::kNone) break;
        if (!rule_free(*e, filters::CallType::kConnect, bits, p.addr, p.addrlen)) break;
        const R r = real();
        if (r == 0) [[likely]] {
          connected(*e, p.addr, p.addrlen);
          return r;
        }
        return static_cast<R>(settle_connect(*e, p.addr, p.addrlen, static_cast<long>(r)));
      }
      case Op::kAccept: {
        if (!fds_.tracked(p.fd)) break;
        FdEntry* const e = &fds_.at(p.fd);
        const std::uint32_t bits = e->state.load(std::memory_order_relaxed);
        // A listener that carries a rule's filter or pacing passes it on (after() records it).
        if (FdState{bits}.kind() != FdKind::kSocket || (bits & (FdState::kArmed | FdState::kPaced))) break;
        if (!rule_free(*e, filters::CallType::kAccept, bits, nullptr, 0)) break;
        const R r = real();
        if (r >= 0) [[likely]] {
          stats::CookieSlot* slot = e->slot.load(std::memory_order_relaxed);
          stats::bump(*slot, stats::kAccepted);
          open_socket(static_cast<int>(r), e->cookie.load(std::memory_order_relaxed), ConnState::kAccepted,
                      e->local_port.load(std::memory_order_relaxed), 0, slot);
          return r;
        }
        return static_cast<R>(settle_accept(*e, static_cast<long>(r)));
      }
      // Calls that need no bookkeeping when no rule concerns them: on a known socket they are the
      // real call; on a descriptor known to be no socket, too.
      case Op::kSetsockopt: case Op::kShutdown: case Op::kGetsockopt: {
        if (!fds_.tracked(p.fd)) break;
        const std::uint32_t bits = fds_.at(p.fd).state.load(std::memory_order_relaxed);
        if ((bits & FdState::kKindMask) == static_cast<std::uint32_t>(FdKind::kNotSocket)) return real();
        if (FdState{bits}.kind() != FdKind::kSocket || has_rules(call_type_of(p.op))) break;
        // getsockopt(SO_ERROR) settles a pending connect or reports an injected error: general.
        if (p.op == Op::kGetsockopt && (FdState{bits}.conn() == ConnState::kConnecting || socket_state_)) break;
        // A rule's filter is on the socket: the program's own filter options go the general way
        // (shim/socket_filter.h); every other option stays here.
        // The flag first, on its own: other sockets pay one test. The empty asm keeps the
        // compiler from computing the level and name tests before it (it did, for getsockopt).
        if ((bits & FdState::kArmed) && p.op != Op::kShutdown) [[unlikely]] {
          int level = p.a;
          asm volatile("" : "+r"(level));
          if (level == SOL_SOCKET && socket_filter::concerns(p.op == Op::kSetsockopt, p.b)) break;
        }
        return real();
      }
      // dup, dup2, dup3 and fcntl(F_DUPFD*), onto a number that holds no socket: what after_dup()
      // does, without the general path around it. A socket's new number shares its entry's facts
      // (dup_socket); any other new number is forgotten and classified when next used (programs
      // dup files and pipes all the time: shells, daemons redirecting stdio). dup2 onto a socket
      // (its close may count), onto itself, a vfork child or a fork nobody told us of: general.
      case Op::kDup: case Op::kDup2: {
        if (sockshim_vfork_hint || forked_unseen() || !ready()) break;
        FdEntry* const src = fds_.tracked(p.fd) ? &fds_.at(p.fd) : nullptr;
        const std::uint32_t bits = src ? src->state.load(std::memory_order_relaxed) : 0;
        FdEntry* target = nullptr;
        if (p.op == Op::kDup2) {
          if (p.a == p.fd) break;
          if (fds_.tracked(p.a)) {
            target = &fds_.at(p.a);
            if (FdState{target->state.load(std::memory_order_relaxed)}.kind() == FdKind::kSocket) break;
            target->swaps.fetch_add(1, std::memory_order_acq_rel);   // odd: a swap is under way
          }
        }
        // A socket's copy holds a reference from before the call, so a close of another of its
        // numbers racing this dup cannot take it for the last.
        const bool sock = FdState{bits}.kind() == FdKind::kSocket;
        const std::uint64_t id = sock ? share(*src) : 0;
        const R r = real();
        if (r >= 0) {
          if (sock)
            dup_socket(*src, bits, static_cast<int>(r), id);
          else if (fds_.tracked(static_cast<int>(r)))
            fds_.at(static_cast<int>(r)).state.store(0, std::memory_order_relaxed);   // FdTable::clear
        } else if (sock) {
          unshare(id, src->slot.load(std::memory_order_relaxed));   // errno untouched
        }
        if (target) target->swaps.fetch_add(1, std::memory_order_acq_rel);
        return r;
      }
      // getaddrinfo without DNS rules: its real call, guarded as the general path guards it (the
      // socket calls of the NSS modules it runs are libc's, not the program's), and nothing to
      // count.
      case Op::kGetaddrinfo:
        if (!ready() || has_rules(filters::CallType::kGetaddrinfo)) break;
        return guarded(real);
      // close_range in the process that made the table: the sockets in the range are counted and
      // forgotten as before() does it, without the rest of the general path.
      case Op::kCloseRange:
        if (!ready() || sockshim_vfork_hint || forked_unseen()) break;
        close_range_fds(p);
        return real();
      case Op::kClose:
        // A socket's close comes through close_socket (front); what reaches here is untracked.
        break;
      default:
        break;
    }
    return slow();
  }

  // Everything but the hot path: each wrapper's slow() function inlines it.
  template <class MakeCall, class Real>
  [[gnu::always_inline]] inline auto general(MakeCall& make, Real& real) noexcept -> decltype(real()) {
    using R = decltype(real());
    if (t_depth != 0 || !ready_.load(std::memory_order_relaxed)) [[unlikely]]
      return passthrough(real);
    if (forked_unseen()) [[unlikely]]
      adopt_fork();   // a child of _Fork() or clone(): no fork handler told us
    const Call c = make();
    int* const err = &errno;   // one __errno_location call, not four
    Decision d;
    d.saved_errno = *err;
    if (!before(c, d)) {
      *err = d.saved_errno;
      return real();
    }
    // getaddrinfo's real call runs NSS modules, whose socket calls are libc's business, not the
    // program's: they pass through uncounted and unfaulted (guarded).
    if (d.inject) {
      *err = d.err;
      return static_cast<R>(d.ret);
    }
    *err = d.saved_errno;
    long r = d.custom ? perform(c, d) : static_cast<long>(c.op == Op::kGetaddrinfo ? guarded(real) : real());
    int real_errno = *err;   // capture at once: the bookkeeping makes syscalls
    if (d.then) apply_then(c, d, r, real_errno);
    *err = after(c, d, r, real_errno);
    return static_cast<R>(r);
  }

  // The protocol the kernel will report with SO_PROTOCOL when it is fixed by the arguments
  // (inet stream/dgram with 0 mean TCP/UDP, unix has 0, a non-zero protocol is itself); -1 when
  // only the kernel can tell.
  static int fixed_protocol(int domain, int type, int protocol) noexcept {
    if (protocol != 0) return protocol;
    if (domain == AF_UNIX) return 0;
    if (domain == AF_INET || domain == AF_INET6) {
      if (type == SOCK_STREAM) return IPPROTO_TCP;
      if (type == SOCK_DGRAM) return IPPROTO_UDP;
    }
    return -1;
  }

  // True when no rule can act on a call of type t on this socket: none for t at all, the
  // socket's cached decision is "none", or no rule names its family and service port (addr: the
  // address the call itself names, which decides the service port; nullptr for the socket's own).
  // Otherwise the general path decides, with every fact.
  [[gnu::always_inline]] bool rule_free(FdEntry& e, filters::CallType t, std::uint32_t bits,
                                        const sockaddr* addr, socklen_t addrlen) noexcept {
    if (!has_rules(t)) return true;
    if (!addr) {
      if (const std::uint16_t v = e.cached_rule(t)) return v == 1;
    }
    return rule_free_by_port(e, t, bits, addr, addrlen);
  }
  [[gnu::noinline]] bool rule_free_by_port(FdEntry& e, filters::CallType t, std::uint32_t bits,
                                           const sockaddr* addr, socklen_t addrlen) noexcept;
  [[gnu::noinline]] bool rule_free_by_family(FdEntry& e, filters::CallType t, int service, bool per_call) noexcept;

  // The rule (index) that concerns call c on socket e, -1 when none; caches per socket.
  int rule_for(const Call& c, FdEntry& e, std::uint32_t bits) noexcept;
  int socket_rule(const Call& c) const noexcept;

  // A blocking connect succeeded: the entry becomes a connected client and counts it.
  void connected(FdEntry& e, const sockaddr* addr, socklen_t len) const noexcept {
    const std::uint32_t bits = e.state.load(std::memory_order_relaxed);
    e.peer_port.store(port_of(addr, len), std::memory_order_relaxed);
    forget_rules(e);
    stamp_connected(e);
    e.state.store(FdState::make(FdKind::kSocket, ConnState::kConnected,
                                bits & ~FdState::kConnMask & ~FdState::kKindMask),
                  std::memory_order_relaxed);
    stats::bump(*e.slot.load(std::memory_order_relaxed), stats::kConnected);
  }

  // bind() succeeded: the local port is the one asked for (0 until listen() learns the kernel's).
  // The hot path and after() both end here: one description of the transition.
  void bound(FdEntry& e, const sockaddr* addr, socklen_t len) const noexcept {
    e.local_port.store(port_of(addr, len), std::memory_order_relaxed);
    forget_rules(e);
  }
  // listen() succeeded on fd (whose state was `bits` before): a listener, counted.
  void listened(FdEntry& e, int fd, std::uint32_t bits) const noexcept;

  static std::uint16_t port_of(const sockaddr* a, socklen_t n) noexcept {
    if (!a) return 0;
    if (a->sa_family == AF_INET && n >= static_cast<socklen_t>(sizeof(sockaddr_in)))
      return ntohs(reinterpret_cast<const sockaddr_in*>(a)->sin_port);
    if (a->sa_family == AF_INET6 && n >= static_cast<socklen_t>(sizeof(sockaddr_in6)))
      return ntohs(reinterpret_cast<const sockaddr_in6*>(a)->sin6_port);
    return 0;
  }
  struct Ports {
    int local = -1, peer = -1, service = -1;
  };
  static Ports ports_of(const Call& c, const FdEntry& e, std::uint32_t bits) noexcept;

  // The bookkeeping of a hot-path call that failed (or a close that did not return 0), with
  // errno kept as the real call left it. Each returns r. Out of line and cold: the hot paths
  // pass only what they kept anyway.
  [[gnu::cold, gnu::noinline]] long settle(const Call& c, FdEntry* e, std::uint32_t bits,
                                           stats::CookieSlot* slot, bool count_close, long r) noexcept;
  // The fd is the entry's index: nothing more has to live across the real call.
  [[gnu::cold, gnu::noinline]] long settle_connect(FdEntry& e, const sockaddr* addr, socklen_t len, long r) noexcept {
    return settle(Call{.op = Op::kConnect, .fd = fds_.fd_of(e), .addr = addr, .addrlen = len}, &e,
                  e.state.load(std::memory_order_relaxed), e.slot.load(std::memory_order_relaxed), false, r);
  }
  [[gnu::cold, gnu::noinline]] long settle_accept(FdEntry& e, long r) noexcept {
    return settle(Call{.op = Op::kAccept, .fd = fds_.fd_of(e)}, &e, e.state.load(std::memory_order_relaxed),
                  e.slot.load(std::memory_order_relaxed), false, r);
  }
  [[gnu::cold, gnu::noinline]] long settle_close(stats::CookieSlot* slot, long r) noexcept {
    return settle(Call{.op = Op::kClose}, nullptr, 0, slot, true, r);
  }
  [[gnu::cold, gnu::noinline]] long settle_socket(Cookie ck, long r) noexcept {
    return settle(Call{.op = Op::kSocket, .a = cookie_family(ck), .b = cookie_type(ck), .c = cookie_protocol(ck)},
                  nullptr, 0, nullptr, false, r);
  }

  // A transfer that raced a dup2 onto its fd number (FdEntry::swaps): under no kind.
  [[gnu::noinline]] void count_raced(std::uint64_t bytes) noexcept {
    seg_->header.raced_calls.fetch_add(1, std::memory_order_relaxed);
    seg_->header.raced_bytes.fetch_add(bytes, std::memory_order_relaxed);
  }

  [[gnu::always_inline]] void count_transfer(FdEntry& e, bool send, std::uint64_t bytes) noexcept {
    if (track_bytes_ && bytes) (send ? e.sent_bytes : e.recv_bytes).fetch_add(bytes, std::memory_order_relaxed);
    stats::CookieSlot* slot = e.slot.load(std::memory_order_relaxed);
    slot->counters[send ? stats::kSendCalls : stats::kRecvCalls].fetch_add(1, std::memory_order_relaxed);
    if (bytes)
      slot->counters[send ? stats::kSendBytes : stats::kRecvBytes].fetch_add(bytes, std::memory_order_relaxed);
  }

  // Before setup (a call from another library's constructor) or inside the shim's own work. The
  // real function resolves itself on its first call (shim/real.h).
  template <class Real>
  [[gnu::cold]] static auto passthrough(Real& real) noexcept -> decltype(real()) {
    return real();
  }

  template <class Real>
  static auto guarded(Real& real) noexcept -> decltype(real()) {
    ReentryGuard guard;
    return real();
  }

  // Setup (preload.cc): everything is in place before ready() turns true.
  FdTable& fds() noexcept { return fds_; }
  void set_table(const filters::Table* t) noexcept {
    table_ = t;
    rule_mask_ = 0;
    conn_time_ = false;
    track_bytes_ = false;
    for (std::size_t i = 0; t && i < filters::kCallTypeCount; ++i)
      if (t->has_rules_for(static_cast<filters::CallType>(i))) rule_mask_ |= 1u << i;
    socket_state_ = false;
    for (std::size_t i = 0; t && i < t->rules().size(); ++i) {
      const filters::Rule& r = t->rules()[i];
      if (r.when.needs_connect_time()) conn_time_ = true;
      if (r.when.needs_socket_bytes()) track_bytes_ = true;
      if (r.when.count == filters::Count::kSocket || r.then.kind == filters::AfterKind::kSoError)
        socket_state_ = true;
    }
    socket_state_ = socket_state_ || conn_time_ || track_bytes_;
  }
  void set_segment(stats::Segment* s) noexcept { seg_ = s; }
  // The seed rules draw from (the file's, or SOCKSHIM_SEED's) and the run's start, for triggers.
  void set_seed(std::uint64_t seed) noexcept { seed_ = seed; }
  stats::Segment* segment() const noexcept { return seg_; }
  void set_ready() noexcept { ready_.store(true, std::memory_order_release); }
  bool ready() const noexcept { return ready_.load(std::memory_order_acquire); }
  void set_debug(bool on) noexcept { debug_ = on; }

  // After fork(), in the child: every socket now also belongs to the parent, and the table to
  // the child.
  void mark_all_inherited() noexcept;
  void set_owner(int pid) noexcept { owner_pid_.store(pid, std::memory_order_relaxed); }

 private:
  // false: not ours, pass through untouched.
  bool before(const Call& c, Decision& d) noexcept;
  // Returns the errno the program must see.
  int after(const Call& c, Decision& d, long r, int real_errno) noexcept;

  bool before_fd(const Call& c, Decision& d) noexcept;
  bool classify(int fd, FdEntry& e) noexcept;
  void apply_rules(const Call& c, Decision& d, const filters::SocketFacts& f) noexcept;
  void fire(const Call& c, Decision& d, int rule) noexcept;
  // The before-action of a rule that fired.
  // hit: the rule's hit number in its counting scope; draw_hit: the run-wide one, for draws.
  void act(const Call& c, Decision& d, const filters::Rule& rule, int idx, std::uint64_t hit,
           std::uint64_t draw_hit) noexcept;
  // The counters of a "count": "socket" rule on this socket (a small per-socket table).
  SocketRuleCount* socket_count(FdEntry& e, int rule) noexcept;
  // Runs the real call with the changes a rule asked for (short, duplicate, corrupt).
  long perform(const Call& c, const Decision& d) noexcept;
  void apply_then(const Call& c, Decision& d, long& r, int& e) noexcept;
  void log_event(const Call& c, const Decision& d, int rule, std::uint64_t hit, int err) noexcept;
  std::uint64_t elapsed_ms() const noexcept;
  // A connection was made on e: the start of its after_connected_ms clock.
  void stamp_connected(FdEntry& e) const noexcept {
    if (conn_time_) e.connected_at.store(static_cast<std::uint32_t>(elapsed_ms() + 1), std::memory_order_relaxed);
  }
  // The first rule after `after` that matches and is not switched off in the segment.
  int first_enabled(filters::CallType t, const filters::SocketFacts& f, int after) const noexcept;
  // path_buf holds the unix path the facts point to (kPathBuf bytes).
  static constexpr std::size_t kPathBuf = 112;
  filters::SocketFacts facts_of(const Call& c, const FdEntry& e, std::uint32_t bits, char* path_buf) const noexcept;
  void count_injected(const Call& c, Decision& d) noexcept;
  // Attaches inbound_loss rule idx's filter to fd, an IP socket of that family (other families
  // carry no IP packets and are left alone), in front of any classic filter already on it.
  // e: fd's entry, which records it (null when fd is untracked).
  void arm_loss(int fd, FdEntry* e, int family, int idx) noexcept;
  // The kernel copies a listener's filter to the connections it accepts: so does the record.
  void inherit_filter(const FdEntry& listener, FdEntry* accepted) noexcept;
  // rate rule idx on fd, a TCP socket: SO_MAX_PACING_RATE for what it sends, and (in e) the
  // pacing of what it receives. rate: bytes a second.
  void pace(int fd, FdEntry* e, int idx) noexcept;
  void set_recv_rate(FdEntry* e, std::uint32_t rate) noexcept;
  // Sets or clears one of FdState's flags on a socket's entry.
  static void set_flag(FdEntry& e, std::uint32_t flag, bool on) noexcept;
  // A recv on a paced socket: waits until its due time, and cuts the read to one step (hold_back).
  void hold_back(const Call& c, Decision& d) noexcept;
  // n bytes received on a paced socket: its due time moves on by n / rate.
  static void charge(FdEntry& e, std::uint64_t n) noexcept;
  // The rule's filter (its gate) into out; its length, 0 when the rule has none.
  std::size_t loss_gate(int idx, std::span<bpfvm::Instruction> out) const noexcept;
  // Records which rule's filter is on e's socket (0: none) and the program's part behind it, in
  // every fd entry that names the socket.
  void set_filter_state(FdEntry* e, std::uint16_t rule_plus1, std::uint16_t own_len) noexcept;
  // A SOL_SOCKET option socket_filter answers on a socket that carries a rule's filter.
  static bool filter_option_of(bool set, int level, int name) noexcept {
    return level == SOL_SOCKET && socket_filter::concerns(set, name);
  }
  // The program's SO_ATTACH_FILTER, SO_ATTACH_BPF, SO_DETACH_FILTER or SO_GET_FILTER on a socket
  // that carries a rule's filter (shim/socket_filter.h). Returns the call's result, errno set.
  long filter_option(const Call& c, const Decision& d) noexcept;
  // Records a socket the program just created or accepted; returns its counters. Inlined: it is
  // most of what socket() and accept() add.
  [[gnu::always_inline]] stats::CookieSlot* open_socket(int fd, Cookie cookie, ConnState conn,
                                                        std::uint16_t local_port, std::uint16_t peer_port,
                                                        stats::CookieSlot* slot = nullptr) noexcept {
    if (!slot) slot = slot_for(cookie);
    FdEntry* e = fds_.get(fd);
    if (!e) [[unlikely]] return slot;
    e->cookie.store(cookie, std::memory_order_relaxed);
    e->sock_id.store(0, std::memory_order_relaxed);   // given when first dup'd
    e->slot.store(slot, std::memory_order_relaxed);
    e->local_port.store(local_port, std::memory_order_relaxed);
    e->peer_port.store(peer_port, std::memory_order_relaxed);
    if (rule_mask_) [[unlikely]] open_rule_state(*e, conn);
    e->state.store(FdState::make(FdKind::kSocket, conn, 0), std::memory_order_relaxed);
    return slot;
  }
  void open_rule_state(FdEntry& e, ConnState conn) noexcept;
  // cookie_slot() behind a small direct-mapped cache: most programs use two or three cookies.
  // A slot's key never changes once set, so checking it makes the cache safe to share.
  [[gnu::always_inline]] stats::CookieSlot* slot_for(Cookie c) noexcept {
    stats::CookieSlot* s = slot_cache_[(c * 0x9e3779b97f4a7c15ull) >> 60].load(std::memory_order_relaxed);
    if (s && s->key.load(std::memory_order_relaxed) == (c | stats::kKeyUsed)) [[likely]]
      return s;
    return slot_for_miss(c);
  }
  stats::CookieSlot* slot_for_miss(Cookie c) noexcept;
  void close_fd(int fd, Decision& d) noexcept;
  // Forgets fd before its close; true, with slot set, when that close is one `closed` counts (a
  // socket's last number, not inherited). close_fd's work without a Decision (close_range).
  bool forget_fd(int fd, stats::CookieSlot*& slot) noexcept;
  // close_range(c.a, c.b, c.c) is about to run: counts and forgets the sockets it will close.
  void close_range_fds(const Call& c) noexcept;
  void after_connect(const Call& c, Decision& d, long r, int e) noexcept;
  void after_transfer(const Call& c, Decision& d, long r, int e) noexcept;
  void after_dup(const Call& c, Decision& d, long r) noexcept;
  // nfd is now a duplicate of the socket `from` (whose state was bits): it shares its facts and
  // its sharing identity `id` (from share()).
  void dup_socket(FdEntry& from, std::uint32_t bits, int nfd, std::uint64_t id) noexcept;

  // Sockets named by more than one fd number (dup and friends) share a reference count, so the
  // close that drops the last reference is told at once instead of by scanning the fd table.
  // FdEntry::sock_id is the group's index + 1; when no group is free (kDupGroups dup'd sockets
  // open at once) it is a number with kScanId set, and last_reference() scans as it always did.
  static constexpr std::uint32_t kDupGroups = 1024;
  static constexpr std::uint64_t kScanId = std::uint64_t{1} << 63;
  // The socket's sharing identity (given on its first dup), with a reference taken for a copy.
  std::uint64_t share(FdEntry& e) noexcept;
  // The copy share() counted was not made after all (the dup failed). Counts the close when a
  // close of another number, racing the dup, left this reference the last one.
  void unshare(std::uint64_t id, stats::CookieSlot* slot) noexcept;
  // fd stops naming the shared socket `id`: true when it was the last number naming it.
  bool release_reference(int fd, std::uint64_t id) noexcept {
    if (id & kScanId) return last_reference(fd, id);
    if (id == 0 || id > kDupGroups) return true;
    return dup_refs_[id - 1].fetch_sub(1, std::memory_order_acq_rel) == 1;
  }
  void resolve_pending(Decision& d, bool connected) noexcept;
  bool last_reference(int fd, std::uint64_t sock_id) const noexcept;
  bool in_vfork_child() const noexcept;
  // The socket's facts changed: cached rule decisions no longer hold (nothing to do without rules).
  void forget_rules(FdEntry& e) const noexcept {
    if (rule_mask_) e.reset_rule_cache();
  }
  bool has_rules(filters::CallType t) const noexcept {
    return (rule_mask_ >> static_cast<unsigned>(t)) & 1u;
  }

  FdTable fds_;
  const filters::Table* table_ = nullptr;
  std::uint32_t rule_mask_ = 0;   // bit per CallType that has rules: one test on the hot path
  bool conn_time_ = false;         // some rule triggers on the time since a socket connected
  bool track_bytes_ = false;       // some rule triggers on the bytes a socket moved
  bool socket_state_ = false;      // some rule keeps state in the fd entry's second line
  std::uint64_t seed_ = 0;
  stats::Segment* seg_ = nullptr;
  std::atomic<bool> ready_{false};
  bool debug_ = false;
  std::atomic<std::uint64_t> next_sock_id_{1};   // kScanId identities
  std::atomic<std::uint32_t> dup_refs_[kDupGroups] = {};   // 0: the group is free
  std::atomic<std::uint32_t> dup_cursor_{0};
  std::atomic<int> owner_pid_{0};   // the process this table describes
  std::atomic<stats::CookieSlot*> slot_cache_[16] = {};
  stats::CookieSlot overflow_slot_{};   // counters of cookies the segment had no room for
};

// The one Switch of the process. constinit: usable before any constructor has run.
extern constinit Switch g_switch;

}  // namespace shim
