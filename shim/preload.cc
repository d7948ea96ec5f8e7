// Process-level life of the preload object: the constructor that reads the environment, loads
// the rule file and attaches the stats segment before main; the fork hook; the exit handler that
// records the exit status and the sockets left open.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string_view>

#include "filters/table.h"
#include "shim/debug_log.h"
#include "shim/once.h"
#include "shim/capture.h"
#include "shim/env_values.h"
#include "shim/fork_watch.h"
#include "shim/real.h"
#include "shim/rules_client.h"
#include "shim/sockaddr_text.h"
#include "shim/stats/segment.h"
#include "shim/stats/table_init.h"
#include "shim/switch.h"
#include "shim/sys.h"

// glibc's registration of fork handlers, exported by libc.so.6 (GLIBC_2.3.2); pthread_atfork is
// a static stub that calls it with the caller's __dso_handle (shim/cxx_runtime.cc).
extern "C" int __register_atfork(void (*prepare)(), void (*parent)(), void (*child)(), void* dso_handle);
extern "C" void* __dso_handle;

namespace shim {

constinit thread_local unsigned t_depth __attribute__((tls_model("initial-exec"))) = 0;
}  // namespace shim

extern "C" {
constinit thread_local int sockshim_vfork_hint __attribute__((tls_model("initial-exec"))) = 0;
void* sockshim_real_vfork = nullptr;
}

namespace shim {

namespace {
constinit std::atomic<std::uint32_t> g_always_armed{1};
}  // namespace
constinit std::atomic<std::uint32_t>* g_fork_canary = &g_always_armed;

namespace {

stats::Mapping g_map;                       // the run's segment, or a private one

// What the fork handler writes of this object's memory in the child, side by side: one
// copy-on-write page fault in a child that goes straight to exec, not one per variable.
struct Self {
  stats::ProcessRecord* proc = nullptr;   // this process's record
  // This process as the constructor or the fork handler (or adopt_fork) saw it: 0 before. A
  // child the fork handler adopted finds its own pid here (adopt_fork), an unseen one its
  // parent's.
  std::atomic<int> pid{0};
};
// In .data, on the page ld.so's relocations write in every process anyway (zero-initialized, it
// would go to .bss, maybe a page of its own).
[[gnu::section(".data.sockshim_self")]] constinit Self g_self;

// What fork()'s prepare handler, in the parent, hands to the child handler: the record index it
// reserved, the time and the parent's pid. In the forking thread's TLS, which the child's one
// thread is a copy of; taken in the parent, where the segment's header and the clock's page are
// mapped already, they cost the child neither a page fault (a MAP_SHARED mapping's page tables
// are not copied by fork: the child faults on every page of it it touches) nor getppid().
struct ForkHandoff {
  bool reserved;
  std::uint32_t index;
  int parent_pid;
  std::int64_t start_ns;
};
constinit thread_local ForkHandoff t_fork __attribute__((tls_model("initial-exec"))) = {};
char g_argv0[stats::kNameLen];

// Messages from the constructor: built in a fixed buffer (shim/text_buf.h), never on the heap.
using Msg = rules::Error;

void say(const Msg& m) noexcept { debug::line(m.c_str()); }

SHIM_ONCE const char* base_name(const char* path) noexcept {
  if (!path) return "?";
  const char* base = path;
  for (const char* p = path; *p; ++p)
    if (*p == '/') base = p + 1;
  return base;
}

// Copies and cuts to fit, NUL-terminated (snprintf("%s") without stdio's machinery).
SHIM_ONCE void copy_name(char* out, std::size_t size, const char* s) noexcept {
  std::size_t i = 0;
  for (; i + 1 < size && s[i]; ++i) out[i] = s[i];
  out[i] = '\0';
}

void format_addr(const sockaddr_storage& ss, socklen_t n, char* out, std::size_t len) noexcept {
  format_sockaddr(reinterpret_cast<const sockaddr*>(&ss), n, out, len);
}

// The sockets this process opened or accepted and never closed. Inherited ones belong to the
// process that created them and are not listed (see docs/stats.md).
SHIM_ONCE void record_leaks(stats::ProcessRecord& p) noexcept {
  std::uint32_t n = 0;
  g_switch.fds().for_each_socket([&](int fd, FdEntry& e) {
    if (FdState{e.state.load(std::memory_order_relaxed)}.has(FdState::kInherited)) return;
    if (n < stats::kMaxLeaks) {
      stats::LeakRecord& l = p.leaks[n];
      l.fd = fd;
      l.cookie = e.cookie.load(std::memory_order_relaxed);
      sockaddr_storage ss{};
      socklen_t len = sizeof ss;
      if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0)
        format_addr(ss, len, l.local, sizeof l.local);
      len = sizeof ss;
      ss = {};
      if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0)
        format_addr(ss, len, l.peer, sizeof l.peer);
    }
    ++n;
  });
  p.leak_count = n;
}

// What a new child needs: its own record, and the parent's sockets marked as inherited (their
// closes here are not the ones `closed` counts). A child of fork() takes the record its parent
// reserved (t_fork); one nobody announced (_Fork, clone) reserves its own.
SHIM_ONCE void adopt_child(const ForkHandoff* handed) noexcept {
  const int pid = sys::getpid();
  g_switch.mark_all_inherited(pid);
  stats::ProcessRecord* rec = nullptr;
  if (g_map) {
    rec = handed ? stats::fill_process(*g_map.seg, handed->index, pid, handed->parent_pid, g_argv0, handed->start_ns)
                 : stats::add_process(*g_map.seg, pid, sys::getppid(), g_argv0);
  }
  g_self.proc = rec;
  g_self.pid.store(pid, std::memory_order_relaxed);
}

// fork()'s prepare handler, in the parent (any thread; glibc runs it in the forking one). Only
// what is async-signal-safe: fork() may be called from a signal handler.
SHIM_ONCE void before_fork() noexcept {
  if (forked_unseen()) adopt_fork();   // the parent must know its own pid and record first
  if (!g_map) return;
  ForkHandoff& h = t_fork;
  h.index = stats::reserve_process(*g_map.seg);
  h.parent_pid = g_self.pid.load(std::memory_order_relaxed);
  h.start_ns = stats::realtime_ns();
  h.reserved = true;
}

// Runs in the child of every fork(), also the ones libc makes itself (daemon()). It leaves the
// fork canary at 0 (the kernel wiped its page): writing it would cost the child a page fault, and
// most children of a shell exec at once. The first call that finds the canary at 0 asks
// adopt_fork(), which tells this adopted process from an unseen one by its pid and arms it then.
SHIM_ONCE void after_fork_in_child() {
  const ForkHandoff& h = t_fork;
  adopt_child(h.reserved ? &h : nullptr);
}

SHIM_ONCE void adopt_fork_if_new() noexcept {
  if (forked_unseen()) adopt_fork();
}

// The canary's page: a page of this object's own zero-filled memory, so every process makes a
// madvise instead of an mmap and a madvise. An aligned page past the end of .data lies beyond the
// part of the segment ld.so maps from the file (which ends within the page where .bss starts), in
// anonymous private memory, which MADV_WIPEONFORK accepts. In .lbss, which the linker places
// after all of .bss: the page's alignment moves no other variable, so those the constructor
// writes keep sharing the pages they shared before. Nothing else lives on the page.
[[gnu::section(".lbss.sockshim_canary")]] alignas(4096) constinit std::atomic<std::uint32_t> g_canary_page[4096 / sizeof(std::uint32_t)] = {};

SHIM_ONCE void arm_fork_canary() noexcept {
  void* p = g_canary_page;
  if (sys::madvise(p, sizeof g_canary_page, MADV_WIPEONFORK) != 0) {
    // Not anonymous after all (a loader that maps .bss otherwise): a page of its own.
    p = sys::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return;
    if (sys::madvise(p, 4096, MADV_WIPEONFORK) != 0) {
      sys::munmap(p, 4096);
      return;
    }
  }
  auto* word = static_cast<std::atomic<std::uint32_t>*>(p);
  word->store(1, std::memory_order_relaxed);
  g_fork_canary = word;
}

SHIM_ONCE void at_exit(int status, void*) {
  ReentryGuard guard;   // our own calls below pass straight through
  adopt_fork_if_new();  // a child of _Fork() or clone() that made no wrapped call since
  stats::ProcessRecord* const proc = g_self.proc;
  if (!proc || proc->pid != sys::getpid()) return;
  record_leaks(*proc);
  proc->exit_status = status;
  proc->end_ns = stats::realtime_ns();
  proc->state.store(stats::kProcExited, std::memory_order_release);
}

// Without SOCKSHIM_STATS the counters still work, in memory only this process sees.
SHIM_ONCE bool map_private_segment() noexcept {
  void* p = sys::mmap(nullptr, sizeof(stats::Segment), PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return false;
  g_map.seg = static_cast<stats::Segment*>(p);
  g_map.size = sizeof(stats::Segment);
  g_map.seg->header.magic = stats::kMagic;
  g_map.seg->header.version = stats::kLayoutVersion;
  g_map.seg->header.created_ns = stats::realtime_ns();
  g_map.seg->header.created_mono_ns = stats::monotonic_ns();
  return true;
}

// The constructor's messages, in one buffer outside the stack: a Msg on the stack for each of
// its refusals made the constructor's frame 10 KiB, three stack pages the exec'd program would
// otherwise never touch (a page fault each). The constructor runs once, in one thread.
Msg g_init_msg;
SHIM_ONCE Msg& init_msg() noexcept { return g_init_msg.clear(); }

SHIM_ONCE [[noreturn]] void fail_before_main(const Msg& why) noexcept {
  say(why);
  _exit(2);   // not exit(): the program's own exit handlers must not run before its main did
}

// The rule file, read once (regular files only: a FIFO would block this process before main).
SHIM_ONCE rules::Text read_rules(const char* path) noexcept {
  rules::Text text;
  Msg& err = init_msg();
  if (!rules::read(path, text, err)) fail_before_main(err);
  return text;
}

SHIM_ONCE const filters::Table* load_rules(std::string_view text, const char* file) noexcept {
  Msg& err = init_msg();
  const filters::Table* t = rules::compile(text, file, err);
  if (!t) fail_before_main(err);
  // const_cast: the table is this process's own copy (rules::compile), not yet shared.
  const_cast<filters::Table*>(t)->select_program(g_argv0);
  return t;
}

SHIM_ONCE Msg& segment_msg(Msg& m, const char* name) noexcept { return m.s("stats segment ").s(name).s(": "); }

// The run's table as its creator compiled it into the segment (filters/table_image.h): matched
// with in place, so joining a run with rules parses nothing. Null when the segment has none or
// it is not usable by this build (the caller then parses the segment's rule text).
SHIM_ONCE const filters::Table* compiled_rules(const stats::Mapping& m, const char* name) noexcept {
  const stats::Header& h = m.seg->header;
  if (h.compiled_len == 0 || h.compiled_len > stats::kMaxCompiled) return nullptr;
  const char* why = "";
  const filters::Table* t = rules::view(m.seg->compiled, h.compiled_len, &why);
  if (!t) {
    Msg& msg = init_msg();
    segment_msg(msg, name).s("its compiled rule table is unusable (").s(why).s("); parsing its rule text");
    say(msg);
    return nullptr;
  }
  const_cast<filters::Table*>(t)->select_program(g_argv0);
  return t;
}

// The loader refuses more rules than the segment has slots for.
static_assert(filters::kMaxRules <= stats::kMaxRules);
static_assert(filters::Table::max_image_size(filters::kMaxRules) <= stats::kMaxCompiled);

// What this process runs with: the run's rule table and seed.
struct RunSetup {
  const filters::Table* table = nullptr;
  std::uint64_t seed = 0;
};

// This process's own rule file, read and compiled (no segment to take a table from).
SHIM_ONCE RunSetup own_rules(const char* rules, const std::uint64_t* seed_opt, rules::Text* text_out) noexcept {
  RunSetup run;
  rules::Text text;
  if (rules) {
    text = read_rules(rules);
    run.table = load_rules(text.view(), rules);
  }
  run.seed = seed_opt ? *seed_opt : (run.table ? run.table->seed() : 0);
  if (text_out) *text_out = text;
  return run;
}

// Joins the segment NAME, or creates it. A segment carries its rule table (the text its creator
// validated) and seed: every process of a run loads that copy, so a rule file edited or removed
// during the run, a pipe, or a relative path after chdir cannot change what later processes do.
// The first process of a run makes the segment. Out of line: the rule names it gathers take
// 9 KiB of stack, which every process that joins an existing segment (all but the first) would
// otherwise reserve below the constructor, touching stack pages it never uses.
SHIM_ONCE [[gnu::noinline]] stats::SegmentError create_run_segment(const char* name, const RunSetup& run, const rules::Text& text,
                                                          const char* rules, stats::Mapping& m, int* sys) noexcept {
  stats::TableInit init(run.table, text.view(), rules, run.seed);
  return stats::create_segment(name, init.init(), m, sys);
}

// A process that was told to use a different table or seed refuses to join, loudly: its counts
// would land in another table's rule slots.
SHIM_ONCE RunSetup join_run(const char* name, const char* rules, const std::uint64_t* seed_opt) noexcept {
  RunSetup run;
  rules::Text text;
  bool own_loaded = false;
  stats::Mapping m;
  int sys = 0;
  for (int attempt = 0; attempt < 2; ++attempt) {
    stats::SegmentError e = stats::attach_segment(name, true, 2000, m, &sys);
    if (e == stats::SegmentError::kNotFound) {
      // The first process of the run: it makes the segment from its own rule file.
      if (!own_loaded) run = own_rules(rules, seed_opt, &text);
      own_loaded = true;
      e = create_run_segment(name, run, text, rules, m, &sys);
      if (e == stats::SegmentError::kExists) continue;   // another process won: join it
      if (e == stats::SegmentError::kNone) {
        g_map = m;
        return run;
      }
    }
    if (e != stats::SegmentError::kNone) {
      Msg& why = init_msg();
      segment_msg(why, name).s(stats::describe(e));
      if (e == stats::SegmentError::kNotRegular) why.s(" (a ").s(m.file_type).s(")");
      if (sys) why.s(" (").s(std::strerror(sys)).s(")");
      say(why.s("; counting in this process only"));
      return own_loaded ? run : own_rules(rules, seed_opt, nullptr);
    }
    break;
  }
  if (!m) {
    Msg& why = init_msg();
    fail_before_main(segment_msg(why, name).s("cannot attach or create it"));
  }
  const stats::Header& h = m.seg->header;
  std::size_t made_from_len = 0;   // the header's file name, NUL-terminated unless it fills the array
  while (made_from_len < sizeof h.rules_file && h.rules_file[made_from_len]) ++made_from_len;
  const std::string_view made_from(h.rules_file, made_from_len);
  if (h.rules_text_len > stats::kMaxRulesText) {
    Msg& why = init_msg();
    fail_before_main(segment_msg(why, name).s("damaged (rule table of ").u(h.rules_text_len).s(" bytes)"));
  }
  const std::string_view seg_text(m.seg->rules_text, h.rules_text_len);
  if (rules && *rules) {
    if (h.rules_text_len == 0) {
      Msg& why = init_msg();
      fail_before_main(why.s("SOCKSHIM_RULES=").s(rules).s(" but stats segment ").s(name)
                           .s(" belongs to a run without rules; use another SOCKSHIM_STATS name"));
    }
    // The same path as the creator's means its table (never re-read: the file may have changed).
    if (std::strncmp(rules, h.rules_file, sizeof h.rules_file) != 0 && read_rules(rules).view() != seg_text) {
      Msg& why = init_msg();
      why.s("SOCKSHIM_RULES=").s(rules).s(" differs from the rule table of stats segment ").s(name).s(" (made from ");
      if (made_from.empty()) why.s("no rule file"); else why.s("\"").s(made_from).s("\"");
      fail_before_main(why.s("); every process of a run uses one table: use another SOCKSHIM_STATS name"));
    }
  }
  if (seed_opt && *seed_opt != h.seed) {
    Msg& why = init_msg();
    fail_before_main(why.s("SOCKSHIM_SEED=").u(*seed_opt).s(" differs from the seed ").u(h.seed).s(" of stats segment ")
                         .s(name).s("; use another SOCKSHIM_STATS name"));
  }
  run.seed = h.seed;
  if (h.rules_text_len) {
    run.table = compiled_rules(m, name);
    if (!run.table) {
      // A copy: the segment is writable by every process of the run.
      char* copy = static_cast<char*>(std::malloc(seg_text.size() + 1));
      if (!copy) fail_before_main(init_msg().s("out of memory copying the run's rule table"));
      std::memcpy(copy, seg_text.data(), seg_text.size());
      if (stats::rules_digest(copy, seg_text.size()) != h.rules_digest) {
        Msg& why = init_msg();
        fail_before_main(segment_msg(why, name).s("damaged (its rule table does not match its digest)"));
      }
      run.table = load_rules(std::string_view(copy, seg_text.size()), h.rules_file);
    }
    if (run.table->rules().size() != h.rule_count) {
      Msg& why = init_msg();
      fail_before_main(segment_msg(why, name).s("damaged (rule count)"));
    }
  }
  g_map = m;
  return run;
}

SHIM_ONCE void init(int argc, char** argv, char** envp) {
  // Also in secure-exec processes: vfork there must still be the real vfork.
  real::setup();
  // Secure-exec (setuid, file capabilities): the environment is the caller's, not to be trusted.
  // Every wrapper then passes straight through (ready() stays false).
  if (getauxval(AT_SECURE)) return;
  const ShimEnv env = read_shim_env(envp);   // glibc passes it to every constructor
  const char* rules = env.rules;
  const char* name = env.stats;
  const char* seed_text = env.seed;
  const char* dbg = env.debug;
  copy_name(g_argv0, sizeof g_argv0, base_name(argc > 0 && argv ? argv[0] : nullptr));
  if (rules && !*rules) rules = nullptr;
  std::uint64_t seed_value = 0;
  const std::uint64_t* seed_opt = nullptr;
  if (seed_text && *seed_text) {
    if (!parse_seed(seed_text, seed_value))
      fail_before_main(init_msg().s("SOCKSHIM_SEED: expected ").s(kSeedSyntax).s(", got ").q(seed_text));
    seed_opt = &seed_value;
  }
  bool debug = false;
  if (dbg && !parse_switch(dbg, debug))
    fail_before_main(init_msg().s("SOCKSHIM_DEBUG: expected 1/true/yes/on or 0/false/no/off, got ").q(dbg));
  // Without its fd table the shim would see no socket at all: a chaos run that injects nothing.
  if (!g_switch.fds().init())
    fail_before_main(init_msg().s("cannot map memory for the fd table (RLIMIT_AS?); the shim cannot serve this process"));
  RunSetup run;
  if (name && *name) {
    run = join_run(name, rules, seed_opt);
  } else {
    run = own_rules(rules, seed_opt, nullptr);
  }
  const bool private_segment = !g_map;
  if (!g_map && !map_private_segment()) {
    if (run.table) fail_before_main(init_msg().s("cannot map memory for the counters; the rules cannot be applied"));
    say(init_msg().s("cannot map memory for counters; the shim stays inert in this process"));
    return;
  }
  stats::Segment& seg = *g_map.seg;
  const int pid = sys::getpid();
  const std::int64_t now = stats::realtime_ns();   // the replaced image's end, this one's start
  // The same pid still running: the image we replaced with execve().
  if (stats::ProcessRecord* prev = stats::newest_process(seg, pid);
      prev && prev->state.load(std::memory_order_acquire) == stats::kProcRunning) {
    prev->end_ns = now;
    prev->state.store(stats::kProcExeced, std::memory_order_release);
  }
  g_self.proc = stats::fill_process(seg, stats::reserve_process(seg), pid, sys::getppid(), g_argv0, now);
  g_self.pid.store(pid, std::memory_order_relaxed);
  g_switch.set_owner(pid);
  g_switch.set_segment(&seg);
  g_switch.set_seed(run.seed);
  if (private_segment) {   // rules that start off are off here too
    seg.header.seed = run.seed;
    for (std::size_t i = 0; run.table && i < run.table->rules().size() && i < stats::kMaxRules; ++i)
      seg.rules[i].disabled.store(run.table->rules()[i].enabled ? 0 : 1, std::memory_order_relaxed);
  }
  g_switch.set_table(run.table);
  g_switch.set_debug(debug);
  if (const char* why = nullptr; env.capture && *env.capture) {
    if (capture::init(env.capture, &why))
      g_switch.set_general_only();   // captured calls are the general path's (after())
    else
      say(init_msg().s("--pcap: ").s(why).s(" (").s(env.capture).s("); this process is not captured"));
  }
  arm_fork_canary();
  on_exit(at_exit, nullptr);
  // What pthread_atfork() does (libc_nonshared.a's stub, linked into this object's last text
  // page, which nothing else a process's start runs lies on: a page fault in every process).
  __register_atfork(before_fork, nullptr, after_fork_in_child, &__dso_handle);
  g_switch.set_ready();
}

}  // namespace

SHIM_ONCE void adopt_fork() noexcept {
  // Adopted by the fork handler already (which left the canary for the first call to arm)? A
  // child of a raw clone made from such a process before it armed the canary has another pid.
  if (g_self.pid.load(std::memory_order_relaxed) == sys::getpid()) {
    g_fork_canary->store(1, std::memory_order_relaxed);
    return;
  }
  std::uint32_t unseen = 0;
  if (!g_fork_canary->compare_exchange_strong(unseen, 1, std::memory_order_relaxed)) return;
  ReentryGuard guard;
  adopt_child(nullptr);
}

}  // namespace shim

// glibc passes argc/argv/envp to ELF constructors. Priority 101: before ordinary constructors of
// this object; other libraries' constructors that call socket functions earlier pass through.
__attribute__((constructor(101))) static void sockshim_init(int argc, char** argv, char** envp) {
  shim::ReentryGuard guard;
  shim::init(argc, argv, envp);
}
