// One-shot timers on the embedder's clock. Nothing fires by itself: the embedder's event loop
// calls run_due() (and may sleep until next_deadline()). No hidden threads.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <utility>

#include "netstack/tcpip/clock.h"

namespace netstack {

class TimerQueue {
 public:
  using TimerId = std::uint64_t;
  explicit TimerQueue(const Clock& clock) : clock_(clock) {}

  const Clock& clock() const { return clock_; }
  Instant now() const { return clock_.now(); }
  TimerId schedule_at(Instant when, std::function<void()> fn);
  TimerId schedule_after(Duration d, std::function<void()> fn) {
    return schedule_at(now() + d, std::move(fn));
  }
  // Cancelling a timer that already fired or was cancelled is a no-op.
  void cancel(TimerId id);
  // Runs every timer due at now(), in deadline order (ties: scheduling order), including timers
  // that callbacks schedule for a time already reached. Returns how many ran.
  std::size_t run_due();
  std::optional<Instant> next_deadline() const;
  std::size_t pending() const { return timers_.size(); }

 private:
  const Clock& clock_;
  TimerId next_id_ = 1;
  std::map<std::pair<Instant, TimerId>, std::function<void()>> timers_;
  std::map<TimerId, Instant> deadlines_;
};

}  // namespace netstack
