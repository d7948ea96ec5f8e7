// The TCP samples' event loop: one poll() over the TUN device, the sample's own descriptors
// (stdin, stdout) and the next timer deadline (the stack's and the chaos link's). Everything
// runs on this one thread, as the stack requires; nothing blocks except poll() itself.
#pragma once

#include <poll.h>

#include <functional>
#include <span>
#include <vector>

#include "netstack/samples/sample_common.h"

namespace netstack::samples {

struct LoopHooks {
  // Before each poll: append the sample's descriptors with the events it waits for now. A
  // sample that cannot use an event yet (stdin while its buffer is full) leaves it out, so the
  // loop sleeps instead of spinning.
  std::function<void(std::vector<pollfd>&)> fds;
  // After each poll, once received frames were delivered and due timers ran: the same
  // descriptors with their revents. Moves bytes between the endpoints and the descriptors.
  // Returns true when the sample has finished.
  std::function<bool(std::span<const pollfd>)> step;
};

enum class LoopResult { kDone, kStopped, kTimedOut, kLinkFailed };

// Calls step once before the first poll. The timeout is --timeout (none when 0).
LoopResult run_loop(TunStack& ts, const SampleOptions& o, const LoopHooks& hooks);

}  // namespace netstack::samples
