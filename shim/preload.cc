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

#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "filters/table.h"
#include "shim/debug_log.h"
#include "shim/real.h"
#include "shim/sockaddr_text.h"
#include "shim/stats/segment.h"
#include "shim/switch.h"

namespace shim {

constinit thread_local unsigned t_depth __attribute__((tls_model("initial-exec"))) = 0;
}  // namespace shim

extern "C" {
constinit thread_local int sockshim_vfork_hint __attribute__((tls_model("initial-exec"))) = 0;
void* sockshim_real_vfork = nullptr;
}

namespace shim {

namespace {

stats::Mapping g_map;                       // the run's segment, or a private one
stats::ProcessRecord* g_proc = nullptr;     // this process's record
char g_argv0[stats::kNameLen];

void say(const std::string& s) noexcept { debug::line(s.c_str()); }

const char* base_name(const char* path) noexcept {
  const char* slash = path ? std::strrchr(path, '/') : nullptr;
  return slash ? slash + 1 : (path ? path : "?");
}

void format_addr(const sockaddr_storage& ss, socklen_t n, char* out, std::size_t len) noexcept {
  format_sockaddr(reinterpret_cast<const sockaddr*>(&ss), n, out, len);
}

// The sockets this process opened or accepted and never closed. Inherited ones belong to the
// process that created them and are not listed (see docs/stats.md).
void record_leaks(stats::ProcessRecord& p) noexcept {
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

void at_exit(int status, void*) {
  ReentryGuard guard;   // our own calls below pass straight through
  if (!g_proc || g_proc->pid != getpid()) return;
  record_leaks(*g_proc);
  g_proc->exit_status = status;
  g_proc->end_ns = stats::realtime_ns();
  g_proc->state.store(stats::kProcExited, std::memory_order_release);
}

// Runs in the child of every fork(), also the ones libc makes itself (daemon()).
void after_fork_in_child() {
  g_switch.mark_all_inherited();
  if (g_map) g_proc = stats::add_process(*g_map.seg, getpid(), getppid(), g_argv0);
}

// Without SOCKSHIM_STATS the counters still work, in memory only this process sees.
bool map_private_segment() noexcept {
  void* p = mmap(nullptr, sizeof(stats::Segment), PROT_READ | PROT_WRITE,
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

[[noreturn]] void fail_before_main(const std::string& why) {
  say(why);
  _exit(2);   // not exit(): the program's own exit handlers must not run before its main did
}

const filters::Table* load_rules(const char* path, const char* argv0) {
  try {
    auto* t = new filters::Table(filters::load_table_file(path));   // lives until the process ends
    t->select_program(argv0);
    if (t->rules().size() > stats::kMaxRules)
      fail_before_main(std::string(path) + ": " + std::to_string(t->rules().size()) +
                       " rules; at most " + std::to_string(stats::kMaxRules) + " are supported");
    return t;
  } catch (const std::exception& e) {
    fail_before_main(e.what());
  }
}

void attach_stats(const char* name, const filters::Table* table, const char* rules_path,
                  std::uint64_t seed) {
  std::vector<const char*> names;
  std::unique_ptr<bool[]> disabled(new bool[table ? table->rules().size() + 1 : 1]());
  if (table)
    for (const auto& r : table->rules()) {
      disabled[names.size()] = !r.enabled;
      names.push_back(r.name.c_str());
    }
  stats::SegmentInit init;
  init.seed = seed;
  init.rules_file = rules_path ? rules_path : "";
  init.rule_count = static_cast<std::uint32_t>(names.size());
  init.rule_names = names.data();
  init.rule_disabled = disabled.get();
  int sys = 0;
  const stats::SegmentError e = stats::open_segment(name, init, g_map, &sys);
  if (e == stats::SegmentError::kNone) return;
  std::string why = std::string("stats segment ") + name + ": " + stats::describe(e);
  if (sys) why += std::string(" (") + std::strerror(sys) + ")";
  say(why + "; counting in this process only");
}

void init(int argc, char** argv) {
  // Secure-exec (setuid, file capabilities): the environment is the caller's, not to be trusted.
  if (getauxval(AT_SECURE)) return;
  real::resolve();
  g_switch.fds().init();
  const char* rules = std::getenv("SOCKSHIM_RULES");
  const char* name = std::getenv("SOCKSHIM_STATS");
  const char* seed_text = std::getenv("SOCKSHIM_SEED");
  const char* dbg = std::getenv("SOCKSHIM_DEBUG");
  std::snprintf(g_argv0, sizeof g_argv0, "%s", base_name(argc > 0 && argv ? argv[0] : nullptr));
  const filters::Table* table = rules && *rules ? load_rules(rules, g_argv0) : nullptr;
  std::uint64_t seed = table ? table->seed() : 0;
  if (seed_text && *seed_text) seed = std::strtoull(seed_text, nullptr, 10);
  if (name && *name) attach_stats(name, table, rules, seed);
  const bool private_segment = !g_map;
  if (!g_map && !map_private_segment()) {
    say("cannot map memory for counters; the shim stays inert in this process");
    return;
  }
  stats::Segment& seg = *g_map.seg;
  const int pid = getpid();
  // The same pid still running: the image we replaced with execve().
  if (stats::ProcessRecord* prev = stats::find_process(seg, pid);
      prev && prev->state.load(std::memory_order_acquire) == stats::kProcRunning) {
    prev->end_ns = stats::realtime_ns();
    prev->state.store(stats::kProcExeced, std::memory_order_release);
  }
  g_proc = stats::add_process(seg, pid, getppid(), g_argv0);
  g_switch.set_owner(pid);
  g_switch.set_segment(&seg);
  g_switch.set_seed(seed);
  if (private_segment) {   // rules that start off are off here too
    seg.header.seed = seed;
    for (std::size_t i = 0; table && i < table->rules().size() && i < stats::kMaxRules; ++i)
      seg.rules[i].disabled.store(table->rules()[i].enabled ? 0 : 1, std::memory_order_relaxed);
  }
  g_switch.set_table(table);
  g_switch.set_debug(dbg && *dbg && *dbg != '0');
  on_exit(at_exit, nullptr);
  pthread_atfork(nullptr, nullptr, after_fork_in_child);
  g_switch.set_ready();
}

}  // namespace
}  // namespace shim

// glibc passes argc/argv/envp to ELF constructors. Priority 101: before ordinary constructors of
// this object; other libraries' constructors that call socket functions earlier pass through.
__attribute__((constructor(101))) static void sockshim_init(int argc, char** argv, char**) {
  shim::ReentryGuard guard;
  shim::init(argc, argv);
}
