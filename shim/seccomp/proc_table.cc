#include "shim/seccomp/proc_table.h"

#include <linux/kcmp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "shim/stats/segment.h"

namespace shim::seccomp {
namespace {

struct Status {
  pid_t tgid = -1, ppid = -1;
  std::string name;
};

// /proc/TID/status: Name, Tgid and PPid (the parent of the thread group).
Status read_status(pid_t tid) {
  Status s;
  std::ifstream in("/proc/" + std::to_string(tid) + "/status");
  std::string line;
  for (int i = 0; i < 64 && std::getline(in, line); ++i) {
    std::istringstream words(line);
    std::string key;
    words >> key;
    if (key == "Name:") words >> s.name;
    else if (key == "Tgid:") words >> s.tgid;
    else if (key == "PPid:") words >> s.ppid;
  }
  return s;
}

// <linux/pidfd.h> of Linux 6.15 (PIDFD_GET_INFO, PIDFD_INFO_EXIT), which the build's headers
// may predate: the first published struct pidfd_info (PIDFD_INFO_SIZE_VER0, 64 bytes).
struct PidfdInfo {
  std::uint64_t mask;
  std::uint64_t cgroupid;
  std::uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
  std::int32_t exit_code;   // a wait status
};
static_assert(sizeof(PidfdInfo) == 64);
constexpr unsigned long kPidfdGetInfo = _IOWR(0xFF, 11, PidfdInfo);
constexpr std::uint64_t kPidfdInfoExit = 1u << 3;

// How the process of pidfd ended (a wait status), once its parent reaped it; -1 before that or
// on a kernel without PIDFD_INFO_EXIT.
int exit_status_of(int pidfd) {
  PidfdInfo info{};
  info.mask = kPidfdInfoExit;
  if (ioctl(pidfd, kPidfdGetInfo, &info) != 0 || !(info.mask & kPidfdInfoExit)) return -1;
  return info.exit_code;
}

bool ended(int pidfd) {
  pollfd p{pidfd, POLLIN, 0};
  return poll(&p, 1, 0) == 1;
}

}  // namespace

ProcTable::~ProcTable() {
  for (auto& [tgid, p] : procs_) {
    close(p.pidfd);
    if (p.exec) close(p.exec->mem);
  }
  for (Ended& e : ended_) close(e.pidfd);
}

Proc* ProcTable::add(pid_t tgid, pid_t ppid, const char* argv0) {
  const long pidfd = syscall(SYS_pidfd_open, tgid, 0);
  if (pidfd < 0) return nullptr;
  Proc& p = procs_[tgid];
  p.tgid = tgid;
  p.ppid = ppid;
  p.pidfd = static_cast<int>(pidfd);
  if (auto parent = procs_.find(ppid); parent != procs_.end()) {
    p.fds = parent->second.fds;
    for (auto& [fd, k] : p.fds) k.inherited = true;
  }
  p.shares_parent_vm = ppid > 0 && syscall(SYS_kcmp, tgid, ppid, KCMP_VM, 0, 0) == 0;
  if (!p.shares_parent_vm && !stats::newest_process(seg_, tgid)) {
    // A fork child carries its parent's program name, as the preload object's copy of it does
    // (the kernel's comm is cut to 15 bytes and may differ from argv[0]).
    const stats::ProcessRecord* parent = stats::newest_process(seg_, ppid);
    stats::add_process(seg_, tgid, ppid, parent ? parent->argv0 : argv0, stats::kInterceptSeccomp);
  }
  tgid_of_[tgid] = tgid;
  return &p;
}

void ProcTable::add_main(pid_t pid, const std::string& argv0) {
  const std::string base = argv0.substr(argv0.rfind('/') + 1);
  main_ = pid;
  if (Proc* p = add(pid, getpid(), base.c_str())) p->launching = true;
}

void ProcTable::replaced_image(Proc& p, const std::string& argv0) {
  stats::ProcessRecord* r = stats::newest_process(seg_, p.tgid);
  if (p.launching) {
    // The launcher became the command: its record is made already, named as the command's image
    // names itself (a script's interpreter), as the preload object there would name it.
    p.launching = false;
    if (r && !argv0.empty()) std::snprintf(r->argv0, sizeof r->argv0, "%s", argv0.c_str());
    return;
  }
  if (r && r->state.load(std::memory_order_acquire) == stats::kProcRunning) {
    r->end_ns = stats::realtime_ns();
    r->state.store(stats::kProcExeced, std::memory_order_release);
  }
  p.shares_parent_vm = false;
  stats::add_process(seg_, p.tgid, r ? r->ppid : p.ppid, argv0.c_str(), stats::kInterceptSeccomp);
}

Proc* ProcTable::of_thread(pid_t tid, const std::function<void(pid_t)>& before_add) {
  if (auto t = tgid_of_.find(tid); t != tgid_of_.end())
    if (auto p = procs_.find(t->second); p != procs_.end()) return &p->second;
  const Status s = read_status(tid);
  if (s.tgid <= 0) return nullptr;
  auto p = procs_.find(s.tgid);
  Proc* proc = p != procs_.end() ? &p->second : nullptr;
  if (!proc) {
    // A thread other than the leader: the group's parent is the leader's.
    const Status leader = s.tgid == tid ? s : read_status(s.tgid);
    if (before_add) before_add(leader.ppid);
    proc = add(s.tgid, leader.ppid, leader.name.c_str());
  }
  if (proc) tgid_of_[tid] = s.tgid;
  return proc;
}

// The sockets it opened or accepted and never closed, as the preload object lists them at exit:
// inherited ones belong to the process that made them.
std::vector<std::pair<int, KnownSocket>> ProcTable::leaks_of(const Proc& p) {
  std::vector<std::pair<int, KnownSocket>> open;
  for (const auto& [fd, k] : p.fds)
    if (!k.inherited) open.emplace_back(fd, k);
  std::sort(open.begin(), open.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return open;
}

// Only what the supervisor knows of a socket it can no longer ask: fd and cookie, and the peer's
// port (`:PORT`) when it connected somewhere.
void ProcTable::record_leaks(stats::ProcessRecord& r, const std::vector<std::pair<int, KnownSocket>>& open) {
  std::uint32_t n = 0;
  for (const auto& [fd, k] : open) {
    if (n < stats::kMaxLeaks) {
      stats::LeakRecord& l = r.leaks[n];
      l = stats::LeakRecord{};
      l.fd = fd;
      l.cookie = k.cookie;
      if (k.local_port > 0) std::snprintf(l.local, sizeof l.local, ":%d", k.local_port);
      if (k.peer_port > 0) std::snprintf(l.peer, sizeof l.peer, ":%d", k.peer_port);
    }
    ++n;
  }
  r.leak_count = n;
}

// True when e's record is settled (or has none): exited with its status and leaks, or killed.
bool ProcTable::settle(Ended& e) {
  if (e.tgid == main_) return true;   // the command's: `sockshim run` reaps it and settles its record
  const int raw = exit_status_of(e.pidfd);
  if (raw < 0) return false;
  stats::ProcessRecord* r = stats::newest_process(seg_, e.tgid);
  if (r && r->state.load(std::memory_order_acquire) == stats::kProcRunning) {
    r->end_ns = stats::realtime_ns();
    if (WIFSIGNALED(raw)) {
      r->exit_status = 128 + WTERMSIG(raw);
      r->state.store(stats::kProcKilled, std::memory_order_release);
    } else {
      r->exit_status = WEXITSTATUS(raw);
      record_leaks(*r, e.open);
      r->state.store(stats::kProcExited, std::memory_order_release);
    }
  }
  return true;
}

void ProcTable::sweep() {
  for (auto it = procs_.begin(); it != procs_.end();) {
    if (!ended(it->second.pidfd)) {
      ++it;
      continue;
    }
    const pid_t gone = it->first;
    if (it->second.exec) close(it->second.exec->mem);
    ended_.push_back(Ended{gone, it->second.pidfd, leaks_of(it->second)});
    it = procs_.erase(it);
    std::erase_if(tgid_of_, [gone](const auto& kv) { return kv.second == gone; });
  }
  std::erase_if(ended_, [this](Ended& e) {
    if (!settle(e)) return false;
    close(e.pidfd);
    return true;
  });
}

void ProcTable::finish(pid_t pid) {
  stats::ProcessRecord* r = stats::newest_process(seg_, pid);
  if (Proc* p = find(pid); p && r) record_leaks(*r, leaks_of(*p));
  for (const Ended& e : ended_)
    if (e.tgid == pid && r) record_leaks(*r, e.open);
  sweep();
}

}  // namespace shim::seccomp
