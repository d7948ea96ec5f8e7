#include "netstack/samples/poll_loop.h"

#include <algorithm>
#include <cerrno>
#include <optional>

namespace netstack::samples {

namespace {

// The earlier of the stack's and the link timers' deadlines, as a wait from now.
Duration wait_until_next_timer(TunStack& ts, Instant now, Duration longest) {
  Duration wait = longest;
  for (std::optional<Instant> next : {ts.stack->next_deadline(), ts.link_timers.next_deadline()})
    if (next) wait = std::min(wait, std::max(Duration::zero(), *next - now));
  return wait;
}

}  // namespace

LoopResult run_loop(TunStack& ts, const SampleOptions& o, const LoopHooks& hooks) {
  // Longest single wait, so a stop flag set by a signal is seen soon even under SA_RESTART.
  constexpr Duration kMaxWait = std::chrono::milliseconds(100);
  const Instant start = ts.clock.now();
  std::optional<Duration> timeout;
  if (o.timeout_seconds > 0)
    timeout = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(o.timeout_seconds));
  std::vector<pollfd> fds;
  if (hooks.step({})) return LoopResult::kDone;
  for (;;) {
    if (g_stop != 0) return LoopResult::kStopped;
    const Instant now = ts.clock.now();
    if (timeout && now - start >= *timeout) return LoopResult::kTimedOut;
    Duration wait = wait_until_next_timer(ts, now, kMaxWait);
    if (timeout) wait = std::min(wait, start + *timeout - now);
    fds.assign(1, pollfd{ts.tun->fd(), POLLIN, 0});
    hooks.fds(fds);
    // Round up: a deadline 0.3 ms away must not become a busy 0 ms poll.
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(wait).count();
    const int rc = ::poll(fds.data(), fds.size(), static_cast<int>(std::max<long long>(ms, 0)));
    if (rc < 0 && errno != EINTR) return LoopResult::kLinkFailed;
    if (rc > 0 && fds[0].revents != 0) {
      if (fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) return LoopResult::kLinkFailed;
      if (ts.tun->read_available() < 0) return LoopResult::kLinkFailed;
    }
    ts.link_timers.run_due();
    ts.stack->run_due();
    if (rc < 0) {
      for (pollfd& p : fds) p.revents = 0;  // EINTR: nothing is known about the descriptors
    }
    if (hooks.step(std::span<const pollfd>(fds).subspan(1))) return LoopResult::kDone;
  }
}

}  // namespace netstack::samples
