// `sockshim run`: check the rules, make the run's segment, start CMD with the shim preloaded,
// wait, settle the records, report, exit with CMD's status.
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "filters/table.h"
#include "shim/cmd/capture_writer.h"
#include "shim/cmd/commands.h"
#include "shim/cmd/elf_probe.h"
#include "shim/cmd/intercept.h"
#include "shim/cmd/junit.h"
#include "shim/stats/report.h"
#include "shim/stats/segment.h"
#include "shim/seccomp/coverage.h"
#include "shim/seccomp/launcher.h"
#include "shim/seccomp/supervisor.h"
#include "shim/stats/table_init.h"

namespace shim::cmd {
namespace {

static_assert(filters::kMaxRules <= stats::kMaxRules, "the loader refuses what the segment cannot hold");

volatile sig_atomic_t g_child = 0;

void forward_signal(int sig) {
  if (g_child > 0) kill(g_child, sig);
}

void err(const std::string& s) { std::fprintf(stderr, "sockshim: %s\n", s.c_str()); }

std::string self_dir() {
  char buf[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  buf[n] = 0;
  std::string p(buf);
  return p.substr(0, p.rfind('/'));
}

// Where libsockshim.so is looked for, first found wins: --preload, $SOCKSHIM_LIB, beside the
// command (the build tree), then the install's private folder, found from the command's own
// location (meson.build fixes the path from bindir, so any prefix and DESTDIR work).
std::vector<std::string> library_candidates(const std::string& preload) {
  if (!preload.empty()) return {preload};
  if (const char* env = std::getenv("SOCKSHIM_LIB"); env && *env) return {env};
  const std::string dir = self_dir();
  const std::filesystem::path installed = SOCKSHIM_PRELOAD_FROM_BINDIR;
  // lexically_normal: the error message names .../lib/sockshim, not .../bin/../lib/sockshim.
  const std::filesystem::path lib = (installed.is_absolute() ? installed : dir / installed) / "libsockshim.so";
  return {dir + "/libsockshim.so", lib.lexically_normal().string()};
}

std::string find_library(const std::vector<std::string>& candidates) {
  for (const std::string& p : candidates) {
    if (access(p.c_str(), R_OK) == 0) {
      char real[PATH_MAX];
      return realpath(p.c_str(), real) ? std::string(real) : p;
    }
  }
  return {};
}

// Unpredictable, so nobody can plant a file at the path of a run's segment before it starts.
std::string default_name() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  std::uint32_t r = 0;
  if (getrandom(&r, sizeof r, 0) != static_cast<ssize_t>(sizeof r))
    r = static_cast<std::uint32_t>(ts.tv_nsec) ^ static_cast<std::uint32_t>(getpid() << 16);
  char tail[16];
  std::snprintf(tail, sizeof tail, "%08x", r);
  return "run-" + std::to_string(getpid()) + "-" + std::to_string(ts.tv_sec) + "-" + tail;
}

void set_env(const char* k, const std::string& v) { setenv(k, v.c_str(), 1); }

pid_t start(const std::vector<std::string>& command) {
  std::vector<char*> argv;
  for (const auto& a : command) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    execvp(argv[0], argv.data());
    const int e = errno;
    std::fprintf(stderr, "sockshim: cannot run %s: %s\n", argv[0], std::strerror(e));
    _exit(e == ENOENT ? 127 : 126);
  }
  return pid;
}

int wait_for(pid_t pid, int* raw) {
  for (;;) {
    const pid_t r = waitpid(pid, raw, 0);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) return -1;
  }
  return WIFEXITED(*raw) ? WEXITSTATUS(*raw) : 128 + WTERMSIG(*raw);
}

// The last image of CMD's pid learns its fate from waitpid, which only the parent sees: a kill
// by signal, or an _exit() that skipped the exit handlers.
void settle_record(stats::Segment& s, pid_t pid, int raw) {
  stats::ProcessRecord* r = stats::find_process(s, pid);
  if (!r) return;
  const std::uint32_t st = r->state.load(std::memory_order_acquire);
  if (WIFSIGNALED(raw)) {
    r->exit_status = 128 + WTERMSIG(raw);
    if (!r->end_ns) r->end_ns = stats::realtime_ns();
    r->state.store(stats::kProcKilled, std::memory_order_release);
  } else if (st == stats::kProcRunning) {
    r->exit_status = WEXITSTATUS(raw);
    r->end_ns = stats::realtime_ns();
    r->state.store(stats::kProcExited, std::memory_order_release);
  }
}

// Other processes of the run that are gone but never ran their exit handler (a forked worker
// that left with _exit, say) would read "running" forever; say what is known instead. A zombie
// is gone too (a double fork's middle process waits there for init), and so is a pid now used by
// a process that started after the record.
void settle_vanished(stats::Segment& s) {
  std::uint32_t n = s.header.process_next.load(std::memory_order_acquire);
  if (n > stats::kMaxProcesses) n = stats::kMaxProcesses;
  for (std::uint32_t i = 0; i < n; ++i) {
    stats::ProcessRecord& r = s.processes[i];
    if (r.state.load(std::memory_order_acquire) != stats::kProcRunning) continue;
    if (!stats::process_alive(r)) {
      r.end_ns = stats::realtime_ns();
      r.state.store(stats::kProcVanished, std::memory_order_release);
    }
  }
}

double monotonic_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

// Seccomp mode's conditions, checked before anything starts: a set-ID program would lose its
// privileges to NO_NEW_PRIVS (exit 3: neither mode reaches it), a program of another ABI would be
// killed (exit 3), and every rule must be one the supervisor carries out (exit 2, naming the
// rules). 0 when seccomp mode may go ahead.
int seccomp_refusal(const RunOptions& o, const ExecProbe& probe, const InterceptChoice& how,
                    const filters::Table* table) {
  if (probe.setid) {
    err(probe.path + " is set-user-ID/set-group-ID: seccomp mode sets NO_NEW_PRIVS, which would keep it "
        "from gaining its privileges and change what it does; LD_PRELOAD is ignored for it too");
    return 3;
  }
  // The filter kills calls of another ABI (a 32-bit program's first system call would be its
  // last): refuse rather than start it. Scripts and unreadable files are left to the kernel.
  const bool elf = probe.kind == ExecProbe::Kind::kDynamic || probe.kind == ExecProbe::Kind::kStatic;
  if (elf && !probe.x86_64) {
    err(probe.path + " is not an x86-64 program: seccomp mode's filter serves the x86-64 system call ABI only");
    return 3;
  }
  if (!table) return 0;
  const std::vector<std::string> bad = seccomp::unsupported_rules(*table);
  for (const std::string& b : bad) err(o.rules_file + ": " + b + " (seccomp mode: " + how.why + ")");
  return bad.empty() ? 0 : 2;
}

// Starts CMD under the seccomp filter and serves it until it ends: the raw wait status, or -1
// with *launch_error set when it could not start (exit 3: never a run without its faults).
int run_supervised(const RunOptions& o, stats::Segment& seg, const filters::Table* table, pid_t* pid,
                   std::string* launch_error) {
  const auto filter = seccomp::build_filter(table, o.seccomp_rw);
  if (!filter) {
    *launch_error = "seccomp: cannot build the filter: " + std::string(bpfvm::seccomp::reason(filter.error()));
    return -1;
  }
  const seccomp::Launched l = seccomp::launch(o.command, *filter);
  if (l.pid < 0) {
    *launch_error = l.error;
    return -1;
  }
  *pid = l.pid;
  g_child = l.pid;
  seccomp::Supervisor supervisor(l.listener, seg, table, l.killable);
  const int raw = supervisor.serve(l.pid, o.command[0]);
  g_child = 0;
  return raw;
}

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  return static_cast<bool>(out.flush());
}

}  // namespace

int run_command(const RunOptions& o) {
  if (o.command.empty()) {
    err("run: no command given (usage: sockshim run [OPTIONS] -- CMD ARGS...)");
    return 2;
  }
  std::optional<filters::Table> table;
  std::string rules_text;   // read once: the children load this copy from the segment
  std::string rules_abs;
  bool rules_regular = false;
  if (!o.rules_file.empty()) {
    try {
      rules_text = filters::read_rule_file(o.rules_file, filters::FileKinds::kRegularOrPipe);
      table = filters::load_table_text(rules_text, o.rules_file);
    } catch (const std::exception& e) {
      err(e.what());
      return 2;
    }
    struct stat st {};
    rules_regular = stat(o.rules_file.c_str(), &st) == 0 && S_ISREG(st.st_mode);
    char real[PATH_MAX];
    rules_abs = rules_regular && realpath(o.rules_file.c_str(), real) ? real : o.rules_file;
  }
  const ExecProbe probe = probe_executable(o.command[0]);
  const InterceptChoice how = choose_intercept(o.intercept, probe);
  const bool seccomp_mode = how.mode == Intercept::kSeccomp;
  if (seccomp_mode)
    if (const int refused = seccomp_refusal(o, probe, how, table ? &*table : nullptr)) return refused;
  if (seccomp_mode && !o.pcap.empty()) {
    err("--pcap: capture works in preload mode only, and " + o.command[0] + " runs in seccomp mode (" + how.why + ")");
    return 2;
  }
  if (!o.pcap.empty() && (o.pcap_slots & (o.pcap_slots - 1)) != 0) {
    err("--pcap-slots " + std::to_string(o.pcap_slots) + ": must be a power of two");
    return 2;
  }
  const std::vector<std::string> candidates = library_candidates(o.preload);
  const std::string lib = seccomp_mode ? std::string() : find_library(candidates);
  if (!seccomp_mode && lib.empty()) {
    std::string tried;
    for (const std::string& c : candidates) tried += (tried.empty() ? "" : ", ") + c;
    err("cannot find the preload object (tried " + tried + "); use --preload PATH or set SOCKSHIM_LIB");
    return 2;
  }
  // The name: --name, else SOCKSHIM_STATS (a segment the caller chose), else a fresh one. Inside
  // another run (`sockshim run -- sockshim run -- CMD`) SOCKSHIM_STATS names the outer run's
  // segment, which is in use: the inner run then takes a fresh name of its own.
  std::string name = o.name;
  bool chosen = !name.empty();
  if (name.empty())
    if (const char* env = std::getenv("SOCKSHIM_STATS"); env && *env) {
      int pid = 0;
      if (!stats::segment_in_use(env, &pid)) name = env, chosen = true;
    }
  if (name.empty()) name = default_name();

  // Every --expect-fired names a rule of the file: a typo must not pass as "never fired".
  for (const std::string& want : o.expect_fired) {
    const bool known = table && std::any_of(table->rules().begin(), table->rules().end(),
                                            [&](const filters::Rule& r) { return r.name == want; });
    if (!known) {
      err("--expect-fired " + want + ": " +
          (table ? o.rules_file + " has no rule of that name" : std::string("no rule file given (-c)")));
      return 2;
    }
  }
  const std::uint64_t seed = o.seed ? *o.seed : (table ? table->seed() : 0);
  stats::TableInit init(table ? &*table : nullptr, rules_text, rules_abs.c_str(), seed);
  init.init().hold = true;   // the name is in use until this run ends
  stats::Mapping m;
  int sys = 0, user = 0;
  if (const auto e = stats::replace_segment(name.c_str(), init.init(), m, &sys, &user); e != stats::SegmentError::kNone) {
    std::string why = "stats segment " + name + ": " + stats::describe(e);
    if (e == stats::SegmentError::kInUse && user) why += " (pid " + std::to_string(user) + ")";
    if (e == stats::SegmentError::kInUse && chosen) why += "; choose another --name";
    if (e == stats::SegmentError::kNotRegular) why += std::string(" (a ") + m.file_type + " is at its path)";
    if (sys) why += std::string(" (") + std::strerror(sys) + ")";
    err(why);
    return 2;
  }
  if (o.keep) m.seg->header.kept.store(1, std::memory_order_relaxed);
  // Capture: the ring the run's processes append to, drained into the pcap by a thread of ours.
  std::unique_ptr<CaptureWriter> capture;
  if (!o.pcap.empty()) {
    std::string why;
    capture = CaptureWriter::start(o.pcap, "/dev/shm/sockshim-capture-" + name, o.pcap_slots, &why);
    if (!capture) {
      err("--pcap: " + why);
      stats::remove_segment(name.c_str());
      stats::unmap_segment(m);
      return 2;
    }
    set_env("SOCKSHIM_CAPTURE", capture->ring_path());
  }
  // Without --pcap an inherited SOCKSHIM_CAPTURE stays: a run inside a `--pcap` run belongs to
  // the outer run's capture.

  // Seccomp mode counts in the supervisor: a preload object too would count every call twice.
  const char* old_preload = std::getenv("LD_PRELOAD");
  if (!seccomp_mode) set_env("LD_PRELOAD", old_preload && *old_preload ? lib + " " + old_preload : lib);
  set_env("SOCKSHIM_STATS", name);
  // The children take the rule table from the segment. SOCKSHIM_RULES names the file too (for a
  // process that loses SOCKSHIM_STATS on the way), but not a pipe, which nobody can read twice.
  if (table && rules_regular) set_env("SOCKSHIM_RULES", rules_abs); else unsetenv("SOCKSHIM_RULES");
  if (o.seed) set_env("SOCKSHIM_SEED", std::to_string(*o.seed)); else unsetenv("SOCKSHIM_SEED");

  struct sigaction sa {};
  sa.sa_handler = forward_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaction(sig, &sa, nullptr);
  const std::int64_t start_ns = stats::realtime_ns();
  const double start_s = monotonic_seconds();
  pid_t pid = -1;
  int raw = 0;
  int status = 0;
  if (seccomp_mode) {
    std::string launch_error;
    raw = run_supervised(o, *m.seg, table ? &*table : nullptr, &pid, &launch_error);
    if (!launch_error.empty()) {
      err(launch_error + "; " + o.command[0] + " was not started (" + how.why + ")");
      stats::remove_segment(name.c_str());
      stats::unmap_segment(m);
      return 3;
    }
    status = raw < 0 ? -1 : WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
  } else {
    pid = start(o.command);
    if (pid < 0) {
      err(std::string("fork: ") + std::strerror(errno));
      return 2;
    }
    g_child = pid;
    status = wait_for(pid, &raw);
    g_child = 0;
  }
  const double seconds = monotonic_seconds() - start_s;
  if (status < 0) {
    err(std::string("waitpid: ") + std::strerror(errno));
    status = 2;
  }
  settle_record(*m.seg, pid, raw);
  settle_vanished(*m.seg);
  if (capture) {
    const CaptureTotals t = capture->finish();
    if (t.lost_records)
      err("--pcap: " + std::to_string(t.lost_records) + " capture records (" + std::to_string(t.lost_bytes) +
          " bytes) were lost: the ring was full (raise --pcap-slots); " + o.pcap + " misses them");
    if (o.summary)
      std::fprintf(stderr, "capture: %llu packets from %llu records in %s, %llu records lost\n",
                   static_cast<unsigned long long>(t.packets), static_cast<unsigned long long>(t.records),
                   o.pcap.c_str(), static_cast<unsigned long long>(t.lost_records));
  }

  const bool exec_failed = WIFEXITED(raw) && (status == 127 || status == 126) &&
                           m.seg->header.process_next.load() == 0;
  const bool attached = m.seg->header.process_next.load() != 0;
  if (!attached && !exec_failed) {
    err("no process of `" + o.command[0] + "` loaded the shim, so nothing was counted or injected: " +
        unattached_reason(probe_executable(o.command[0])));
    if (!o.allow_unattached) status = 3;
  }
  // After the command: a rule the run expected to fire that never did fails the run.
  for (const std::string& want : o.expect_fired) {
    for (std::uint32_t i = 0; i < m.seg->header.rule_count && i < stats::kMaxRules; ++i) {
      if (table->rules()[i].name != want) continue;   // --expect-fired implies a table
      if (m.seg->rules[i].fired.load() == 0) {
        err("rule " + want + " never fired (hits " + std::to_string(m.seg->rules[i].hits.load()) +
            "): --expect-fired fails the run");
        if (status == 0) status = 4;
      }
    }
  }
  if (o.summary) {
    std::fputs(stats::to_text(*m.seg, name).c_str(), stderr);
    std::fprintf(stderr, "intercept: %s (%s)\n", intercept_name(how.mode), how.why.c_str());
  }
  if (!o.junit.empty()) {
    const JunitRun report{name, o.command, o.expect_fired, raw, attached || o.allow_unattached,
                          start_ns, seconds, host_name(), stats::to_json(*m.seg, name),
                          stats::to_text(*m.seg, name), intercept_name(how.mode)};
    if (!write_file(o.junit, to_junit(report))) {
      err("cannot write " + o.junit + ": " + std::strerror(errno));
      if (status == 0) status = 2;
    }
  }
  nlohmann::json doc = stats::to_json(*m.seg, name);
  doc["intercept"] = {{"mode", intercept_name(how.mode)}, {"why", how.why}};
  if (!o.json_out.empty() && !write_file(o.json_out, doc.dump(2) + "\n")) {
    err("cannot write " + o.json_out + ": " + std::strerror(errno));
    if (status == 0) status = 2;
  }
  if (o.keep)
    std::fprintf(stderr, "sockshim: stats kept: sockshim stats %s\n", name.c_str());
  else
    stats::remove_segment(name.c_str());
  stats::unmap_segment(m);
  return status;
}

}  // namespace shim::cmd
