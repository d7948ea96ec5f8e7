// What the shim knows about each file descriptor of this process, indexed by fd number.
// Lock-free: a two-level table (a fixed directory of chunk pointers, chunks mapped on first use
// and published with CAS), so the read path is two loads and growing never blocks a reader.
// fds at or beyond the limit (RLIMIT_NOFILE's hard limit, at most kMaxFds) are untracked, silently.
#pragma once

#include <atomic>
#include <cstdint>

#include "filters/call_type.h"
#include "shim/cookie.h"
#include "shim/stats/layout.h"

namespace shim {

enum class FdKind : std::uint32_t { kUnknown = 0, kNotSocket = 1, kSocket = 2 };

// Where a socket is in its life, as far as the counters care.
enum class ConnState : std::uint32_t {
  kNone = 0,
  kConnecting = 1,  // connect() said EINPROGRESS (or EINTR): completion still to be counted
  kConnected = 2,   // client side of a connection
  kListening = 3,
  kAccepted = 4,    // server side of a connection
};

// Packed into FdEntry::state so one load tells everything the hot path needs.
struct FdState {
  static constexpr std::uint32_t kKindMask = 0x3, kConnShift = 2, kConnMask = 0x7 << kConnShift;
  static constexpr std::uint32_t kInherited = 1u << 5;  // came from fork/exec: not ours to count closed
  static constexpr std::uint32_t kShared = 1u << 6;     // dup'd: another fd may name the same socket
  std::uint32_t bits = 0;
  FdKind kind() const noexcept { return static_cast<FdKind>(bits & kKindMask); }
  ConnState conn() const noexcept { return static_cast<ConnState>((bits & kConnMask) >> kConnShift); }
  bool has(std::uint32_t flag) const noexcept { return (bits & flag) != 0; }
  static std::uint32_t make(FdKind k, ConnState c, std::uint32_t flags) noexcept {
    return static_cast<std::uint32_t>(k) | (static_cast<std::uint32_t>(c) << kConnShift) | flags;
  }
};

// Per-socket counters of a rule whose triggers count per socket ("count": "socket").
struct SocketRuleCount {
  std::atomic<std::uint32_t> rule;    // rule index + 1; 0: free
  std::atomic<std::uint32_t> hits;
  std::atomic<std::uint32_t> fired;
};

// Fields are atomics so threads that share an fd never race in the C++ sense; a program that
// uses one fd from two threads at once may see one update before the other, which is harmless
// for counting.
// Two cache lines, and fd * 128 is a shift. The hot paths touch only the first; the second holds
// what only rules need, written on the slow path.
struct alignas(128) FdEntry {
  std::atomic<std::uint32_t> state;
  std::atomic<std::uint16_t> local_port;   // host order; 0 unknown
  std::atomic<std::uint16_t> peer_port;
  std::atomic<Cookie> cookie;
  std::atomic<std::uint64_t> sock_id;      // same for every fd naming one socket (dup)
  std::atomic<stats::CookieSlot*> slot;    // counters of cookie, cached
  // Per call type, the rule the socket's own facts select: 0 not yet known, 1 none, else
  // index + 2. Matching depends only on those facts, so a socket pays for the scan of the rule
  // table once per call type, not once per call. Reset whenever the facts change.
  std::atomic<std::uint16_t> rule_cache[filters::kCallTypeCount];

  // --- second line: state for the triggers and actions of rules ---
  std::atomic<std::uint64_t> sent_bytes;      // counted only while some rule has after_bytes
  std::atomic<std::uint64_t> recv_bytes;
  std::atomic<std::uint32_t> connected_at;    // ms since the run started, + 1; 0: not connected
  std::atomic<std::int32_t> so_error;         // injected SO_ERROR still to report; 0: none
  static constexpr int kSocketRuleCounts = 3;
  SocketRuleCount per_socket[kSocketRuleCounts];

  void reset_rule_cache() noexcept {
    for (auto& r : rule_cache) r.store(0, std::memory_order_relaxed);
  }
  // A new socket under this number: nothing of the old one's rule state may carry over.
  void reset_rule_state() noexcept {
    sent_bytes.store(0, std::memory_order_relaxed);
    recv_bytes.store(0, std::memory_order_relaxed);
    connected_at.store(0, std::memory_order_relaxed);
    so_error.store(0, std::memory_order_relaxed);
    for (auto& c : per_socket) c.rule.store(0, std::memory_order_relaxed);
  }
};
static_assert(sizeof(FdEntry) == 128);

class FdTable {
 public:
  static constexpr int kChunkBits = 10;
  static constexpr int kChunk = 1 << kChunkBits;
  static constexpr int kMaxFds = 1 << 20;   // the kernel's default nr_open

  // Sets the limit from RLIMIT_NOFILE. Call once before use.
  void init() noexcept;

  // The entry of fd, or nullptr when its chunk was never needed (state is then "unknown").
  [[gnu::always_inline]] FdEntry* find(int fd) const noexcept {
    if (static_cast<unsigned>(fd) >= static_cast<unsigned>(limit_)) return nullptr;
    return chunk_at(fd >> kChunkBits, fd & (kChunk - 1));
  }
  // The entry of fd, mapping its chunk when needed; nullptr only when fd is out of range or
  // memory is exhausted.
  FdEntry* get(int fd) noexcept;

  // Forget fd (closed): kind back to unknown, so a reused number is classified afresh.
  void clear(int fd) noexcept;

  // Calls f(fd, entry) for every fd whose kind is kSocket. For exit-time leak scans and the
  // rare dup bookkeeping; O(mapped chunks).
  template <class F>
  void for_each_socket(F&& f) const noexcept {
    for (int c = 0; c * kChunk < limit_; ++c) {
      FdEntry* chunk = dir_[c].load(std::memory_order_acquire);
      if (!chunk) continue;
      for (int i = 0; i < kChunk; ++i)
        if (FdState{chunk[i].state.load(std::memory_order_relaxed)}.kind() == FdKind::kSocket)
          f(c * kChunk + i, chunk[i]);
    }
  }

  int limit() const noexcept { return limit_; }

 private:
  [[gnu::always_inline]] FdEntry* chunk_at(int c, int i) const noexcept {
    FdEntry* chunk = dir_[c].load(std::memory_order_acquire);
    return chunk ? chunk + i : nullptr;
  }
  int limit_ = 0;
  std::atomic<FdEntry*> dir_[kMaxFds / kChunk] = {};
};

}  // namespace shim
