// The socket life cycle: what the shim knows of each descriptor (the fd table), how each call's
// outcome changes it, and the counters each change bumps. Every transition is described once
// here; the hot paths (shim/switch.h) and the general path (after(), shim/switch.cc) both end in
// it. Knows nothing of rules beyond their profile (which per-socket state to keep).
// Everything here is allocation-free and lock-free (STYLE.md, section 7).
#pragma once

#include <linux/close_range.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdint>

#include "shim/call.h"
#include "shim/cookie.h"
#include "shim/decision.h"
#include "shim/fdtable.h"
#include "shim/rule_profile.h"
#include "shim/socket_args.h"
#include "shim/stats/layout.h"
#include "shim/stats/segment.h"

namespace shim {

class SocketBook {
 public:
  FdTable& fds() noexcept { return fds_; }
  const FdTable& fds() const noexcept { return fds_; }

  // Setup (preload.cc through the Switch): in place before the switch turns ready.
  // starts: the rule decisions sockets start with, when the run has rules (RuleStarts).
  void set_profile(const RuleProfile& p, const RuleStarts* starts) noexcept {
    profile_ = p;
    starts_ = starts;
  }
  void set_segment(stats::Segment* s) noexcept { seg_ = s; }
  stats::Segment* segment() const noexcept { return seg_; }
  const RuleProfile& profile() const noexcept { return profile_; }
  void set_owner(int pid) noexcept { owner_pid_.store(pid, std::memory_order_relaxed); }

  // The protocol the kernel reports for a socket of these arguments: fixed_protocol(), else
  // SO_PROTOCOL of fd (when fd >= 0), else `protocol` as given.
  static int kernel_protocol(int fd, int domain, int type, int protocol) noexcept;

  // Reads what the kernel knows of an fd the shim has not seen created (inherited across exec,
  // or made by a path the shim does not see) into e. True when it is a socket.
  bool classify(int fd, FdEntry& e) noexcept;

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
    // The ports are facts for rules only (RuleLookup): without rules nothing reads them, and a
    // process gets no rules later, so they are not written.
    if (profile_.any()) [[unlikely]] {
      e->local_port.store(local_port, std::memory_order_relaxed);
      e->peer_port.store(peer_port, std::memory_order_relaxed);
      open_rule_state(*e, conn);
    }
    e->state.store(FdState::make(FdKind::kSocket, conn, 0), std::memory_order_relaxed);
    return slot;
  }
  // A socket the real call made (socket, or one end of socketpair): recorded and counted opened.
  // The general path's way; the hot path inlines open_socket itself.
  void opened(int fd, Cookie cookie) noexcept { stats::bump(*open_socket(fd, cookie, ConnState::kNone, 0, 0), stats::kOpened); }

  // socket() returned r for a socket of this cookie: recorded and counted opened, or counted
  // open_failed (errno untouched). Returns r. Out of line, so the hot path's bookkeeping is a
  // tail call, and without a call on its common path (a cached slot, a number below the
  // table's high-water mark, no rules), so it needs no frame either; the rest is socket_made_slow.
  [[gnu::noinline]] int socket_made(int r, Cookie cookie) noexcept {
    if (profile_.any()) [[unlikely]] return socket_made_slow(r, cookie);   // rule state to reset
    stats::CookieSlot* s = slot_cache_[(cookie * 0x9e3779b97f4a7c15ull) >> 60].load(std::memory_order_relaxed);
    FdEntry* e = fds_.get_below_high(r);
    if (!e || !s || s->key.load(std::memory_order_relaxed) != (cookie | stats::kKeyUsed)) [[unlikely]]
      return socket_made_slow(r, cookie);
    e->cookie.store(cookie, std::memory_order_relaxed);
    e->sock_id.store(0, std::memory_order_relaxed);
    e->slot.store(s, std::memory_order_relaxed);   // no rules: no ports to keep (open_socket)
    e->state.store(FdState::make(FdKind::kSocket, ConnState::kNone, 0), std::memory_order_relaxed);
    stats::bump(*s, stats::kOpened);
    return r;
  }
  // socketpair() made the two sockets in sv, of this cookie: recorded and counted opened.
  // Returns 0. socket_made()'s shape: no frame on the common path.
  [[gnu::noinline]] int pair_made(const int* sv, Cookie cookie) noexcept {
    if (profile_.conn_time) [[unlikely]] return pair_made_slow(sv, cookie);
    stats::CookieSlot* s = slot_cache_[(cookie * 0x9e3779b97f4a7c15ull) >> 60].load(std::memory_order_relaxed);
    FdEntry* a = fds_.get_below_high(sv[0]);
    FdEntry* b = fds_.get_below_high(sv[1]);
    if (!a || !b || !s || s->key.load(std::memory_order_relaxed) != (cookie | stats::kKeyUsed)) [[unlikely]]
      return pair_made_slow(sv, cookie);
    return pair_filled(*a, *b, cookie, s);
  }
  // pair_made() for a pair of a common kind (kind_index): its counters found by that index, as
  // socket_made_kind() finds them.
  [[gnu::noinline]] int pair_made_kind(const int* sv, unsigned kind) noexcept {
    stats::CookieSlot* s = kind_slot_[kind].load(std::memory_order_relaxed);
    FdEntry* a = fds_.get_below_high(sv[0]);
    FdEntry* b = fds_.get_below_high(sv[1]);
    if (!s || !a || !b || profile_.conn_time) [[unlikely]] return pair_made_kind_slow(sv, kind);
    return pair_filled(*a, *b, kDefaultCookies.v[kind], s);
  }
  // A new socket's entry, written by the hot paths' bookkeeping (socket_made_kind, pair_made*):
  // stores only, no call, so none of them needs a frame.
  [[gnu::always_inline]] void fill_new(FdEntry& e, Cookie cookie, stats::CookieSlot* s) noexcept {
    e.cookie.store(cookie, std::memory_order_relaxed);
    e.sock_id.store(0, std::memory_order_relaxed);   // given when first dup'd
    e.slot.store(s, std::memory_order_relaxed);
    if (profile_.any()) [[unlikely]] new_rule_facts(e, 0, 0);
    e.state.store(FdState::make(FdKind::kSocket, ConnState::kNone, 0), std::memory_order_relaxed);
  }
  [[gnu::always_inline]] int pair_filled(FdEntry& a, FdEntry& b, Cookie cookie, stats::CookieSlot* s) noexcept {
    fill_new(a, cookie, s);
    fill_new(b, cookie, s);
    stats::bump(*s, stats::kOpened, 2);
    return 0;
  }
  [[gnu::noinline]] int pair_made_kind_slow(const int* sv, unsigned kind) noexcept {
    const Cookie cookie = kDefaultCookies.v[kind];
    if (!kind_slot_[kind].load(std::memory_order_relaxed))
      kind_slot_[kind].store(slot_for(cookie), std::memory_order_relaxed);
    return pair_made_slow(sv, cookie);
  }
  [[gnu::noinline]] int pair_made_slow(const int* sv, Cookie cookie) noexcept {
    stats::CookieSlot* slot = open_socket(sv[0], cookie, ConnState::kNone, 0, 0);
    stats::bump(*open_socket(sv[1], cookie, ConnState::kNone, 0, 0, slot), stats::kOpened, 2);
    return 0;
  }
  // socket_made() for a socket of a common kind (kind_index): its counters found by that index,
  // cached once the cookie's slot is known (a slot's key never changes).
  [[gnu::noinline]] int socket_made_kind(int r, unsigned kind) noexcept {
    stats::CookieSlot* s = kind_slot_[kind].load(std::memory_order_relaxed);
    FdEntry* e = fds_.get_below_high(r);
    if (!s || !e) [[unlikely]] return socket_made_kind_slow(r, kind);
    fill_new(*e, kDefaultCookies.v[kind], s);
    stats::bump(*s, stats::kOpened);
    return r;
  }
  [[gnu::noinline]] int socket_made_kind_slow(int r, unsigned kind) noexcept {
    const Cookie cookie = kDefaultCookies.v[kind];
    if (!kind_slot_[kind].load(std::memory_order_relaxed))
      kind_slot_[kind].store(slot_for(cookie), std::memory_order_relaxed);
    return socket_made_slow(r, cookie);
  }
  [[gnu::noinline]] int socket_made_slow(int r, Cookie cookie) noexcept {
    if (r >= 0)
      stats::bump(*open_socket(r, cookie, ConnState::kNone, 0, 0), stats::kOpened);
    else
      stats::bump(*slot_for(cookie), stats::kOpenFailed);
    return r;
  }

  // cookie_slot() behind a small direct-mapped cache: most programs use two or three cookies.
  // A slot's key never changes once set, so checking it makes the cache safe to share.
  [[gnu::always_inline]] stats::CookieSlot* slot_for(Cookie c) noexcept {
    stats::CookieSlot* s = slot_cache_[(c * 0x9e3779b97f4a7c15ull) >> 60].load(std::memory_order_relaxed);
    if (s && s->key.load(std::memory_order_relaxed) == (c | stats::kKeyUsed)) [[likely]]
      return s;
    return slot_for_miss(c);
  }

  // --- Transitions. Each is the one description of a change of a socket's state. ---

  // connect() succeeded at once on a socket that was not connecting: a connected client.
  // kClock false: the caller knows no rule needs the connection's time (profile().conn_time).
  template <bool kClock = true>
  void connected(FdEntry& e, const sockaddr* addr, socklen_t len) const noexcept {
    const std::uint32_t bits = e.state.load(std::memory_order_relaxed);
    if (profile_.any()) [[unlikely]] {   // facts for rules only (open_socket)
      e.peer_port.store(port_of(addr, len), std::memory_order_relaxed);
      // Not start_rules: it would cost connect itself (already near its budget with rules) what
      // it saves the connection's first close; that asks rule_free_by_port instead.
      e.reset_rule_cache();
      if constexpr (kClock) stamp_connected(e);
    }
    e.state.store(FdState::make(FdKind::kSocket, ConnState::kConnected, flags_of(bits)), std::memory_order_relaxed);
    stats::bump(*e.slot.load(std::memory_order_relaxed), stats::kConnected);
  }
  // bind() succeeded: the local port is the one asked for (0 until listen() learns the kernel's).
  void bound(FdEntry& e, const sockaddr* addr, socklen_t len) const noexcept {
    if (!profile_.any()) return;   // the port is a fact for rules only (open_socket)
    e.local_port.store(port_of(addr, len), std::memory_order_relaxed);
    e.reset_rule_cache();   // a listener's are started by listen() (start_rules)
  }
  // listen() succeeded on fd (whose state was `bits` before): a listener, counted.
  // Inlined: it is most of what listen() adds.
  [[gnu::always_inline]] void listened(FdEntry& e, int fd, std::uint32_t bits) const noexcept {
    // The port (bind to port 0 left it to the kernel) is a fact for rules only, and a getsockname
    // away: without rules it is never asked for (rules cannot appear later in a process).
    if (profile_.any()) [[unlikely]] listened_rules(e, fd);
    e.state.store(FdState::make(FdKind::kSocket, ConnState::kListening, flags_of(bits)), std::memory_order_relaxed);
    stats::bump(*e.slot.load(std::memory_order_relaxed), stats::kListened);
  }
  // accept() on listener e returned fd: the new socket shares the listener's kind and local port.
  // Returns the listener's counters.
  [[gnu::always_inline]] stats::CookieSlot* accepted(FdEntry& listener, int fd) noexcept {
    stats::CookieSlot* slot = listener.slot.load(std::memory_order_relaxed);
    stats::bump(*slot, stats::kAccepted);
    open_socket(fd, listener.cookie.load(std::memory_order_relaxed), ConnState::kAccepted,
                listener.local_port.load(std::memory_order_relaxed), 0, slot);
    return slot;
  }
  // accepted() for the hot path: returns fd. No frame on its common path (a number below the
  // high-water mark); the rest is accepted() itself. With rules, accept_made_ruled: their part
  // would cost the path without them registers.
  [[gnu::noinline]] int accept_made(FdEntry& listener, int fd) noexcept {
    if (profile_.any()) [[unlikely]] return accept_made_ruled(listener, fd);
    return accept_made_as<false>(listener, fd);
  }
  [[gnu::noinline]] int accept_made_ruled(FdEntry& listener, int fd) noexcept {
    return accept_made_as<true>(listener, fd);
  }
  template <bool kRules>
  [[gnu::always_inline]] int accept_made_as(FdEntry& listener, int fd) noexcept {
    FdEntry* e = !profile_.conn_time ? fds_.get_below_high(fd) : nullptr;   // conn_time: a clock to read
    if (!e) [[unlikely]] return accept_made_slow(listener, fd);
    stats::CookieSlot* slot = listener.slot.load(std::memory_order_relaxed);
    e->cookie.store(listener.cookie.load(std::memory_order_relaxed), std::memory_order_relaxed);
    e->sock_id.store(0, std::memory_order_relaxed);
    e->slot.store(slot, std::memory_order_relaxed);
    if constexpr (kRules)   // stores only: no call, so no frame
      new_rule_facts(*e, ConnState::kAccepted, listener.local_port.load(std::memory_order_relaxed), 0);
    e->state.store(FdState::make(FdKind::kSocket, ConnState::kAccepted, 0), std::memory_order_relaxed);
    stats::bump(*slot, stats::kAccepted);
    return fd;
  }
  [[gnu::noinline]] int accept_made_slow(FdEntry& listener, int fd) noexcept {
    accepted(listener, fd);
    return fd;
  }
  // A connect's outcome as the general path sees it (also pending ones: EINPROGRESS, EINTR,
  // EALREADY, EISCONN). d.state is the entry's state before the call.
  void after_connect(const Call& c, Decision& d, long r, int e) noexcept;
  // A pending connect settled (connected or failed), counted once whichever thread sees it.
  void resolve_pending(Decision& d, bool connected) noexcept;
  // A send or receive moved `bytes` on e (hot path): counted under the socket's cookie.
  [[gnu::always_inline]] void count_transfer(FdEntry& e, bool send, std::uint64_t bytes) noexcept {
    if (profile_.track_bytes && bytes) (send ? e.sent_bytes : e.recv_bytes).fetch_add(bytes, std::memory_order_relaxed);
    stats::CookieSlot* slot = e.slot.load(std::memory_order_relaxed);
    slot->counters[send ? stats::kSendCalls : stats::kRecvCalls].fetch_add(1, std::memory_order_relaxed);
    if (bytes)
      slot->counters[send ? stats::kSendBytes : stats::kRecvBytes].fetch_add(bytes, std::memory_order_relaxed);
  }
  // A transfer that raced a dup2 onto its fd number (FdEntry::swaps): under no kind.
  [[gnu::noinline]] void count_raced(std::uint64_t bytes) noexcept {
    seg_->header.raced_calls.fetch_add(1, std::memory_order_relaxed);
    seg_->header.raced_bytes.fetch_add(bytes, std::memory_order_relaxed);
  }
  // A transfer's outcome as the general path sees it (pending connects, MSG_PEEK, vectors).
  void after_transfer(const Call& c, Decision& d, long r, int e) noexcept;
  // A rule reset the connection on e: no longer connected.
  void reset(FdEntry& e, std::uint32_t bits) const noexcept {
    e.state.store(FdState::make(FdKind::kSocket, ConnState::kNone, flags_of(bits)), std::memory_order_relaxed);
    forget_rules(e);
  }

  // --- Closing. ---

  // Forgets fd before its close; true, with slot set, when that close is one `closed` counts (a
  // socket's last number, not inherited).
  bool forget_fd(int fd, stats::CookieSlot*& slot) noexcept;
  // close_range(first, last, flags) is about to run: counts and forgets the sockets it will close.
  // closed(fd, counted) hears of each before it is forgotten (capture's close record; the hot
  // path's call passes a no-op, which costs nothing).
  template <class Closed>
  void close_range(unsigned first, unsigned last, int flags, Closed&& closed) noexcept {
    if (!closes_now(first, last, flags)) return;
    // Clear before the real call: once it returns, the numbers can be reused by other threads.
    // forget_fd() for each, with the entry the scan found: a close_range of a few sockets costs
    // their bookkeeping, not a second look-up and a call each.
    fds_.for_each_socket_in(first, last, [&](int fd, FdEntry& e) {
      const std::uint32_t bits = e.state.load(std::memory_order_relaxed);
      if (FdState{bits}.kind() != FdKind::kSocket) return;   // closed meanwhile by another thread
      stats::CookieSlot* const slot = e.slot.load(std::memory_order_relaxed);
      const bool last_number = !(bits & FdState::kShared) ||
                               release_reference(fd, e.sock_id.load(std::memory_order_relaxed));
      e.state.store(0, std::memory_order_relaxed);
      const bool counted = last_number && !(bits & FdState::kInherited);
      closed(fd, counted);
      if (counted) stats::bump(*slot, stats::kClosed);
    });
  }
  void close_range(unsigned first, unsigned last, int flags) noexcept;   // out of line, as it was

  // --- Numbers that name one socket (dup and friends). ---

  // The socket's sharing identity (given on its first dup), with a reference taken for a copy.
  std::uint64_t share(FdEntry& e) noexcept;
  // share() for the hot path: a socket already shared (bits, its state, say so) takes one more
  // reference at once; its first dup allocates the identity out of line.
  [[gnu::always_inline]] std::uint64_t share_hot(FdEntry& e, std::uint32_t bits) noexcept {
    if (bits & FdState::kShared) {
      const std::uint64_t id = e.sock_id.load(std::memory_order_acquire);
      if (id - 1 < kDupGroups) {
        dup_refs_[id - 1].fetch_add(1, std::memory_order_acq_rel);
        return id;
      }
    }
    return share(e);
  }
  // A dup's outcome on the hot path: r, the new number or the failure (errno untouched), of a
  // dup of `src` (nullptr: no socket) whose state was bits and sharing identity id (share_hot),
  // onto target when a dup2 (its swap count goes even again). Returns r. No frame on its common
  // path (a socket's copy below the high-water mark, no rules): dup_made_slow does the rest.
  [[gnu::noinline]] int dup_made(int r, FdEntry* src, std::uint32_t bits, std::uint64_t id, FdEntry* target) noexcept {
    if (!src) {   // a file or pipe: its new number is forgotten, classified when next used
      if (FdEntry* e = fds_.find(r)) e->state.store(0, std::memory_order_relaxed);   // FdTable::clear
      if (target) target->swaps.fetch_add(1, std::memory_order_acq_rel);
      return r;
    }
    FdEntry* n = fds_.get_below_high(r);
    if (!n) [[unlikely]]
      return dup_made_slow(r, src, bits, id, target);
    n->cookie.store(src->cookie.load(std::memory_order_relaxed), std::memory_order_relaxed);
    n->sock_id.store(id, std::memory_order_relaxed);
    n->slot.store(src->slot.load(std::memory_order_relaxed), std::memory_order_relaxed);
    if (profile_.any()) [[unlikely]]   // loads and stores only: no call, so no frame
      copy_rule_facts(*src, *n);
    if (bits & (FdState::kArmed | FdState::kPaced)) [[unlikely]]
      copy_packet_rules(*src, *n);
    n->state.store(bits | FdState::kShared, std::memory_order_relaxed);   // src was marked by share()
    if (target) target->swaps.fetch_add(1, std::memory_order_acq_rel);
    return r;
  }
  [[gnu::noinline]] int dup_made_slow(int r, FdEntry* src, std::uint32_t bits, std::uint64_t id, FdEntry* target) noexcept;

  // The copy share() counted was not made after all (the dup failed). Counts the close when a
  // close of another number, racing the dup, left this reference the last one.
  void unshare(std::uint64_t id, stats::CookieSlot* slot) noexcept;
  // fd stops naming the shared socket `id`: true when it was the last number naming it.
  bool release_reference(int fd, std::uint64_t id) noexcept {
    if (id & kScanId) return last_reference(fd, id);
    if (id == 0 || id > kDupGroups) return true;
    return dup_refs_[id - 1].fetch_sub(1, std::memory_order_acq_rel) == 1;
  }
  // nfd is now a duplicate of the socket `from` (whose state was bits): it shares its facts and
  // its sharing identity `id` (from share()).
  void dup_socket(FdEntry& from, std::uint32_t bits, int nfd, std::uint64_t id) noexcept;
  // dup/dup2's outcome as the general path sees it (the target a dup2 closed, the new number).
  // True when the dup2 closed a socket on its target number with a close `closed` counts.
  bool after_dup(const Call& c, Decision& d, long r) noexcept;

  // --- The process. ---

  // A vfork() child shares the parent's memory until it execs: what it closes or dup2s there
  // must not change the parent's table.
  bool in_vfork_child() const noexcept;
  // After fork(), in the child: every socket now also belongs to the parent, and the table to
  // the child.
  void mark_all_inherited(int pid) noexcept;

  // Sets or clears one of FdState's flags on a socket's entry.
  static void set_flag(FdEntry& e, std::uint32_t flag, bool on) noexcept;
  // The socket's facts changed: cached rule decisions no longer hold (nothing to do without rules).
  void forget_rules(FdEntry& e) const noexcept {
    if (profile_.any()) e.reset_rule_cache();
  }
  // Milliseconds since the run's segment was made (rules' from_ms/until_ms, after_connected_ms).
  std::uint64_t elapsed_ms() const noexcept;

 private:
  static std::uint32_t flags_of(std::uint32_t bits) noexcept { return bits & ~FdState::kConnMask & ~FdState::kKindMask; }
  // A connection was made on e: the start of its after_connected_ms clock.
  void stamp_connected(FdEntry& e) const noexcept {
    if (profile_.conn_time) e.connected_at.store(static_cast<std::uint32_t>(elapsed_ms() + 1), std::memory_order_relaxed);
  }
  void open_rule_state(FdEntry& e, ConnState conn) noexcept;
  void listened_rules(FdEntry& e, int fd) const noexcept;
  // A dup's facts for rules: its ports and the rule decisions cached for them (a decision
  // depends on the socket's facts only, and the new number names the same socket), with no
  // per-socket rule state carried over (dup_socket's part for rules).
  [[gnu::always_inline]] void copy_rule_facts(const FdEntry& from, FdEntry& to) const noexcept {
    to.local_port.store(from.local_port.load(std::memory_order_relaxed), std::memory_order_relaxed);
    to.peer_port.store(from.peer_port.load(std::memory_order_relaxed), std::memory_order_relaxed);
    static_assert(FdEntry::kRuleWords == 3);   // unrolled, as reset_rule_cache()
    to.rule_cache[0].store(from.rule_cache[0].load(std::memory_order_relaxed), std::memory_order_relaxed);
    to.rule_cache[1].store(from.rule_cache[1].load(std::memory_order_relaxed), std::memory_order_relaxed);
    to.rule_cache[2].store(from.rule_cache[2].load(std::memory_order_relaxed), std::memory_order_relaxed);
    if (profile_.socket_state) to.reset_rule_state();
  }
  // new_rule_facts() of a socket that is no connection yet (socket, socketpair).
  [[gnu::always_inline]] void new_rule_facts(FdEntry& e, std::uint16_t local, std::uint16_t peer) const noexcept {
    new_rule_facts(e, ConnState::kNone, local, peer);
  }
  // A new socket's (or number's) facts for rules, in state conn: its ports, the rule decisions its
  // family and service port make (start_rules) and none of whatever the number named before, no
  // per-socket rule state (open_socket's part for rules, without after_connected_ms's clock:
  // callers leave sockets that need it to open_socket). The cookie is already stored.
  [[gnu::always_inline]] void new_rule_facts(FdEntry& e, ConnState conn, std::uint16_t local,
                                             std::uint16_t peer) const noexcept {
    e.local_port.store(local, std::memory_order_relaxed);
    e.peer_port.store(peer, std::memory_order_relaxed);
    start_rules(e, conn, local, peer);
    if (profile_.socket_state) e.reset_rule_state();
  }
  // The socket's facts are new (its cookie, state conn, ports local and peer; 0: unknown): its
  // rule decisions are what its family and service port make them ahead (RuleStarts: "none" for
  // the call types no rule can concern), the others to be asked. With rules only. Loads and
  // stores: no call, so the frameless bookkeeping functions stay frameless. A new socket that is
  // no connection yet (socket, socketpair) starts with none decided: it usually binds, listens or
  // connects next, each a transition of its own, so the look-up would be wasted (and socketpair
  // would pay it twice).
  [[gnu::always_inline]] void start_rules(FdEntry& e, ConnState conn, int local, int peer) const noexcept {
    if (conn == ConnState::kNone) {
      e.reset_rule_cache();
      return;
    }
    const RuleStarts& s = *starts_;
    const std::uint64_t* w = s.rows[s.row(cookie_family(e.cookie.load(std::memory_order_relaxed)),
                                          service_port_of(conn, local, peer))];
    static_assert(FdEntry::kRuleWords == 3);   // unrolled, as reset_rule_cache()
    e.rule_cache[0].store(w[0], std::memory_order_relaxed);
    e.rule_cache[1].store(w[1], std::memory_order_relaxed);
    e.rule_cache[2].store(w[2], std::memory_order_relaxed);
  }
  // What an inbound_loss or rate rule left on a socket, onto another number of it.
  [[gnu::always_inline]] static void copy_packet_rules(const FdEntry& from, FdEntry& to) noexcept {
    to.loss_rule.store(from.loss_rule.load(std::memory_order_relaxed), std::memory_order_relaxed);
    to.own_filter_len.store(from.own_filter_len.load(std::memory_order_relaxed), std::memory_order_relaxed);
    to.recv_rate.store(from.recv_rate.load(std::memory_order_relaxed), std::memory_order_relaxed);
    to.recv_due_ns.store(0, std::memory_order_relaxed);   // each number paces its own reads
  }
  stats::CookieSlot* slot_for_miss(Cookie c) noexcept;
  bool last_reference(int fd, std::uint64_t sock_id) const noexcept;
  // Whether close_range(first, last, flags) closes anything now: the kernel refuses flags it
  // does not know and first > last, and CLOEXEC only marks.
  static bool closes_now(unsigned first, unsigned last, int flags) noexcept {
    constexpr int kKnownFlags = CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC;
    return !(flags & ~kKnownFlags) && !(flags & CLOSE_RANGE_CLOEXEC) && first <= last;
  }

  // Sockets named by more than one fd number (dup and friends) share a reference count, so the
  // close that drops the last reference is told at once instead of by scanning the fd table.
  // FdEntry::sock_id is the group's index + 1; when no group is free (kDupGroups dup'd sockets
  // open at once) it is a number with kScanId set, and last_reference() scans as it always did.
  static constexpr std::uint32_t kDupGroups = 1024;
  static constexpr std::uint64_t kScanId = std::uint64_t{1} << 63;

  // What setup writes first, together: a process that never makes a socket touches one page of
  // the switch (a page fault saved in every exec'd program). The 4 KiB of dup groups last.
  FdTable fds_;
  RuleProfile profile_;
  stats::Segment* seg_ = nullptr;
  const RuleStarts* starts_ = nullptr;
  std::atomic<int> owner_pid_{0};   // the process this table describes
  std::atomic<std::uint64_t> next_sock_id_{0};   // kScanId identities (kScanId alone is one: never 0)
  std::atomic<std::uint32_t> dup_cursor_{0};
  std::atomic<stats::CookieSlot*> slot_cache_[16] = {};
  std::atomic<stats::CookieSlot*> kind_slot_[kKindDomains * kKindTypes] = {};   // socket_made_kind
  stats::CookieSlot overflow_slot_{};   // counters of cookies the segment had no room for
  std::atomic<std::uint32_t> dup_refs_[kDupGroups] = {};   // 0: the group is free
};

}  // namespace shim
