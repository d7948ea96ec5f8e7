// The small event loop for a stack on one fd-based link (a TUN device): poll the fd with the
// stack's next timer deadline as the timeout, deliver what arrived, run due timers. The embedder
// with its own loop does the same three things instead (see docs/netstack.md).
#pragma once

#include <csignal>
#include <optional>

#include "netstack/link/fdbased.h"
#include "netstack/stack/stack.h"

namespace netstack {

struct RunOptions {
  std::optional<Duration> timeout;                    // stop after this long
  const volatile std::sig_atomic_t* stop = nullptr;   // stop when it becomes non-zero
  // Longest single poll() wait, so a stop flag set by a signal is seen soon even when the
  // signal does not interrupt poll (SA_RESTART).
  Duration max_wait = std::chrono::milliseconds(100);
};

enum class RunResult { kStopped, kTimedOut, kLinkFailed };

// Uses the stack's clock for the timeout, so it must be a real one (SteadyClock).
RunResult run_fd_link(Stack& stack, link::FdEndpoint& link, const RunOptions& options);

}  // namespace netstack
