#include "shim/seccomp/proc_table.h"

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

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

bool ended(int pidfd) {
  pollfd p{pidfd, POLLIN, 0};
  return poll(&p, 1, 0) == 1;
}

}  // namespace

ProcTable::~ProcTable() {
  for (auto& [tgid, p] : procs_) close(p.pidfd);
}

Proc* ProcTable::add(pid_t tgid, pid_t ppid, const char* argv0) {
  const long pidfd = syscall(SYS_pidfd_open, tgid, 0);
  if (pidfd < 0) return nullptr;
  Proc& p = procs_[tgid];
  p.tgid = tgid;
  p.pidfd = static_cast<int>(pidfd);
  if (auto parent = procs_.find(ppid); parent != procs_.end()) {
    p.fds = parent->second.fds;
    for (auto& [fd, k] : p.fds) k.inherited = true;
  }
  if (!stats::newest_process(seg_, tgid)) stats::add_process(seg_, tgid, ppid, argv0, stats::kInterceptSeccomp);
  tgid_of_[tgid] = tgid;
  return &p;
}

void ProcTable::add_main(pid_t pid, const std::string& argv0) {
  const std::string base = argv0.substr(argv0.rfind('/') + 1);
  add(pid, getpid(), base.c_str());
}

Proc* ProcTable::of_thread(pid_t tid) {
  if (auto t = tgid_of_.find(tid); t != tgid_of_.end())
    if (auto p = procs_.find(t->second); p != procs_.end()) return &p->second;
  const Status s = read_status(tid);
  if (s.tgid <= 0) return nullptr;
  auto p = procs_.find(s.tgid);
  Proc* proc = p != procs_.end() ? &p->second : nullptr;
  if (!proc) {
    // A thread other than the leader: the group's parent is the leader's.
    const Status leader = s.tgid == tid ? s : read_status(s.tgid);
    proc = add(s.tgid, leader.ppid, leader.name.c_str());
  }
  if (proc) tgid_of_[tid] = s.tgid;
  return proc;
}

void ProcTable::sweep() {
  for (auto it = procs_.begin(); it != procs_.end();) {
    if (!ended(it->second.pidfd)) {
      ++it;
      continue;
    }
    close(it->second.pidfd);
    const pid_t gone = it->first;
    it = procs_.erase(it);
    std::erase_if(tgid_of_, [gone](const auto& kv) { return kv.second == gone; });
  }
}

}  // namespace shim::seccomp
