#include "netstack/runner/tun_runner.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>

namespace netstack {

RunResult run_fd_link(Stack& stack, link::FdEndpoint& link, const RunOptions& options) {
  const Instant start = stack.timers().now();
  for (;;) {
    if (options.stop != nullptr && *options.stop != 0) return RunResult::kStopped;
    const Instant now = stack.timers().now();
    if (options.timeout && now - start >= *options.timeout) return RunResult::kTimedOut;
    Duration wait = options.max_wait;
    if (auto next = stack.next_deadline()) wait = std::min(wait, std::max(Duration::zero(), *next - now));
    if (options.timeout) wait = std::min(wait, start + *options.timeout - now);
    pollfd pfd{link.fd(), POLLIN, 0};
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(wait).count();
    const int rc = ::poll(&pfd, 1, static_cast<int>(std::max<long long>(ms, 0)));
    if (rc < 0 && errno != EINTR) return RunResult::kLinkFailed;
    if (rc > 0) {
      if (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)) return RunResult::kLinkFailed;
      if (link.read_available() < 0) return RunResult::kLinkFailed;
    }
    stack.run_due();
  }
}

}  // namespace netstack
