// The Switch: socktest's call-path point, for every wrapped libc function. A wrapper hands it a
// Call and the real function; the Switch runs the before-filter (which may answer instead of the
// real call), the real call, the bookkeeping and after-filter, then the stats.
// Everything reachable from dispatch() is allocation-free and lock-free (STYLE.md, section 7).
#pragma once

#include <cerrno>
#include <cstdint>

#include "filters/table.h"
#include "shim/call.h"
#include "shim/fdtable.h"
#include "shim/reentry.h"
#include "shim/stats/layout.h"

namespace shim {

// What before() decided, handed to after().
struct Decision {
  FdEntry* entry = nullptr;            // the socket the call is on, when it is one we track
  std::uint32_t state = 0;             // entry's FdState bits as before() saw them
  stats::CookieSlot* slot = nullptr;   // counters of the socket's cookie
  int saved_errno = 0;                 // errno at entry: restored on every path that does not fail
  bool inject = false;                 // answer without calling the real function
  int err = 0;                         // errno to report when injecting
  long ret = -1;                       // value to return when injecting
  bool count_close = false;            // kClose/kDup2: a close that `closed` should count
};

class Switch {
 public:
  // Runs the real call with bookkeeping around it. Passes straight through before init, inside
  // the shim's own calls, in secure-exec processes, and for fds that are not sockets.
  // The bookkeeping never calls a wrapped function, so only getaddrinfo's real call (which runs
  // NSS modules that call socket functions through the PLT) and the shim's own setup raise the
  // re-entry depth. A signal handler that interrupts a wrapped call is counted like any call.
  template <class Real>
  auto dispatch(const Call& c, Real&& real) noexcept -> decltype(real()) {
    using R = decltype(real());
    if (t_depth != 0 || !ready_.load(std::memory_order_relaxed)) [[unlikely]]
      return real();
    Decision d;
    d.saved_errno = errno;
    if (!before(c, d)) {
      errno = d.saved_errno;
      return real();
    }
    if (d.inject) {
      errno = d.err;
      return static_cast<R>(d.ret);
    }
    errno = d.saved_errno;
    const R r = c.op == Op::kGetaddrinfo ? guarded(real) : real();
    const int real_errno = errno;   // capture at once: the bookkeeping makes syscalls
    errno = after(c, d, static_cast<long>(r), real_errno);
    return r;
  }

  template <class Real>
  static auto guarded(Real& real) noexcept -> decltype(real()) {
    ReentryGuard guard;
    return real();
  }

  // Setup (preload.cc): everything is in place before ready() turns true.
  FdTable& fds() noexcept { return fds_; }
  void set_table(const filters::Table* t) noexcept { table_ = t; }
  void set_segment(stats::Segment* s) noexcept { seg_ = s; }
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
  // The first rule after `after` that matches and is not switched off in the segment.
  int first_enabled(filters::CallType t, const filters::SocketFacts& f, int after) const noexcept;
  filters::SocketFacts facts_of(const Call& c, const FdEntry& e, std::uint32_t bits) const noexcept;
  void count_injected(const Call& c, Decision& d) noexcept;
  // Records a socket the program just created or accepted; returns its counters.
  stats::CookieSlot* open_socket(int fd, Cookie cookie, ConnState conn, std::uint16_t local_port,
                                 std::uint16_t peer_port) noexcept;
  void close_fd(int fd, Decision& d) noexcept;
  void after_connect(const Call& c, Decision& d, long r, int e) noexcept;
  void after_transfer(const Call& c, Decision& d, long r, int e) noexcept;
  void after_dup(const Call& c, Decision& d, long r) noexcept;
  void resolve_pending(Decision& d, bool connected) noexcept;
  bool last_reference(int fd, std::uint64_t sock_id) const noexcept;
  bool in_vfork_child() const noexcept;

  FdTable fds_;
  const filters::Table* table_ = nullptr;
  stats::Segment* seg_ = nullptr;
  std::atomic<bool> ready_{false};
  bool debug_ = false;
  std::atomic<std::uint64_t> next_sock_id_{1};
  std::atomic<int> owner_pid_{0};   // the process this table describes
};

// The one Switch of the process. constinit: usable before any constructor has run.
extern constinit Switch g_switch;

}  // namespace shim
