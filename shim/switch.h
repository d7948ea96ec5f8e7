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
#include "shim/call.h"
#include "shim/decision.h"
#include "shim/fdtable.h"
#include "shim/fork_watch.h"
#include "shim/packet_rules.h"
#include "shim/real.h"
#include "shim/reentry.h"
#include "shim/rule_firing.h"
#include "shim/rule_lookup.h"
#include "shim/socket_args.h"
#include "shim/socket_book.h"
#include "shim/stats/layout.h"
#include "shim/stats/segment.h"

namespace shim {

class Switch {
 public:
  // The exported function's part: descriptors that are no sockets. Reads, writes and closes of
  // files and pipes are most of what programs do; their entry says "no socket" (or, for close,
  // "never seen") and the real call is all there is to do, also inside the shim's own work
  // (where it is what the pass-through would do). An fd counts as tracked only once setup mapped
  // the table, after it resolved the real functions, so they are there. Everything else goes
  // to hot(), a function of its own taking the wrapper's arguments, so this part needs no stack
  // frame and ends in a jump: a dozen instructions for a read of a pipe.
  template <class MakeCall, class Real, class Hot, class Sock, class Ruled>
  [[gnu::always_inline]] inline auto front(MakeCall&& make, Real&& real, Hot&& hot, Sock&& sock, Ruled&& ruled) noexcept
      -> decltype(real()) {
    const Call p = make();
    // Only read, write and close: send, recv and the socket options are made on sockets (their
    // hot paths handle the odd exception), and a check here would cost every such call.
    if ((p.op == Op::kRead || p.op == Op::kWrite || p.op == Op::kClose) && book_.fds().tracked(p.fd)) {
      FdEntry& e = book_.fds().at(p.fd);
      const std::uint32_t bits = e.state.load(std::memory_order_relaxed);
      if (p.op == Op::kClose) {
        // Never seen (nothing to count) or no socket (forgotten: the number may be a socket next).
        if (bits <= FdState::kNotSocketBits) {
          if (bits != 0) e.state.store(0, std::memory_order_relaxed);   // no store to an untouched page
          return real();
        }
        // A socket: the close-only hot path, handed the entry this function already read.
        if (FdState{bits}.kind() == FdKind::kSocket) return close_socket(p.fd, &e, bits);
      } else if (bits == FdState::kNotSocketBits) {
        return real();
      } else if (FdState{bits}.kind() == FdKind::kSocket) {
        // A socket's read or write: its hot path, handed the entry this function already read
        // (hot() would look it up again).
        return sock(&e, bits);
      }
    }
    // The hot paths without rule tests, or with them when the call's type has rules (dispatch):
    // decided here, where the test costs no saved register.
    const filters::CallType t = call_type_of(p.op);
    if (t != filters::CallType::kCount && !((unruled_ >> static_cast<unsigned>(t)) & 1u)) [[unlikely]]
      return ruled();
    return hot();
  }

  // read, write and their vector and _chk forms on a socket front() found in the table: the
  // transfer hot path with that entry, else the general path.
  template <class MakeCall, class Real, class Slow>
  [[gnu::always_inline]] inline auto socket_io(MakeCall&& make, Real&& real, Slow&& slow, FdEntry* e,
                                               std::uint32_t bits) noexcept -> decltype(real()) {
    const Call p = make();
    if (t_depth != 0) [[unlikely]]
      return slow();
    return transfer<true>(p, e, bits, real, slow);
  }

  // close() of a socket the exported close found in the table (shim/wrappers.cc: it is the real
  // close and shim_general::close around close_socket_path below). Not inlined, so the exported
  // close needs no frame.
  [[gnu::noinline]] static int close_socket(int fd, FdEntry* e, std::uint32_t bits) noexcept;

  // A socket in the process that made it, not in a vfork child, that no rule concerns: counted as
  // closed when this fd is the last that names it. Anything else goes the general way.
  template <class Real, class Slow>
  [[gnu::always_inline]] inline int close_socket_path(FdEntry& e, std::uint32_t bits, Real&& real, Slow&& slow) noexcept {
    if (t_depth != 0 || (bits & FdState::kInherited) || sockshim_vfork_hint || forked_unseen()) [[unlikely]]
      return slow();
    if (!rules_.rule_free<filters::CallType::kClose>(e, bits, nullptr, 0)) return slow();
    // The slot is read before the call: once the kernel freed the number, another thread's
    // socket() or accept() may write its own socket into this entry.
    stats::CookieSlot* slot = e.slot.load(std::memory_order_relaxed);
    // A dup'd socket: only the close of its last number counts.
    if ((bits & FdState::kShared) && !book_.release_reference(book_.fds().fd_of(e), e.sock_id.load(std::memory_order_relaxed))) {
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
  //
  // Two instances per wrapper: a call whose type has no rules at all (the common case; front()
  // tells) runs dispatch_unruled(), the hot paths compiled without any rule test, so no rule
  // look-up's call makes them save registers; one with rules runs dispatch(), where the
  // per-socket cache and the port test keep it hot when they can.
  template <class MakeCall, class Real, class Slow>
  [[gnu::always_inline]] inline auto dispatch_unruled(MakeCall&& make, Real&& real, Slow&& slow) noexcept
      -> decltype(real()) {
    return dispatch_as<false>(make, real, slow);
  }
  template <class MakeCall, class Real, class Slow>
  [[gnu::always_inline]] inline auto dispatch(MakeCall&& make, Real&& real, Slow&& slow) noexcept -> decltype(real()) {
    return dispatch_as<true>(make, real, slow);
  }
  // kRuled: rules may exist for the call's type (else the caller made sure none do).
  template <bool kRuled, class MakeCall, class Real, class Slow>
  [[gnu::always_inline]] inline auto dispatch_as(MakeCall& make, Real& real, Slow& slow) noexcept -> decltype(real()) {
    using R = decltype(real());
    const Call p = make();
    // The rule tests below, which a call without rules for its type is compiled without.
    auto has_rules = [this](filters::CallType t) { return kRuled && rules_.has_rules(t); };
    // Unruled, the call came through front(), which tested it (unruled_).
    auto hot_ready = [this]() { return !kRuled || this->hot_ready(); };
    // Wrappers call the real functions through real::fns without a null test: every entry is
    // callable from the start (a resolver until its first call, shim/real.h).
    if (t_depth != 0) [[unlikely]]
      return slow();
    // Hot paths: the common calls on a socket whose state needs no system call to update and
    // that no rule concerns. Nothing they do on success can change errno, so nothing saves it;
    // failures settle out of line with errno kept. They need no "ready" test of their own: an
    // entry of kind kSocket exists only once setup completed (socket checks hot_ready() itself).
    // p.op is a constant in each wrapper, so each wrapper keeps only its own case.
    switch (p.op) {
      case Op::kSend: case Op::kRecv: case Op::kRead: case Op::kWrite: {
        if (!book_.fds().tracked(p.fd)) break;
        FdEntry* const e = &book_.fds().at(p.fd);
        const std::uint32_t bits = e->state.load(std::memory_order_relaxed);
        if ((p.op == Op::kSend || p.op == Op::kRecv) &&
            bits == FdState::kNotSocketBits)
          return real();
        return transfer<false, kRuled>(p, e, bits, real, slow);
      }
      // The datagram-vector calls (QUIC stacks make them for every batch): one call, the bytes
      // of the messages it moved, as the general path counts them (after_transfer).
      case Op::kSendmmsg: case Op::kRecvmmsg: {
        if (!book_.fds().tracked(p.fd)) break;
        FdEntry* const e = &book_.fds().at(p.fd);
        const std::uint32_t bits = e->state.load(std::memory_order_relaxed);
        const bool send = p.op == Op::kSendmmsg;
        const auto t = send ? filters::CallType::kSend : filters::CallType::kRecv;
        // As send and recv: with rules, only once the socket's decision is cached as "none" (the
        // vector calls are decided by the socket alone, never by a message's address).
        // One mask test, as transfer(): a socket, not connecting, for receives not paced (held
        // back on the general path, as recv).
        const std::uint32_t mask = FdState::kKindMask | FdState::kConnectingBit | (send ? 0 : FdState::kPaced);
        if ((bits & mask) != static_cast<std::uint32_t>(FdKind::kSocket) ||
            (has_rules(t) && e->cached_rule(t) != 1) || (!send && (p.flags & MSG_PEEK)))
          break;
        const std::uint32_t swaps = e->swaps.load(std::memory_order_acquire);
        const R r = real();
        if (r >= 0) {
          // Most batches on a socket hold one message: its length is read without a loop set-up.
          std::uint64_t bytes = r > 0 ? p.mmsg[0].msg_len : 0;
          for (R i = 1; i < r; ++i) bytes += p.mmsg[i].msg_len;
          if (__builtin_expect(e->swaps.load(std::memory_order_acquire) == swaps && !(swaps & 1), 1))
            book_.count_transfer(*e, send, bytes);
          else
            book_.count_raced(bytes);
        }
        return r;
      }
      // A listener's set-up on a known socket no rule concerns: its transitions as after() makes
      // them (bound, listened); failures count as there.
      case Op::kBind: case Op::kListen: {
        if (!book_.fds().tracked(p.fd)) break;
        FdEntry* const e = &book_.fds().at(p.fd);
        const std::uint32_t bits = e->state.load(std::memory_order_relaxed);
        if (FdState{bits}.kind() != FdKind::kSocket || has_rules(call_type_of(p.op))) break;
        const R r = real();
        if (p.op == Op::kBind) {
          if (r == 0) book_.bound(*e, p.addr, p.addrlen);
        } else if (r == 0) {
          book_.listened(*e, p.fd, bits);
        } else {
          stats::bump(*e->slot.load(std::memory_order_relaxed), stats::kListenFailed);   // errno untouched
        }
        return r;
      }
      case Op::kSocket: {
        const int type = p.b & kSockTypeMask;
        // The common kinds: the cookie from a table, and only its index across the real call.
        if (p.c == 0 && static_cast<unsigned>(p.a) < kKindDomains && static_cast<unsigned>(type) < kKindTypes) {
          const unsigned kind = kind_index(p.a, type);
          if (kDefaultCookies.v[kind] == 0 || !hot_ready() || has_rules(filters::CallType::kSocket)) break;
          return static_cast<R>(book_.socket_made_kind(static_cast<int>(real()), kind));
        }
        const int protocol = fixed_protocol(p.a, type, p.c);
        if (protocol < 0 || !hot_ready() || has_rules(filters::CallType::kSocket)) break;
        // Only the cookie lives across the real call, and the bookkeeping is a tail call to a
        // function that needs no frame on its common path: this one saves one register.
        const Cookie ck = make_cookie(p.a, type, protocol);
        return static_cast<R>(book_.socket_made(static_cast<int>(real()), ck));
      }
      case Op::kSocketpair: {
        const int type = p.b & kSockTypeMask;
        // The common kinds as socket(): the cookie from a table, its counters by the index.
        if (p.c == 0 && static_cast<unsigned>(p.a) < kKindDomains && static_cast<unsigned>(type) < kKindTypes) {
          const unsigned kind = kind_index(p.a, type);
          if (kDefaultCookies.v[kind] == 0 || !p.sv || !hot_ready() || has_rules(filters::CallType::kSocket)) break;
          int* const sv = p.sv;
          const int r = static_cast<int>(real());
          if (r != 0) [[unlikely]]
            return static_cast<R>(settle_socket(kDefaultCookies.v[kind], r));   // as socket()'s failure
          if constexpr (!kRuled) return static_cast<R>(book_.pair_made_kind(sv, kind));
          stats::CookieSlot* slot = book_.open_socket(sv[0], kDefaultCookies.v[kind], ConnState::kNone, 0, 0);
          stats::bump(*book_.open_socket(sv[1], kDefaultCookies.v[kind], ConnState::kNone, 0, 0, slot), stats::kOpened, 2);
          return r;
        }
        const int protocol = fixed_protocol(p.a, type, p.c);
        if (protocol < 0 || !p.sv || !hot_ready() || has_rules(filters::CallType::kSocket)) break;
        // As socket(): the cookie and the array live across the real call, the bookkeeping is a
        // tail call without a frame on its common path.
        const Cookie ck = make_cookie(p.a, type, protocol);
        int* const sv = p.sv;
        const int r = static_cast<int>(real());
        if (r != 0) [[unlikely]]
          return static_cast<R>(settle_socket(ck, r));   // as socket()'s failure
        if constexpr (!kRuled) return static_cast<R>(book_.pair_made(sv, ck));
        stats::CookieSlot* slot = book_.open_socket(sv[0], ck, ConnState::kNone, 0, 0);
        stats::bump(*book_.open_socket(sv[1], ck, ConnState::kNone, 0, 0, slot), stats::kOpened, 2);
        return r;
      }
      // The three below keep only the entry (and connect's address) across the real call; what
      // else they need afterwards is reloaded from the entry.
      case Op::kConnect: {
        if (!book_.fds().tracked(p.fd)) break;
        FdEntry* const e = &book_.fds().at(p.fd);
        const std::uint32_t bits = e->state.load(std::memory_order_relaxed);
        if (FdState{bits}.kind() != FdKind::kSocket || FdState{bits}.conn() != ConnState::kNone) break;
        if (kRuled && !rules_.rule_free<filters::CallType::kConnect>(*e, bits, p.addr, p.addrlen)) break;
        const R r = real();
        // With rules, the bookkeeping is a tail call (connect_made): fewer registers to save here.
        if constexpr (kRuled) return static_cast<R>(connect_made(*e, p.addr, p.addrlen, static_cast<int>(r)));
        if (r == 0) [[likely]] {
          book_.connected(*e, p.addr, p.addrlen);
          return r;
        }
        return static_cast<R>(settle_connect(*e, p.addr, p.addrlen, static_cast<long>(r)));
      }
      case Op::kAccept: {
        if (!book_.fds().tracked(p.fd)) break;
        FdEntry* const e = &book_.fds().at(p.fd);
        const std::uint32_t bits = e->state.load(std::memory_order_relaxed);
        // A listener that carries a rule's filter or pacing passes it on (after() records it).
        if (FdState{bits}.kind() != FdKind::kSocket || (bits & (FdState::kArmed | FdState::kPaced))) break;
        if (kRuled && !rules_.rule_free<filters::CallType::kAccept>(*e, bits, nullptr, 0)) break;
        const R r = real();
        if (r >= 0) [[likely]] {
          // As socket(): a tail call to a function without a frame on its common path (with
          // rules for accept, straight to its twin, which also starts the new socket's rule
          // decisions; accept_made tells the other cases itself).
          if (has_rules(filters::CallType::kAccept))
            return static_cast<R>(book_.accept_made_ruled(*e, static_cast<int>(r)));
          return static_cast<R>(book_.accept_made(*e, static_cast<int>(r)));
        }
        return static_cast<R>(settle_accept(*e, static_cast<long>(r)));
      }
      // Calls that need no bookkeeping when no rule concerns them: on a known socket they are the
      // real call; on a descriptor known to be no socket, too.
      case Op::kSetsockopt: case Op::kShutdown: case Op::kGetsockopt: {
        if (!book_.fds().tracked(p.fd)) break;
        const std::uint32_t bits = book_.fds().at(p.fd).state.load(std::memory_order_relaxed);
        if (bits == FdState::kNotSocketBits) return real();
        if (FdState{bits}.kind() != FdKind::kSocket || has_rules(call_type_of(p.op))) break;
        // getsockopt(SO_ERROR) settles a pending connect or reports an injected error: general.
        if (p.op == Op::kGetsockopt && (FdState{bits}.conn() == ConnState::kConnecting || rules_.profile().socket_state)) break;
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
        // An untracked source (also every number before setup and under --pcap, whose capture
        // sees dups on the general path) goes the general way.
        if (sockshim_vfork_hint || forked_unseen() || !book_.fds().tracked(p.fd)) break;
        FdEntry* const src = &book_.fds().at(p.fd);
        const std::uint32_t bits = src->state.load(std::memory_order_relaxed);
        FdEntry* target = nullptr;
        if (p.op == Op::kDup2) {
          if (p.a == p.fd) break;
          if (book_.fds().tracked(p.a)) {
            target = &book_.fds().at(p.a);
            if (FdState{target->state.load(std::memory_order_relaxed)}.kind() == FdKind::kSocket) break;
            target->swaps.fetch_add(1, std::memory_order_acq_rel);   // odd: a swap is under way
          }
        }
        // A socket's copy holds a reference from before the call, so a close of another of its
        // numbers racing this dup cannot take it for the last.
        const bool sock = FdState{bits}.kind() == FdKind::kSocket;
        const std::uint64_t id = sock ? book_.share_hot(*src, bits) : 0;
        // The bookkeeping afterwards is a tail call to a function without a frame on its common
        // path: only the source, its state, the identity and the target live across the call.
        return static_cast<R>(book_.dup_made(static_cast<int>(real()), sock ? src : nullptr, bits, id, target));
      }
      // getaddrinfo without DNS rules: its real call, guarded as the general path guards it (the
      // socket calls of the NSS modules it runs are libc's, not the program's), and nothing to
      // count.
      case Op::kGetaddrinfo:
        if (!hot_ready() || has_rules(filters::CallType::kGetaddrinfo)) break;
        return guarded(real);
      // close_range in the process that made the table: the sockets in the range are counted and
      // forgotten as before() does it, without the rest of the general path.
      case Op::kCloseRange:
        if (!hot_ready() || sockshim_vfork_hint || forked_unseen()) break;
        book_.close_range(static_cast<unsigned>(p.a), static_cast<unsigned>(p.b), p.c);
        return real();
      case Op::kClose:
        // A socket's close comes through close_socket (front); what reaches here is untracked.
        break;
      default:
        break;
    }
    return slow();
  }

  // A send, receive, read or write on fd entry e (state bits) with no rule decision to make: the
  // real call, counted; anything else goes the general way.
  // kSocket: the caller knows the entry is a socket's.
  // kRuled as dispatch_as().
  template <bool kSocket = false, bool kRuled = true, class Real, class Slow>
  [[gnu::always_inline]] inline auto transfer(const Call& p, FdEntry* e, std::uint32_t bits, Real& real,
                                              Slow& slow) noexcept -> decltype(real()) {
    using R = decltype(real());
    const bool send = p.op == Op::kSend || p.op == Op::kWrite;
    const auto t = send ? filters::CallType::kSend : filters::CallType::kRecv;
    // MSG_PEEK leaves the bytes queued: the recv that takes them counts them (general path).
    if (p.op == Op::kRecv && (p.flags & MSG_PEEK)) return slow();
    // A socket whose rule decision is not cached yet takes the general path once, which
    // caches it: a call here before the real call would cost every transfer saved registers.
    // A paced socket's receives are held back on the general path (send is constant per
    // wrapper, so sends pay nothing for the test).
    // One mask test: a socket (unless the caller knows), not connecting, for receives not paced.
    const std::uint32_t mask = (kSocket ? 0 : FdState::kKindMask) | FdState::kConnectingBit |
                                   (send ? 0 : FdState::kPaced);
    constexpr std::uint32_t want = kSocket ? 0 : static_cast<std::uint32_t>(FdKind::kSocket);
    if ((bits & mask) == want && (!kRuled || !rules_.has_rules(t) || (!p.addr && e->cached_rule(t) == 1))) {
      const std::uint32_t swaps = e->swaps.load(std::memory_order_acquire);
      const R r = real();
      if (r >= 0) {
        if (__builtin_expect(e->swaps.load(std::memory_order_acquire) == swaps && !(swaps & 1), 1))
          book_.count_transfer(*e, send, static_cast<std::uint64_t>(r));
        else
          book_.count_raced(static_cast<std::uint64_t>(r));
      }
      return r;
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
    d.type = call_type_of(c.op);
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
    long r = d.custom ? firing_.perform(c, d) : static_cast<long>(c.op == Op::kGetaddrinfo ? guarded(real) : real());
    int real_errno = *err;   // capture at once: the bookkeeping makes syscalls
    if (d.then) RuleFiring::apply_then(c, d, r, real_errno);
    *err = after(c, d, r, real_errno);
    return static_cast<R>(r);
  }

  // The bookkeeping of a hot-path call that failed (or a close that did not return 0), with
  // errno kept as the real call left it. Each returns r. Out of line and cold: the hot paths
  // pass only what they kept anyway.
  [[gnu::cold, gnu::noinline]] long settle(const Call& c, FdEntry* e, std::uint32_t bits,
                                           stats::CookieSlot* slot, bool count_close, long r) noexcept;
  // connect()'s outcome r on socket e with rules (their facts to start): the transition, or the
  // failure's bookkeeping. Returns r, errno untouched. Out of line, so the ruled hot path keeps
  // fewer registers across the real call; no frame on its common path (connected() calls
  // nothing unless a rule needs the connection's time).
  [[gnu::noinline]] int connect_made(FdEntry& e, const sockaddr* addr, socklen_t len, int r) noexcept {
    if (r != 0 || book_.profile().conn_time) [[unlikely]]
      return connect_made_slow(e, addr, len, r);
    book_.connected<false>(e, addr, len);   // reads no clock: no call, so no frame
    return 0;
  }
  [[gnu::noinline]] int connect_made_slow(FdEntry& e, const sockaddr* addr, socklen_t len, int r) noexcept {
    if (r == 0) {
      book_.connected(e, addr, len);
      return 0;
    }
    return static_cast<int>(settle_connect(e, addr, len, r));
  }
  // The fd is the entry's index: nothing more has to live across the real call.
  [[gnu::cold, gnu::noinline]] long settle_connect(FdEntry& e, const sockaddr* addr, socklen_t len, long r) noexcept {
    return settle(Call{.op = Op::kConnect, .fd = book_.fds().fd_of(e), .addr = addr, .addrlen = len}, &e,
                  e.state.load(std::memory_order_relaxed), e.slot.load(std::memory_order_relaxed), false, r);
  }
  [[gnu::cold, gnu::noinline]] long settle_accept(FdEntry& e, long r) noexcept {
    return settle(Call{.op = Op::kAccept, .fd = book_.fds().fd_of(e)}, &e, e.state.load(std::memory_order_relaxed),
                  e.slot.load(std::memory_order_relaxed), false, r);
  }
  [[gnu::cold, gnu::noinline]] long settle_close(stats::CookieSlot* slot, long r) noexcept {
    return settle(Call{.op = Op::kClose}, nullptr, 0, slot, true, r);
  }
  [[gnu::cold, gnu::noinline]] long settle_socket(Cookie ck, long r) noexcept {
    return settle(Call{.op = Op::kSocket, .a = cookie_family(ck), .b = cookie_type(ck), .c = cookie_protocol(ck)},
                  nullptr, 0, nullptr, false, r);
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
  FdTable& fds() noexcept { return book_.fds(); }
  void set_table(const filters::Table* t) noexcept {
    rules_.set_table(t, &starts_);
    book_.set_profile(rules_.profile(), rules_.starts());
  }
  void set_segment(stats::Segment* s) noexcept {
    book_.set_segment(s);
    rules_.set_segment(s);
    packets_.wire(book_, rules_);
    firing_.wire(book_, rules_, packets_);
  }
  // The seed rules draw from (the file's, or SOCKSHIM_SEED's).
  void set_seed(std::uint64_t seed) noexcept { firing_.set_seed(seed); }
  stats::Segment* segment() const noexcept { return book_.segment(); }
  void set_ready() noexcept {
    hot_ready_.store(!general_only_, std::memory_order_release);
    unruled_ = general_only_ ? 0 : ~rules_.profile().mask;
    ready_.store(true, std::memory_order_release);
  }
  bool ready() const noexcept { return ready_.load(std::memory_order_acquire); }
  // Every call takes the general path (sockshim run --pcap): the hot paths of calls on an fd
  // find it untracked (FdTable::general_only), the others test hot_ready(), which stays false.
  // Before set_ready().
  void set_general_only() noexcept {
    general_only_ = true;
    book_.fds().general_only();
  }
  void set_debug(bool on) noexcept {
    firing_.set_debug(on);
    packets_.set_debug(on);
  }

  // After fork(), in the child: every socket now also belongs to the parent, and the table to
  // the child.
  void mark_all_inherited(int pid) noexcept { book_.mark_all_inherited(pid); }
  void set_owner(int pid) noexcept { book_.set_owner(pid); }

 private:
  // false: not ours, pass through untouched.
  bool before(const Call& c, Decision& d) noexcept;
  // Returns the errno the program must see.
  int after(const Call& c, Decision& d, long r, int real_errno) noexcept;
  bool before_fd(const Call& c, Decision& d) noexcept;
  // ready(), for the hot paths that test it: false also when every call goes the general way.
  bool hot_ready() const noexcept { return hot_ready_.load(std::memory_order_acquire); }

  // The switch's parts, each of its own concern, none of them knowing the switch: the socket
  // life cycle, which rule concerns a call, the rules that act on the socket itself, and a rule
  // firing. Members of the one constinit object, so the hot paths address them directly; all
  // zero until setup, so the object lives in .bss. The book last: its large, rarely written
  // tables at the end, everything setup writes in the first bytes (SocketBook's members).
  RuleLookup rules_;
  PacketRules packets_;
  RuleFiring firing_;
  std::atomic<bool> ready_{false};
  std::atomic<bool> hot_ready_{false};
  bool general_only_ = false;
  // A bit per call type whose calls front() hands to dispatch_unruled(): no rules for the type,
  // and ready (hot_ready()). 0 until set_ready(), so until then every call goes the way that
  // tests both, and the unruled hot paths need no "ready" test of their own. Zero-initialised:
  // the switch stays in .bss.
  std::uint32_t unruled_ = 0;
  SocketBook book_;
  // The rule decisions sockets start with (RuleStarts), built by set_table() when the run has
  // rules: last, so a run without rules never touches its pages.
  RuleStarts starts_;
};

// The one Switch of the process. constinit: usable before any constructor has run.
extern constinit Switch g_switch;

}  // namespace shim
