#include "netstack/tcpip/timer_queue.h"

namespace netstack {

TimerQueue::TimerId TimerQueue::schedule_at(Instant when, std::function<void()> fn) {
  const TimerId id = next_id_++;
  timers_.emplace(std::pair{when, id}, std::move(fn));
  deadlines_.emplace(id, when);
  return id;
}

void TimerQueue::cancel(TimerId id) {
  auto it = deadlines_.find(id);
  if (it == deadlines_.end()) return;
  timers_.erase({it->second, id});
  deadlines_.erase(it);
}

std::size_t TimerQueue::run_due() {
  std::size_t ran = 0;
  // Bounded: a callback that keeps re-arming itself "now" cannot spin forever.
  for (std::size_t guard = 0; guard < 100000 && !timers_.empty(); ++guard) {
    auto it = timers_.begin();
    if (it->first.first > now()) break;
    auto fn = std::move(it->second);
    deadlines_.erase(it->first.second);
    timers_.erase(it);
    fn();
    ++ran;
  }
  return ran;
}

std::optional<Instant> TimerQueue::next_deadline() const {
  if (timers_.empty()) return std::nullopt;
  return timers_.begin()->first.first;
}

}  // namespace netstack
