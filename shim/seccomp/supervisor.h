// The seccomp supervisor: answers the notifications of the launched process tree (socket,
// socketpair, connect, listen, accept, close, the sends and receives, dup, dup2, dup3,
// close_range and the execs; bind, shutdown and the socket options when a rule is on them:
// shim/seccomp/coverage.h) with the run's filters::Table, and
// counts into the run's stats segment with the same cookies, counters, rule slots, events and
// process records as the preload object, so `sockshim stats` cannot tell the modes apart.
//
// Never blocked by a program: socket, connect and accept are performed here on the program's
// behalf (on a duplicate of its descriptor, pidfd_getfd) only where they cannot block; a
// blocking connect or accept is held, its notification answered when poll on the duplicate
// says the socket is ready, while other notifications are served. Worker threads (one per
// CPU) receive and handle notifications at once; serve()'s thread follows the held calls
// (docs/shim.md, "Many threads at once"). What is passed through unchanged is
// answered SECCOMP_USER_NOTIF_FLAG_CONTINUE.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "filters/table.h"
#include "shim/stats/layout.h"

namespace shim::seccomp {

struct SupervisorCounts {
  std::uint64_t notifications = 0;   // received
  std::uint64_t continued = 0;       // answered CONTINUE
  std::uint64_t performed = 0;       // socket/connect performed here
  std::uint64_t injected = 0;        // answered with a rule's errno
  std::uint64_t gone = 0;            // the caller was gone (killed, interrupted) before the answer
  std::uint64_t unresolved = 0;      // connects whose outcome was never learnt (caller left first)
};

class Supervisor {
 public:
  // `table` may be null (no rules). The listener is owned from here on. killable: the filter was
  // installed with SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (Launched::killable).
  Supervisor(int listener, stats::Segment& seg, const filters::Table* table, bool killable = false);
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Serves notifications until the command `pid` ends; returns its raw wait status, or -1 with
  // errno when waiting for it failed. argv0 names its process record.
  int serve(pid_t pid, const std::string& argv0);
  const SupervisorCounts& counts() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace shim::seccomp
