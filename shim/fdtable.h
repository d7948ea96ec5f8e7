// What the shim knows about each file descriptor of this process, indexed by fd number.
// Lock-free and never grown: init() reserves one entry per possible fd (RLIMIT_NOFILE's hard
// limit, at most kMaxFds) as address space only (MAP_NORESERVE); the kernel backs a page with
// memory when an entry on it is first written, and reads of untouched entries see zeros
// ("unknown"). So the read path is a bounds test and an add, and a thread never waits for another.
// fds at or beyond the limit are untracked, silently.
#pragma once

#include <atomic>
#include <cstdint>

#include "filters/call_type.h"
#include "shim/cookie.h"
#include "shim/stats/layout.h"

namespace shim {

// kBusy: classify() is writing the entry of an fd it found (a few stores long); calls on it pass
// through meanwhile.
enum class FdKind : std::uint32_t { kUnknown = 0, kNotSocket = 1, kSocket = 2, kBusy = 3 };

// Where a socket is in its life, as far as the counters care. kConnecting is the only value with
// the low bit set (FdState::kConnectingBit), so the transfer hot paths tell a socket they can
// serve (kind, not connecting, not paced) with one mask test.
enum class ConnState : std::uint32_t {
  kNone = 0,
  kConnecting = 1,  // connect() said EINPROGRESS (or EINTR): completion still to be counted
  kConnected = 2,   // client side of a connection
  kListening = 4,
  kAccepted = 6,    // server side of a connection
};

// Packed into FdEntry::state so one load tells everything the hot path needs.
struct FdState {
  static constexpr std::uint32_t kKindMask = 0x3, kConnShift = 2, kConnMask = 0x7 << kConnShift;
  static constexpr std::uint32_t kConnectingBit = static_cast<std::uint32_t>(ConnState::kConnecting) << kConnShift;
  static constexpr std::uint32_t kInherited = 1u << 5;  // came from fork/exec: not ours to count closed
  static constexpr std::uint32_t kShared = 1u << 6;     // dup'd: another fd may name the same socket
  // A rule's inbound_loss filter is on the socket (FdEntry::loss_rule): the program's socket
  // filter options (shim/socket_filter.h) take the general path, every other option stays hot.
  static constexpr std::uint32_t kArmed = 1u << 7;
  // A rate rule paces what the program receives on the socket (FdEntry::recv_rate): recv and
  // read take the general path, which holds them back.
  static constexpr std::uint32_t kPaced = 1u << 8;
  // The whole state of an entry known to be no socket: classify() writes it with no flag, so the
  // hot paths test it with one compare (and "never seen or no socket" as bits <= kNotSocketBits).
  static constexpr std::uint32_t kNotSocketBits = static_cast<std::uint32_t>(FdKind::kNotSocket);
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
// Four cache lines, and fd * 256 is a shift. The hot paths touch only the first; the second holds
// what only rules' triggers need, the third what rules that arm a socket left on it, both written
// on the slow path. The rest is room for more per-socket state (capture, issue 15).
struct alignas(256) FdEntry {
  std::atomic<std::uint32_t> state;
  std::atomic<std::uint16_t> local_port;   // host order; 0 unknown
  std::atomic<std::uint16_t> peer_port;
  std::atomic<Cookie> cookie;
  std::atomic<std::uint64_t> sock_id;      // same for every fd naming one socket (dup)
  std::atomic<stats::CookieSlot*> slot;    // counters of cookie, cached
  // A seqlock-like count of dup2/dup3 onto this number: odd while one is under way (bumped before
  // the kernel swaps the socket and after the entry says so). A transfer that saw it odd, or
  // changed across its real call, cannot know which socket the kernel used (FdTable::raced).
  std::atomic<std::uint32_t> swaps;
  // Per call type, the rule the socket's own facts select: 0 not yet known, 1 none, else
  // index + 2. Matching depends only on those facts, so a socket pays for the scan of the rule
  // table once per call type, not once per call. Reset whenever the facts change, or started
  // from the answers computed ahead for its family and service port (RuleStarts: listen,
  // accept) or copied (dup). Four 16-bit values to a word, so either is three stores.
  static constexpr std::size_t kRuleWords = (filters::kCallTypeCount + 3) / 4;
  std::atomic<std::uint64_t> rule_cache[kRuleWords];

  // --- second line: state for the triggers and actions of rules ---
  std::atomic<std::uint64_t> sent_bytes;      // counted only while some rule has after_bytes
  std::atomic<std::uint64_t> recv_bytes;
  std::atomic<std::uint32_t> connected_at;    // ms since the run started, + 1; 0: not connected
  std::atomic<std::int32_t> so_error;         // injected SO_ERROR still to report; 0: none
  static constexpr int kSocketRuleCounts = 3;
  SocketRuleCount per_socket[kSocketRuleCounts];

  // --- third line: what rules that arm the socket left on it ---
  // The inbound_loss rule whose filter the shim attached (index + 1; 0: none; FdState::kArmed
  // says so to the hot paths), and how many instructions of the program's own classic filter
  // run behind it (0: none). The kernel's filter is then the rule's gate, the junction and the
  // program's filter (bpfvm/compose.h), so SO_GET_FILTER can show the program its own part.
  alignas(64) std::atomic<std::uint16_t> loss_rule;
  std::atomic<std::uint16_t> own_filter_len;
  // A rate rule's pacing of what arrives (FdState::kPaced): bytes a second, and the monotonic
  // time (ns) until which the bytes read so far are paid for: a recv waits until then, and each
  // one moves it on by its bytes' time (a token bucket as a due time: one word, no refill).
  std::atomic<std::uint32_t> recv_rate;
  std::atomic<std::int64_t> recv_due_ns;

  [[gnu::always_inline]] std::uint16_t cached_rule(filters::CallType t) const noexcept {
    const auto i = static_cast<std::size_t>(t);
    return static_cast<std::uint16_t>(rule_cache[i / 4].load(std::memory_order_relaxed) >> (16 * (i % 4)));
  }
  // Threads sharing the fd may race here; the loser's value is lost, which only means a rescan
  // (every value ever written is a correct decision or 0).
  void cache_rule(filters::CallType t, std::uint16_t v) noexcept {
    const auto i = static_cast<std::size_t>(t);
    const unsigned shift = 16 * (i % 4);
    auto& w = rule_cache[i / 4];
    w.store((w.load(std::memory_order_relaxed) & ~(std::uint64_t{0xffff} << shift)) |
                (std::uint64_t{v} << shift),
            std::memory_order_relaxed);
  }
  void reset_rule_cache() noexcept {
    static_assert(kRuleWords == 3);   // unrolled: this runs for every new socket when rules exist
    rule_cache[0].store(0, std::memory_order_relaxed);
    rule_cache[1].store(0, std::memory_order_relaxed);
    rule_cache[2].store(0, std::memory_order_relaxed);
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
static_assert(sizeof(FdEntry) == 256);

class FdTable {
 public:
  static constexpr int kMaxFds = 1 << 20;   // the kernel's default nr_open

  // Reserves the table from RLIMIT_NOFILE. Call once before use; until then every fd is untracked.
  // False when not even one entry could be mapped.
  bool init() noexcept;

  // The entry of fd, or nullptr when fd is out of range. Only for reading and for clearing:
  // writing a socket into an entry goes through get().
  [[gnu::always_inline]] FdEntry* find(int fd) const noexcept {
    if (static_cast<unsigned>(fd) >= static_cast<unsigned>(limit_)) return nullptr;
    return base_ + fd;
  }
  // The hot paths' form of find(): test, then index without a null test. Against a limit of its
  // own, which general_only() sets to 0: then every hot path finds its fd untracked and hands the
  // call to the general path (which uses find and get), at no cost to the hot paths otherwise.
  [[gnu::always_inline]] bool tracked(int fd) const noexcept {
    return static_cast<unsigned>(fd) < static_cast<unsigned>(hot_limit_);
  }
  // Every call on an fd goes the general way from now on (sockshim run --pcap: the general path
  // is where calls are captured). Setup only, before the switch turns ready.
  void general_only() noexcept { hot_limit_ = 0; }
  [[gnu::always_inline]] FdEntry& at(int fd) const noexcept { return base_[fd]; }
  int fd_of(const FdEntry& e) const noexcept { return static_cast<int>(&e - base_); }
  // find() for an entry about to be written: also raises the high-water mark that bounds the
  // scans of for_each_socket.
  [[gnu::always_inline]] FdEntry* get(int fd) noexcept {
    if (static_cast<unsigned>(fd) >= static_cast<unsigned>(limit_)) [[unlikely]] return nullptr;
    if (fd >= high_.load(std::memory_order_relaxed)) [[unlikely]]
      raise_high(fd);
    return &at(fd);
  }

  // get() without raising the high-water mark: nullptr when fd is untracked or above it (then
  // get() is the way). No call on any path, so a caller can stay frameless.
  // One compare: the mark never exceeds the limit (get() and note_socket() raise it only for
  // tracked numbers), and a negative fd is a huge unsigned one.
  [[gnu::always_inline]] FdEntry* get_below_high(int fd) noexcept {
    if (static_cast<unsigned>(fd) >= static_cast<unsigned>(high_.load(std::memory_order_relaxed))) [[unlikely]]
      return nullptr;
    FdEntry* const e = &at(fd);
    if (!e) __builtin_unreachable();   // an entry of the mapped table: callers' null tests fold away
    return e;
  }

  // fd's entry is about to say "socket": the scans of for_each_socket must reach it. get() does
  // this for entries written as sockets at once; classify() writes an entry it found with find()
  // (most turn out to be no socket, and must not raise the mark: a shell reading its script on
  // fd 255 would otherwise make every fork's scan read 16 pages it never wrote, a page fault each).
  void note_socket(int fd) noexcept {
    if (fd >= high_.load(std::memory_order_relaxed)) raise_high(fd);
  }

  // Forget fd (closed): kind back to unknown, so a reused number is classified afresh.
  void clear(int fd) noexcept;

  // Calls f(fd, entry) for every fd whose kind is kSocket. For exit-time leak scans and the
  // rare dup bookkeeping; O(highest fd ever written).
  template <class F>
  void for_each_socket(F&& f) const noexcept {
    const int end = high_.load(std::memory_order_acquire);
    for (int fd = 0; fd < end; ++fd)
      if (FdState{base_[fd].state.load(std::memory_order_relaxed)}.kind() == FdKind::kSocket)
        f(fd, base_[fd]);
  }

  // The same for the fds in [first, last] only: what close_range closes costs its range, not a
  // pass over every socket (nor, per shared socket, another such pass).
  template <class F>
  void for_each_socket_in(unsigned first, unsigned last, F&& f) const noexcept {
    const auto end = static_cast<unsigned>(high_.load(std::memory_order_acquire));
    for (unsigned fd = first; fd < end && fd <= last; ++fd)
      if (FdState{base_[fd].state.load(std::memory_order_relaxed)}.kind() == FdKind::kSocket)
        f(static_cast<int>(fd), base_[fd]);
  }

  int limit() const noexcept { return limit_; }

 private:
  void raise_high(int fd) noexcept;
  FdEntry* base_ = nullptr;
  int limit_ = 0;
  int hot_limit_ = 0;          // limit_, or 0 once general_only()
  std::atomic<int> high_{0};   // one past the highest fd that held a socket (get, note_socket)
};

}  // namespace shim
