#include "shim/stats/segment.h"

#include "shim/once.h"
#include "shim/sys.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace shim::stats {
namespace {

constexpr char kPrefix[] = "/dev/shm/sockshim-";
constexpr std::size_t kMaxName = 200;

SHIM_ONCE bool valid_name(const char* name) noexcept {
  if (!name || !*name) return false;
  std::size_t n = 0;
  for (const char* p = name; *p; ++p, ++n) {
    const char c = *p;
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok || n >= kMaxName) return false;
  }
  // "." and ".." would name directories.
  return !(name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0)));
}

void copy_cut(char* dst, std::size_t n, const char* src) noexcept {
  std::size_t i = 0;
  for (; src && src[i] && i + 1 < n; ++i) dst[i] = src[i];
  dst[i] = 0;
}

void sleep_ms(int ms) noexcept {
  timespec ts{ms / 1000, static_cast<long>(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
  }
}

// Validates what a mapped segment says about itself. Magic and version sit at fixed offsets in
// every layout, so they are checked before anything whose place depends on the version.
SHIM_ONCE SegmentError check_header(const Segment& s) noexcept {
  if (s.header.magic != kMagic) return SegmentError::kBadMagic;
  if (s.header.version != kLayoutVersion) return SegmentError::kBadVersion;
  if (s.header.header_size != sizeof(Header) || s.header.total_size != sizeof(Segment))
    return SegmentError::kBadVersion;
  return SegmentError::kNone;
}

SHIM_ONCE SegmentError map_fd(int fd, bool writable, Mapping& out, int* sys_errno) noexcept {
  void* p = sys::mmap(nullptr, sizeof(Segment), writable ? PROT_READ | PROT_WRITE : PROT_READ,
                 MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    if (sys_errno) *sys_errno = errno;
    return SegmentError::kMap;
  }
  out.seg = static_cast<Segment*>(p);
  out.size = sizeof(Segment);
  return SegmentError::kNone;
}

}  // namespace

const char* counter_name(Counter c) noexcept {
  static constexpr const char* kNames[kCounterCount] = {
      "opened",        "connected",      "listened",      "accepted",
      "closed",        "open_failed",    "connect_failed", "listen_failed",
      "accept_failed", "close_failed",   "connect_pending", "send_calls",
      "send_bytes",    "recv_calls",     "recv_bytes",    "faults_injected"};
  return c < kCounterCount ? kNames[c] : "?";
}

const char* describe(SegmentError e) noexcept {
  switch (e) {
    case SegmentError::kNone: return "ok";
    case SegmentError::kBadName: return "invalid name (use 1-200 of A-Z a-z 0-9 . _ -)";
    case SegmentError::kNotFound: return "no such stats segment";
    case SegmentError::kExists: return "a stats segment of that name already exists";
    case SegmentError::kNotRegular: return "not a regular file (left untouched)";
    case SegmentError::kInUse: return "in use by a running `sockshim run` or live processes";
    case SegmentError::kOpen: return "cannot open the stats segment";
    case SegmentError::kNotOwner: return "the stats segment belongs to another user";
    case SegmentError::kBadMagic: return "not a sockshim stats segment";
    case SegmentError::kBadVersion: return "stats segment of another sockshim layout version";
    case SegmentError::kTruncated: return "stats segment is truncated";
    case SegmentError::kNotReady: return "stats segment was never completed by its creator";
    case SegmentError::kMap: return "cannot map the stats segment";
  }
  return "?";
}

// Bytes at..at+7 of kPrefix (fewer at its end), little-endian as a word.
constexpr std::uint64_t prefix_word(std::size_t at) noexcept {
  std::uint64_t w = 0;
  for (std::size_t i = 0; i < 8 && at + i < sizeof kPrefix - 1; ++i)
    w |= std::uint64_t{static_cast<unsigned char>(kPrefix[at + i])} << (8 * i);
  return w;
}

SHIM_ONCE bool segment_path(const char* name, char* out, std::size_t out_len) noexcept {
  if (!valid_name(name)) return false;
  // Copied by hand: this runs before main in every process of a run, and strlen and memcpy
  // would each cost a lazy binding there (shim/sys.h says why that matters).
  // The prefix as constants of the instructions (8 bytes a store), not read from .rodata: no
  // other read of the object's read-only data happens in a process's start, so this one would
  // cost every exec'd program a page fault. The empty asm keeps the compiler from merging the
  // words into one 16-byte constant, which it would load from .rodata.
  constexpr std::size_t kLen = sizeof kPrefix - 1;
  if (kLen + 1 >= out_len) return false;
  for (std::size_t at = 0; at < kLen; at += 8) {
    std::uint64_t w = prefix_word(at);
    __asm__("" : "+r"(w));
    std::memcpy(out + at, &w, kLen - at < 8 ? kLen - at : 8);
  }
  std::size_t n = kLen;
  for (const char* p = name; *p; ++p) {
    if (n + 1 >= out_len) return false;
    out[n++] = *p;
  }
  out[n] = '\0';
  return true;
}

std::uint64_t rules_digest(const char* text, std::size_t len) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (std::size_t i = 0; i < len; ++i) {
    h ^= static_cast<unsigned char>(text[i]);
    h *= 0x100000001b3ull;
  }
  return h;
}

namespace {

const char* type_name(mode_t m) noexcept {
  if (S_ISDIR(m)) return "directory";
  if (S_ISFIFO(m)) return "FIFO";
  if (S_ISCHR(m)) return "character device";
  if (S_ISBLK(m)) return "block device";
  if (S_ISSOCK(m)) return "socket";
  if (S_ISLNK(m)) return "symbolic link";
  return "special file";
}

// Opens the file at a segment's path without ever blocking or following a link, and refuses
// what is not a regular file of ours before reading a byte of it: a FIFO planted there by
// another user must not hang `stats`, `ctl`, `run` or a program's start.
SHIM_ONCE SegmentError open_checked(const char* path, bool writable, Mapping& out, struct stat& st,
                          int* sys_errno, int& fd) noexcept {
  fd = sys::open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    if (errno == ENOENT) return SegmentError::kNotFound;
    if (sys_errno) *sys_errno = errno;
    return SegmentError::kOpen;
  }
  if (sys::fstat(fd, &st) != 0) {
    if (sys_errno) *sys_errno = errno;
    sys::close(fd);
    return SegmentError::kOpen;
  }
  if (!S_ISREG(st.st_mode)) {
    copy_cut(out.file_type, sizeof out.file_type, type_name(st.st_mode));
    sys::close(fd);
    return SegmentError::kNotRegular;
  }
  out.owner_uid = st.st_uid;
  if (st.st_uid != sys::geteuid()) {
    sys::close(fd);
    return SegmentError::kNotOwner;
  }
  return SegmentError::kNone;
}

// A creator holds an exclusive flock from its O_EXCL open until the segment is ready; anybody
// else can take a shared one. So a shared lock we get means no creator is filling it in (any
// more): a segment still not ready then never will be.
bool no_creator_at_work(int fd) noexcept {
  if (sys::flock(fd, LOCK_SH | LOCK_NB) != 0) return false;
  sys::flock(fd, LOCK_UN);
  return true;
}

}  // namespace

SegmentError create_segment(const char* name, const SegmentInit& init, Mapping& out,
                            int* sys_errno) noexcept {
  char path[sizeof(kPrefix) + kMaxName + 1];
  if (!segment_path(name, path, sizeof path)) return SegmentError::kBadName;
  if (init.rules_text_len > kMaxRulesText) return SegmentError::kTruncated;
  const int fd = sys::open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return SegmentError::kExists;
    if (sys_errno) *sys_errno = errno;
    return SegmentError::kOpen;
  }
  sys::flock(fd, LOCK_EX);   // a new file: nobody else can hold a lock on it yet
  // The umask could have narrowed the mode, never widened it; fchmod makes 0600 exact.
  if (sys::fchmod(fd, 0600) != 0 || sys::ftruncate(fd, static_cast<off_t>(sizeof(Segment))) != 0) {
    if (sys_errno) *sys_errno = errno;
    sys::close(fd);
    unlink(path);
    return SegmentError::kOpen;
  }
  const SegmentError e = map_fd(fd, true, out, sys_errno);
  if (e != SegmentError::kNone) {
    sys::close(fd);
    unlink(path);
    return e;
  }
  Header& h = out.seg->header;   // ftruncate gave zeroed pages: only non-zero fields are set
  h.magic = kMagic;
  h.version = kLayoutVersion;
  h.header_size = sizeof(Header);
  h.total_size = sizeof(Segment);
  h.owner_uid = static_cast<std::uint32_t>(sys::geteuid());
  h.creator_pid = static_cast<std::int32_t>(sys::getpid());
  h.seed = init.seed;
  h.created_ns = realtime_ns();
  h.created_mono_ns = monotonic_ns();
  copy_cut(h.rules_file, sizeof h.rules_file, init.rules_file);
  if (init.rules_text && init.rules_text_len) {
    std::memcpy(out.seg->rules_text, init.rules_text, init.rules_text_len);
    h.rules_text_len = static_cast<std::uint32_t>(init.rules_text_len);
  }
  h.rules_digest = rules_digest(out.seg->rules_text, h.rules_text_len);
  if (init.compiled && init.compiled_len && init.compiled_len <= kMaxCompiled) {
    std::memcpy(out.seg->compiled, init.compiled, init.compiled_len);
    h.compiled_len = static_cast<std::uint32_t>(init.compiled_len);
  }
  const std::uint32_t n = init.rule_count < kMaxRules ? init.rule_count : kMaxRules;
  for (std::uint32_t i = 0; i < n; ++i)
  {
    copy_cut(out.seg->rules[i].name, kNameLen, init.rule_names ? init.rule_names[i] : "");
    if (init.rule_disabled && init.rule_disabled[i]) out.seg->rules[i].disabled.store(1, std::memory_order_relaxed);
  }
  h.rule_count = n;
  out.owner_uid = h.owner_uid;
  h.ready.store(1, std::memory_order_release);
  if (init.hold) {
    sys::flock(fd, LOCK_SH);   // from exclusive to shared: the name stays in use while we live
    out.lock_fd = fd;
  } else {
    sys::close(fd);            // drops the lock
  }
  return SegmentError::kNone;
}

SHIM_ONCE SegmentError attach_segment(const char* name, bool writable, int wait_ms, Mapping& out,
                            int* sys_errno) noexcept {
  char path[sizeof(kPrefix) + kMaxName + 1];
  if (!segment_path(name, path, sizeof path)) return SegmentError::kBadName;
  struct stat st {};
  int fd = -1;
  if (const SegmentError e = open_checked(path, writable, out, st, sys_errno, fd); e != SegmentError::kNone)
    return e;
  // A creator that won the O_EXCL race may not have sized the file yet: wait for it while it
  // works (its exclusive lock says so), briefly also for one between its open and its flock.
  for (int waited = 0; static_cast<std::size_t>(st.st_size) < sizeof(Segment); waited += 5) {
    const bool idle = no_creator_at_work(fd);
    if ((idle && (st.st_size != 0 || waited >= 50)) || waited >= wait_ms) {
      // Big enough to hold a header: the header tells whether it is another version.
      if (static_cast<std::size_t>(st.st_size) >= sizeof(std::uint64_t) + sizeof(std::uint32_t)) {
        std::uint64_t magic = 0;
        std::uint32_t version = 0;
        if (pread(fd, &magic, sizeof magic, 0) == sizeof magic &&
            pread(fd, &version, sizeof version, 8) == sizeof version) {
          sys::close(fd);
          if (magic != kMagic) return SegmentError::kBadMagic;
          if (version != kLayoutVersion) return SegmentError::kBadVersion;
          return SegmentError::kTruncated;
        }
      }
      sys::close(fd);
      return st.st_size == 0 ? SegmentError::kNotReady : SegmentError::kTruncated;
    }
    sleep_ms(5);
    if (sys::fstat(fd, &st) != 0) break;
  }
  if (const SegmentError e = map_fd(fd, writable, out, sys_errno); e != SegmentError::kNone) {
    sys::close(fd);
    return e;
  }
  for (int waited = 0; out.seg->header.ready.load(std::memory_order_acquire) == 0; waited += 5) {
    // Not ready and no creator at work: it died between ftruncate and filling it in, and
    // waiting longer would only make every process of the run wait too.
    const bool dead = no_creator_at_work(fd) && out.seg->header.ready.load(std::memory_order_acquire) == 0;
    if (dead || waited >= wait_ms) {
      // Zero magic and not ready: a creator that died between ftruncate and filling it in.
      const SegmentError c = out.seg->header.magic == 0 ? SegmentError::kNotReady
                                                        : check_header(*out.seg);
      unmap_segment(out);
      sys::close(fd);
      return c == SegmentError::kNone ? SegmentError::kNotReady : c;
    }
    sleep_ms(5);
  }
  sys::close(fd);
  if (const SegmentError c = check_header(*out.seg); c != SegmentError::kNone) {
    unmap_segment(out);
    return c;
  }
  return SegmentError::kNone;
}

SegmentError open_segment(const char* name, const SegmentInit& init, Mapping& out,
                          int* sys_errno) noexcept {
  // Two attempts: a segment removed between our failed create and our attach is recreated.
  for (int attempt = 0; attempt < 2; ++attempt) {
    SegmentError e = attach_segment(name, true, 2000, out, sys_errno);
    if (e != SegmentError::kNotFound) return e;
    e = create_segment(name, init, out, sys_errno);
    if (e != SegmentError::kExists) return e;
  }
  return SegmentError::kNotFound;
}

namespace {

// Start of a process in CLOCK_REALTIME nanoseconds and whether it is a zombie, from
// /proc/PID/stat; false when there is no such process.
bool proc_start(int pid, std::int64_t& start_ns, bool& zombie) noexcept {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  const int fd = sys::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[1024];
  const ssize_t n = read(fd, buf, sizeof buf - 1);
  sys::close(fd);
  if (n <= 0) return false;
  buf[n] = 0;
  // "pid (comm) S ppid ...": comm may hold spaces and parentheses, so start after the last ')'.
  const char* p = std::strrchr(buf, ')');
  if (!p || p[1] != ' ') return false;
  p += 2;
  zombie = *p == 'Z' || *p == 'X' || *p == 'x';
  // Field 22 (starttime, clock ticks since boot); field 3 (state) is where p points.
  for (int field = 3; field < 22 && *p; ++p)
    if (*p == ' ') ++field;
  const unsigned long long ticks = std::strtoull(p, nullptr, 10);
  const long hz = sysconf(_SC_CLK_TCK);
  timespec boot{}, real{};
  clock_gettime(CLOCK_BOOTTIME, &boot);
  clock_gettime(CLOCK_REALTIME, &real);
  const std::int64_t since_boot = static_cast<std::int64_t>(boot.tv_sec) * 1000000000 + boot.tv_nsec;
  const std::int64_t now = static_cast<std::int64_t>(real.tv_sec) * 1000000000 + real.tv_nsec;
  start_ns = now - since_boot + static_cast<std::int64_t>(ticks) * (1000000000 / (hz > 0 ? hz : 100));
  return true;
}

// pid runs and started before `since` (1 s of slack for clock ticks): not a reused number.
bool alive_since(int pid, std::int64_t since_ns) noexcept {
  if (pid <= 0) return false;
  std::int64_t start = 0;
  bool zombie = false;
  if (!proc_start(pid, start, zombie)) return false;
  return !zombie && start <= since_ns + 1000000000;
}

}  // namespace

bool process_alive(const ProcessRecord& r) noexcept { return alive_since(r.pid, r.start_ns); }

bool segment_in_use(const char* name, int* pid) noexcept {
  char path[sizeof(kPrefix) + kMaxName + 1];
  if (!segment_path(name, path, sizeof path)) return false;
  Mapping m;
  struct stat st {};
  int fd = -1;
  if (open_checked(path, false, m, st, nullptr, fd) != SegmentError::kNone) return false;
  bool busy = sys::flock(fd, LOCK_EX | LOCK_NB) != 0;   // a run holds it, or a creator fills it in
  if (static_cast<std::size_t>(st.st_size) >= sizeof(Segment) && map_fd(fd, false, m, nullptr) == SegmentError::kNone) {
    const Segment& s = *m.seg;
    if (check_header(s) == SegmentError::kNone) {
      if (busy && pid) *pid = s.header.creator_pid;
      // A run's creator is the run itself; between its lock's downgrade and a look here the
      // lock may seem free for an instant, so a live creator counts too.
      if (!busy && alive_since(s.header.creator_pid, s.header.created_ns)) {
        busy = true;
        if (pid) *pid = s.header.creator_pid;
      }
      std::uint32_t n = s.header.process_next.load(std::memory_order_acquire);
      if (n > kMaxProcesses) n = kMaxProcesses;
      for (std::uint32_t i = 0; i < n && !busy; ++i) {
        const ProcessRecord& r = s.processes[i];
        if (r.state.load(std::memory_order_acquire) == kProcRunning && process_alive(r)) {
          busy = true;
          if (pid) *pid = r.pid;
        }
      }
    }
    unmap_segment(m);
  }
  sys::close(fd);
  return busy;
}

SegmentError replace_segment(const char* name, const SegmentInit& init, Mapping& out,
                             int* sys_errno, int* user_pid) noexcept {
  SegmentError e = create_segment(name, init, out, sys_errno);
  if (e != SegmentError::kExists) return e;
  Mapping old;
  e = attach_segment(name, false, 200, old, sys_errno);
  // Only a sockshim segment of ours is replaced: of this layout, an older one, or one whose
  // creator died before finishing it.
  if (e != SegmentError::kNone && e != SegmentError::kNotReady && e != SegmentError::kNotFound &&
      e != SegmentError::kBadVersion && e != SegmentError::kTruncated) {
    std::memcpy(out.file_type, old.file_type, sizeof out.file_type);
    out.owner_uid = old.owner_uid;
    return e;
  }
  unmap_segment(old);
  if (segment_in_use(name, user_pid)) return SegmentError::kInUse;
  remove_segment(name);
  return create_segment(name, init, out, sys_errno);
}

void unmap_segment(Mapping& m) noexcept {
  if (m.seg) sys::munmap(m.seg, m.size);
  m.seg = nullptr;
  m.size = 0;
  if (m.lock_fd >= 0) sys::close(m.lock_fd);
  m.lock_fd = -1;
}

int remove_segment(const char* name) noexcept {
  char path[sizeof(kPrefix) + kMaxName + 1];
  if (!segment_path(name, path, sizeof path)) return -EINVAL;
  return unlink(path) == 0 ? 0 : -errno;
}

Event& begin_event(Segment& s, std::uint64_t& number) noexcept {
  number = s.header.event_next.fetch_add(1, std::memory_order_relaxed);
  Event& e = s.events[number % kMaxEvents];
  e.seq.store(0, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);   // readers see 0 before any new field
  return e;
}

void publish_event(Event& e, std::uint64_t number) noexcept {
  e.seq.store(number + 1, std::memory_order_release);
}

CookieSlot* cookie_slot(Segment& s, Cookie c) noexcept {
  const std::uint64_t key = c | kKeyUsed;
  // Fibonacci hashing spreads the few cookies a program uses; linear probing keeps it lock-free:
  // a slot's key goes from 0 to its final value once and never changes again.
  std::uint32_t i = static_cast<std::uint32_t>((c * 0x9e3779b97f4a7c15ull) >> 56) % kMaxCookies;
  for (std::uint32_t probe = 0; probe < kMaxCookies; ++probe, i = (i + 1) % kMaxCookies) {
    CookieSlot& slot = s.cookies[i];
    std::uint64_t seen = slot.key.load(std::memory_order_acquire);
    if (seen == key) return &slot;
    if (seen == 0) {
      if (slot.key.compare_exchange_strong(seen, key, std::memory_order_acq_rel)) return &slot;
      if (seen == key) return &slot;   // another thread inserted the same cookie
    }
  }
  s.header.cookie_overflow.fetch_add(1, std::memory_order_relaxed);
  return nullptr;
}

SHIM_ONCE std::uint32_t reserve_process(Segment& s) noexcept {
  return s.header.process_next.fetch_add(1, std::memory_order_relaxed);
}

SHIM_ONCE ProcessRecord* fill_process(Segment& s, std::uint32_t i, int pid, int ppid, const char* argv0,
                                      std::int64_t start_ns, std::uint32_t intercept) noexcept {
  if (i >= kMaxProcesses) {
    s.header.process_overflow.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  ProcessRecord& r = s.processes[i];
  r.pid = pid;
  r.ppid = ppid;
  r.start_ns = start_ns;
  copy_cut(r.argv0, sizeof r.argv0, argv0);
  r.intercept = intercept;
  r.state.store(kProcRunning, std::memory_order_release);
  s.newest_by_pid[static_cast<std::uint32_t>(pid) % kPidSlots].store(i + 1, std::memory_order_release);
  return &r;
}

SHIM_ONCE ProcessRecord* add_process(Segment& s, int pid, int ppid, const char* argv0, std::uint32_t intercept) noexcept {
  return fill_process(s, reserve_process(s), pid, ppid, argv0, realtime_ns(), intercept);
}

SHIM_ONCE ProcessRecord* newest_process(Segment& s, int pid) noexcept {
  const std::uint32_t v = s.newest_by_pid[static_cast<std::uint32_t>(pid) % kPidSlots].load(std::memory_order_acquire);
  if (v == 0 || v > kMaxProcesses) return nullptr;
  ProcessRecord& r = s.processes[v - 1];
  return r.state.load(std::memory_order_acquire) != kProcFree && r.pid == pid ? &r : nullptr;
}

ProcessRecord* find_process(Segment& s, int pid) noexcept {
  std::uint32_t n = s.header.process_next.load(std::memory_order_acquire);
  if (n > kMaxProcesses) n = kMaxProcesses;
  for (std::uint32_t i = n; i-- > 0;) {
    ProcessRecord& r = s.processes[i];
    if (r.state.load(std::memory_order_acquire) != kProcFree && r.pid == pid) return &r;
  }
  return nullptr;
}

// Read once or twice per process (a record's start and end), so made as the system call itself:
// libc's clock_gettime would be bound through the PLT on its first call (about 750 instructions)
// and fault in its own text page, the vDSO's and the vvar page, three page faults in every
// process the shim starts where this call costs about 0.2 µs (docs/performance.md).
SHIM_ONCE std::int64_t realtime_ns() noexcept {
  timespec ts{};
  sys::syscall(SYS_clock_gettime, CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

std::int64_t monotonic_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace shim::stats
