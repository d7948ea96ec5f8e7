// The supervisor's view of the processes it serves: which thread belongs to which process, a
// pidfd per process (for pidfd_getfd and to notice its end), its stats record, and the sockets it
// knows there by fd number (created through the supervisor, or inherited from a parent it knew).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <functional>
#include <optional>
#include <unordered_map>
#include <vector>

#include "filters/table.h"
#include "shim/cookie.h"
#include "shim/stats/layout.h"

namespace shim::seccomp {

// A `"count": "socket"` rule's trigger counts on one socket (docs/filters.md, `when`).
struct RuleCount {
  int rule = -1;
  std::uint64_t hits = 0;
  std::uint32_t fired = 0;
};

struct KnownSocket {
  Cookie cookie = 0;
  ino_t ino = 0;   // the socket's inode: an fd number reused behind our back (close_range, an
                   // exec that closed CLOEXEC fds, dup2) no longer matches and is forgotten
  // Server: accepted here; client: connected (or connecting) here. Rules' `role` and the service
  // port of calls that name no address (shutdown, socket options) follow from it, as in the
  // preload object's fd table.
  filters::Role role = filters::Role::kUnknown;
  // An interrupted blocking connect on it ended and was counted (with the connect_pending of the
  // EINTR the program may have seen): the program's next connect learns that outcome and is not
  // counted again (shim/seccomp/supervisor.cc, Watch).
  bool settled = false;
  // A unix connect on it was passed through (the server's SO_PEERCRED must name the program):
  // its outcome is counted at the program's next connect or close of it.
  bool unix_connecting = false;
  // Bytes this socket moved through the supervisor (for a rule's after_bytes) and when it
  // connected or was accepted (elapsed ms + 1; 0: not yet), as the preload object's fd entry has them.
  std::uint64_t sent = 0, recvd = 0;
  std::uint64_t connected_at = 0;
  // The port its connect named: the peer's port when getpeername no longer says it (a peer that
  // reset the connection), as the preload object keeps it in the fd entry.
  int peer_port = 0;
  // Its own port once it bound, listened or was accepted (what a rule's local_port matches, as
  // in the preload object's fd entry); 0 until then. Binds reach the supervisor only when a rule
  // needs them (shim/seccomp/coverage.h).
  int local_port = 0;
  // Copied from the parent at fork: its close here is not the one `closed` counts (the preload
  // object marks a child's sockets inherited the same way).
  bool inherited = false;
  // Another number of the process names this socket too (a dup2 or dup3 the supervisor made):
  // only the close of its last number counts `closed`, as the preload object's dup groups do.
  bool shared = false;
  // A unix socket's peer (the other end of a socketpair, or asked of sock_diag at its first
  // send): whether a send here may be made by the supervisor depends on it (creds_wanted).
  ino_t peer_ino = 0;
  std::vector<RuleCount> rule_counts{};   // a few at most: rules that count per socket and matched it
  RuleCount& count_of(int rule) {
    for (RuleCount& c : rule_counts)
      if (c.rule == rule) return c;
    return rule_counts.emplace_back(RuleCount{rule, 0, 0});
  }
};

// An execve or execveat the process made, passed to the kernel (CONTINUE), until the supervisor
// knows whether it replaced the process's image (docs/shim.md, "Process records in seccomp mode").
struct PendingExec {
  pid_t tid = -1;          // the calling thread: a call of its own while the image lives means it failed
  int mem = -1;            // /proc/TID/mem opened before the exec: reads nothing once that memory is gone
  std::uint64_t ip = 0;    // an address mapped in that image: the call's instruction pointer
  std::string argv0;       // the base name of the new image's argv[0], for its record
  std::int64_t at_ns = 0;  // when it was made (CLOCK_MONOTONIC): an image alive a second later is the old one
};

struct Proc {
  pid_t tgid = -1;
  pid_t ppid = -1;
  int pidfd = -1;
  std::unordered_map<int, KnownSocket> fds;
  // A vfork child (CLONE_VM: vfork, posix_spawn) runs in its parent's memory until it execs:
  // the preload object writes it no record (no fork handler runs there), only its new image.
  bool shares_parent_vm = false;
  // The command before its first exec: the launcher, whose record is already the command's.
  bool launching = false;
  std::optional<PendingExec> exec;
};

class ProcTable {
 public:
  explicit ProcTable(stats::Segment& seg) : seg_(seg) {}
  ~ProcTable();
  ProcTable(const ProcTable&) = delete;
  ProcTable& operator=(const ProcTable&) = delete;

  // The process of thread `tid`, registered (pidfd, stats record, the fds of a parent we know,
  // as fork copies them) on first sight; nullptr when it is gone already.
  // before_add(ppid) runs before a new process copies its parent's sockets (the supervisor
  // settles the parent's pending exec there).
  Proc* of_thread(pid_t tid, const std::function<void(pid_t)>& before_add = {});
  // Registers the command itself with its argv0 before it runs (its record exists even if it
  // never makes a socket call, as the preload object's would).
  void add_main(pid_t pid, const std::string& argv0);
  // Forgets processes that ended (their pidfd is readable). Bounded by the number of processes.
  // Each one's record gets its exit status and leaks once the kernel says how it ended
  // (PIDFD_GET_INFO with PIDFD_INFO_EXIT, Linux 6.15: after its parent reaped it, from any
  // process holding a pidfd); until then (a zombie) it waits in ended_, looked at again here.
  void sweep();
  // The command (`pid`) ended: its record's leaks, from the sockets known open in it (its exit
  // status is `sockshim run`'s waitpid's). Then a last sweep.
  void finish(pid_t pid);
  bool has(pid_t tgid) const { return procs_.contains(tgid); }
  template <class F>
  void for_each(F f) {
    for (auto& [tgid, p] : procs_) f(p);
  }
  // p's exec succeeded: its record becomes `execed` and the new image gets one of its own, as
  // the preload object's constructor in the new image writes them.
  void replaced_image(Proc& p, const std::string& argv0);
  Proc* find(pid_t tgid) {
    auto p = procs_.find(tgid);
    return p == procs_.end() ? nullptr : &p->second;
  }

 private:
  Proc* add(pid_t tgid, pid_t ppid, const char* argv0);
  // A process that ended: its pidfd (to ask how) and the sockets it left open.
  struct Ended {
    pid_t tgid = -1;
    int pidfd = -1;
    std::vector<std::pair<int, KnownSocket>> open;
  };
  static std::vector<std::pair<int, KnownSocket>> leaks_of(const Proc& p);
  void record_leaks(stats::ProcessRecord& r, const std::vector<std::pair<int, KnownSocket>>& open);
  bool settle(Ended& e);
  std::vector<Ended> ended_;
  pid_t main_ = -1;   // the command
  stats::Segment& seg_;
  std::unordered_map<pid_t, Proc> procs_;      // by tgid
  std::unordered_map<pid_t, pid_t> tgid_of_;   // tid → tgid
};

}  // namespace shim::seccomp
