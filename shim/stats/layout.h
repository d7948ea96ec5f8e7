// The stats segment: one file in /dev/shm per run, shared by every process of the run and read
// after they are gone. Plain data plus lock-free atomics only, so it can be mapped by processes
// built separately and written from inside wrapped calls (no locks, no allocation).
// Readers check magic and version (fixed offsets 0 and 8, forever) before anything else, then wait
// for `ready`; any change of layout bumps kLayoutVersion.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace shim::stats {

inline constexpr std::uint64_t kMagic = 0x4d4948534b434f53ull;  // "SOCKSHIM" in little endian
inline constexpr std::uint32_t kLayoutVersion = 6;

inline constexpr std::uint32_t kMaxCookies = 256;
inline constexpr std::uint32_t kMaxRules = 1024;
inline constexpr std::uint32_t kMaxProcesses = 1024;
inline constexpr std::uint32_t kMaxLeaks = 16;      // per process record
inline constexpr std::size_t kNameLen = 64;          // rule names, argv0
inline constexpr std::size_t kAddrLen = 64;          // "[ffff:...]:65535" or a unix path (cut)
inline constexpr std::size_t kPathLen = 256;
inline constexpr std::uint32_t kMaxEvents = 1024;   // the decision log keeps the newest ones
// The rule file's text, as its creator validated it: every process of the run loads this copy,
// never the file again (the file may have changed, or been a pipe). filters' size limit.
inline constexpr std::size_t kMaxRulesText = 1u << 20;
// The same table compiled (filters/table_image.h): what a process of the run matches with, in
// place, so it never parses the text at all. Room for kMaxRules rules of any shape (about 4.5 MB
// at most for 1024; the pages past compiled_len are never touched, so they cost no memory).
inline constexpr std::size_t kMaxCompiled = 8u << 20;
// The newest process record per pid hash: a process that starts finds the record of the image it
// replaced with execve() without reading every record (a page each, for every exec of a run).
inline constexpr std::uint32_t kPidSlots = 4096;

static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

// Order is the order of the report. Names are in counter_name() (segment.h).
enum Counter : std::uint32_t {
  kOpened,
  kConnected,
  kListened,
  kAccepted,
  kClosed,
  kOpenFailed,
  kConnectFailed,
  kListenFailed,
  kAcceptFailed,
  kCloseFailed,
  kConnectPending,
  kSendCalls,
  kSendBytes,
  kRecvCalls,
  kRecvBytes,
  kFaultsInjected,
  kCounterCount
};

// One kind of socket. key is 0 while the slot is free, else cookie | kKeyUsed: a cookie can be 0
// (AF_UNSPEC, type 0) and must still differ from "free".
inline constexpr std::uint64_t kKeyUsed = 1ull << 63;
struct CookieSlot {
  std::atomic<std::uint64_t> key;
  std::atomic<std::uint64_t> counters[kCounterCount];
};

struct RuleSlot {
  char name[kNameLen];                  // written once by the creator, before header.ready
  std::atomic<std::uint64_t> hits;      // the rule matched a call
  std::atomic<std::uint64_t> fired;     // its action ran
  std::atomic<std::uint32_t> disabled;  // 1: skip the rule (sockshim ctl); 0 by default
  std::uint32_t reserved;
  // inbound_loss and rate: sockets that carried the rule's filter or pacing (those it armed, and
  // the connections an armed listener accepted), and sockets it left because the program's own
  // filter took its place (an eBPF one, or one that could not be composed with the rule's). Layout 6.
  std::atomic<std::uint64_t> armed;
  std::atomic<std::uint64_t> lifted;
};

// One fault that fired: the decision log, a ring of the newest kMaxEvents. A writer takes a
// number from header.event_next, fills the record, then publishes seq = number + 1; a reader
// trusts a record only when seq reads the same before and after copying it.
struct Event {
  std::atomic<std::uint64_t> seq;  // 0: never written
  std::int64_t t_ns;               // since the run started (header.created_mono_ns)
  std::int32_t pid;
  std::int32_t tid;
  std::int32_t fd;                 // -1 for getaddrinfo
  std::uint16_t call;              // filters::CallType
  std::uint16_t rule;              // rule index
  std::uint64_t cookie;
  std::uint64_t hit;               // the rule's hit number that fired (per run or per socket)
  std::uint8_t action;             // filters::ActionKind of `do`
  std::uint8_t after;              // filters::AfterKind of `then`
  std::uint16_t reserved;
  std::int32_t err;                // errno (or EAI code on getaddrinfo) the program was given; 0: none
  char peer[kAddrLen];             // "127.0.0.1:6379", "[::1]:80", a unix path, a host name
};

struct LeakRecord {
  std::int32_t fd;
  std::uint32_t reserved;
  std::uint64_t cookie;
  char local[kAddrLen];
  char peer[kAddrLen];
};

enum ProcessState : std::uint32_t {
  kProcFree = 0,     // slot not taken
  kProcRunning = 1,  // attached, not finished (or died without running exit handlers)
  kProcExited = 2,   // exit() ran: exit_status is valid, leaks are recorded
  kProcExeced = 3,   // replaced itself with execve(); the new image has its own record
  kProcKilled = 4,   // `sockshim run` saw it die from a signal: exit_status is 128+signal
  kProcVanished = 5, // gone when the run ended, without running exit handlers (_exit, a signal
                     // only its parent saw): no exit status, no leaks; end_ns is when run noticed
};

// How the run reached a process (docs/shim.md, "Two ways in"). kInterceptUnknown: not recorded,
// as in a segment written before the field existed (it was `reserved`, always 0), so the layout
// and its version are unchanged.
enum ProcessIntercept : std::uint32_t {
  kInterceptUnknown = 0,
  kInterceptPreload = 1,   // the preload object attached in it
  kInterceptSeccomp = 2,   // the seccomp supervisor of `sockshim run` served it
};

struct ProcessRecord {
  std::atomic<std::uint32_t> state;
  std::int32_t pid;
  std::int32_t ppid;
  std::int32_t exit_status;       // valid when state is kProcExited or kProcKilled
  std::int64_t start_ns;          // CLOCK_REALTIME
  std::int64_t end_ns;            // 0 while running
  char argv0[kNameLen];
  std::uint32_t leak_count;       // may exceed kMaxLeaks; the first kMaxLeaks are listed
  std::uint32_t intercept;        // ProcessIntercept
  LeakRecord leaks[kMaxLeaks];
};

struct Header {
  std::uint64_t magic;              // kMagic; offset 0 in every version
  std::uint32_t version;           // kLayoutVersion; offset 8 in every version
  std::uint32_t header_size;        // sizeof(Header): a reader built differently refuses
  std::uint64_t total_size;         // sizeof(Segment)
  std::uint32_t owner_uid;
  std::uint32_t rule_count;
  std::uint64_t seed;
  std::int64_t created_ns;          // CLOCK_REALTIME
  std::int64_t created_mono_ns;     // CLOCK_MONOTONIC, for time windows since start
  char rules_file[kPathLen];
  std::atomic<std::uint32_t> ready;            // 1 once the creator filled the segment
  std::atomic<std::uint32_t> process_next;     // next free process slot (may exceed kMaxProcesses)
  std::atomic<std::uint64_t> cookie_overflow;  // counts lost because the cookie table was full
  std::atomic<std::uint64_t> process_overflow; // processes that found no free record
  std::atomic<std::uint64_t> event_next;       // events ever logged (the ring keeps kMaxEvents)
  std::atomic<std::uint64_t> generation;       // bumped by `sockshim ctl` on every change
  // The identity of the run's rule table: a process whose table differs may not join.
  std::uint64_t rules_digest;       // rules_digest() of rules_text (of nothing: no rule table)
  std::uint32_t rules_text_len;     // bytes of rules_text; 0: the run has no rule table
  std::int32_t creator_pid;         // the process that created the segment (`sockshim run`, or
                                    // the first preloaded process)
  std::atomic<std::uint32_t> kept;  // 1: `sockshim run --keep` left it for later on purpose
  std::uint32_t compiled_len;       // bytes of compiled; 0: none (processes parse rules_text)
  // Transfers whose fd number was dup2'd onto while they ran: the kernel used one of two sockets
  // and nobody can tell which, so they count here, under no kind of socket.
  std::atomic<std::uint64_t> raced_calls;
  std::atomic<std::uint64_t> raced_bytes;
};

struct Segment {
  Header header;
  CookieSlot cookies[kMaxCookies];
  RuleSlot rules[kMaxRules];
  ProcessRecord processes[kMaxProcesses];
  std::atomic<std::uint32_t> newest_by_pid[kPidSlots];   // [pid % kPidSlots]: record index + 1
  Event events[kMaxEvents];
  char rules_text[kMaxRulesText];   // rules_text_len bytes; untouched pages cost nothing
  alignas(4096) unsigned char compiled[kMaxCompiled];   // compiled_len bytes
};

}  // namespace shim::stats
