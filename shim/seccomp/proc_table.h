// The supervisor's view of the processes it serves: which thread belongs to which process, a
// pidfd per process (for pidfd_getfd and to notice its end), its stats record, and the sockets it
// knows there by fd number (created through the supervisor, or inherited from a parent it knew).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
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
  std::vector<RuleCount> rule_counts{};   // a few at most: rules that count per socket and matched it
  RuleCount& count_of(int rule) {
    for (RuleCount& c : rule_counts)
      if (c.rule == rule) return c;
    return rule_counts.emplace_back(RuleCount{rule, 0, 0});
  }
};

struct Proc {
  pid_t tgid = -1;
  int pidfd = -1;
  std::unordered_map<int, KnownSocket> fds;
};

class ProcTable {
 public:
  explicit ProcTable(stats::Segment& seg) : seg_(seg) {}
  ~ProcTable();
  ProcTable(const ProcTable&) = delete;
  ProcTable& operator=(const ProcTable&) = delete;

  // The process of thread `tid`, registered (pidfd, stats record, the fds of a parent we know,
  // as fork copies them) on first sight; nullptr when it is gone already.
  Proc* of_thread(pid_t tid);
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
