// Creating, attaching and updating the stats segment (layout.h). Used by libsockshim.so inside
// wrapped calls, so everything here is allocation-free and lock-free; errors are small enums.
#pragma once

#include <cstddef>
#include <cstdint>

#include "shim/cookie.h"
#include "shim/stats/layout.h"

namespace shim::stats {

// "opened", "connect_failed", ... (the JSON keys and the report's labels).
const char* counter_name(Counter c) noexcept;

enum class SegmentError : std::uint8_t {
  kNone,
  kBadName,     // empty, too long, or a character other than [A-Za-z0-9._-]
  kNotFound,    // attach: no such segment
  kExists,      // create: a segment of that name is already there
  kNotRegular,  // something else sits at the path (a FIFO, a directory, a device): never opened
                // for reading or writing, so it cannot hang or feed us anything
  kInUse,       // replace: a running `sockshim run` or live processes use the segment
  kOpen,        // shm_open/ftruncate/fstat failed (see sys_errno)
  kNotOwner,    // owned by another user: never trust counters someone else can write
  kBadMagic,    // not a sockshim segment
  kBadVersion,  // a sockshim segment of another layout version
  kTruncated,   // smaller than this layout needs
  kNotReady,    // the creator never finished filling it in (it died, or it is still starting)
  kMap,         // mmap failed (see sys_errno)
};
// One line for the user, e.g. "owned by another user (uid 1000)"; static string.
const char* describe(SegmentError e) noexcept;

// What the creator writes once, before anyone else can see the segment.
struct SegmentInit {
  std::uint64_t seed = 0;
  const char* rules_file = "";        // path as given, for the report
  std::uint32_t rule_count = 0;       // at most kMaxRules
  const char* const* rule_names = nullptr;
  const bool* rule_disabled = nullptr;   // rules that start switched off ("enabled": false)
  const char* rules_text = nullptr;      // the rule file as validated; at most kMaxRulesText
  std::size_t rules_text_len = 0;
  const void* compiled = nullptr;        // the table compiled from it (filters::Table::image());
  std::size_t compiled_len = 0;          // left out when over kMaxCompiled
  bool hold = false;                     // keep a shared lock on the segment while mapped
                                         // (`sockshim run`: marks the name in use)
};

// The identity of a rule table: FNV-1a (64 bits) of its text. Tells apart different rule files
// given to one run by mistake; not meant to resist a forger (the segment is 0600 anyway).
std::uint64_t rules_digest(const char* text, std::size_t len) noexcept;

// Appends one event to the decision log (a ring: the oldest are overwritten). Lock-free.
// begin_event marks the slot as being written (seq 0) and returns it with its number.
Event& begin_event(Segment& s, std::uint64_t& number) noexcept;
void publish_event(Event& e, std::uint64_t number) noexcept;

// A mapping of one segment. Trivially copyable on purpose: the preload object keeps one in a
// global that must stay valid through exit handlers, so nothing is unmapped behind its back.
struct Mapping {
  Segment* seg = nullptr;
  std::size_t size = 0;
  std::uint32_t owner_uid = 0;   // from fstat, for messages
  int lock_fd = -1;              // SegmentInit::hold: the open file that holds the shared lock
  char file_type[16] = {};       // kNotRegular: "FIFO", "directory", ... for messages
  explicit operator bool() const noexcept { return seg != nullptr; }
};

// /dev/shm/sockshim-NAME. False if NAME is not valid (see kBadName) or does not fit.
bool segment_path(const char* name, char* out, std::size_t out_len) noexcept;

// Creates a new segment (mode 0600, exclusive). On kOpen/kMap, *sys_errno says why.
SegmentError create_segment(const char* name, const SegmentInit& init, Mapping& out,
                            int* sys_errno) noexcept;
// Attaches to an existing segment and validates it: owner, magic, version, size, ready
// (waits up to wait_ms for a creator that is still filling it in).
SegmentError attach_segment(const char* name, bool writable, int wait_ms, Mapping& out,
                            int* sys_errno) noexcept;
// Attach, or create when missing (racing creators: exactly one wins, the others attach).
SegmentError open_segment(const char* name, const SegmentInit& init, Mapping& out,
                          int* sys_errno) noexcept;
// Whether anybody still uses the segment: a `sockshim run` holding it (SegmentInit::hold), a
// creator still filling it in, or a process of its records that is alive. *pid names one.
bool segment_in_use(const char* name, int* pid) noexcept;
// A recorded process that still runs: pid exists, is no zombie, and started no later than the
// record did (so a reused pid does not count).
bool process_alive(const ProcessRecord& r) noexcept;
// Replaces an old segment of that name that nobody uses (see segment_in_use) with a new one;
// kInUse when somebody does. A file that is not ours or not a segment is never removed.
SegmentError replace_segment(const char* name, const SegmentInit& init, Mapping& out,
                             int* sys_errno, int* user_pid) noexcept;
// Unmaps and drops the lock (if held).
void unmap_segment(Mapping& m) noexcept;
// Removes the segment's name; mapped copies stay valid. 0 or -errno.
int remove_segment(const char* name) noexcept;

// The slot that counts cookie c: found, or inserted with CAS. nullptr when the table is full
// (the loss is counted in header.cookie_overflow). Lock-free; safe in signal handlers.
CookieSlot* cookie_slot(Segment& s, Cookie c) noexcept;

inline void add(CookieSlot* slot, Counter c, std::uint64_t n = 1) noexcept {
  if (slot) slot->counters[c].fetch_add(n, std::memory_order_relaxed);
}
// add() for a slot known to exist (the shim's fd entries always hold one).
inline void bump(CookieSlot& slot, Counter c, std::uint64_t n = 1) noexcept {
  slot.counters[c].fetch_add(n, std::memory_order_relaxed);
}

// Counts one firing of a rule unless it fired `times` times already (0: no limit): false then.
// A CAS, so concurrent callers never fire it more than `times` times together.
inline bool take_fire(RuleSlot& rule, std::uint64_t times) noexcept {
  std::uint64_t fired = rule.fired.load(std::memory_order_relaxed);
  do {
    if (times && fired >= times) return false;
  } while (!rule.fired.compare_exchange_weak(fired, fired + 1, std::memory_order_relaxed));
  return true;
}

// Takes a free process record and marks it running. nullptr when all are taken.
ProcessRecord* add_process(Segment& s, int pid, int ppid, const char* argv0,
                           std::uint32_t intercept = kInterceptPreload) noexcept;
// add_process in two steps, for a fork handler: reserve_process takes a record's index (in the
// parent, before fork(), whose pages the parent has touched already); fill_process writes it in
// the child (the one record page, no header page) and marks it running. An index at or beyond
// kMaxProcesses counts in header.process_overflow there and gives nullptr, as add_process does.
// An index reserved and never filled (the fork failed) stays a free record, which every reader
// skips.
std::uint32_t reserve_process(Segment& s) noexcept;
ProcessRecord* fill_process(Segment& s, std::uint32_t index, int pid, int ppid, const char* argv0,
                            std::int64_t start_ns, std::uint32_t intercept = kInterceptPreload) noexcept;
// The newest record of pid, or nullptr. Reads every record: for the commands and tests.
ProcessRecord* find_process(Segment& s, int pid) noexcept;
// The newest record of pid if it is the newest of its pid hash (newest_by_pid), else nullptr:
// two pages read, whatever the number of records. For the shim's start, which asks it in every
// process of a run (a miss only leaves an exec'd image's record "running" until the run settles).
ProcessRecord* newest_process(Segment& s, int pid) noexcept;

std::int64_t realtime_ns() noexcept;
std::int64_t monotonic_ns() noexcept;

}  // namespace shim::stats
