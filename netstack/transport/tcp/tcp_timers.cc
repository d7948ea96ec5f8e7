#include "netstack/transport/tcp/tcp_timers.h"

namespace netstack::tcp {

void TcpTimers::arm(TimerKey key, Instant deadline) {
  const std::uint64_t code = encode(key);
  const std::uint64_t sequence = next_sequence_++;
  live_[code] = {sequence, deadline};
  heap_.push({deadline, sequence, code});
  // Stale entries pile up under heavy re-arming; rebuild when they dominate so memory stays
  // proportional to the number of armed timers.
  if (heap_.size() > 64 && heap_.size() > 4 * live_.size()) {
    std::vector<Entry> kept;
    kept.reserve(live_.size());
    while (!heap_.empty()) {
      const Entry e = heap_.top();
      heap_.pop();
      const auto it = live_.find(e.code);
      if (it != live_.end() && it->second.sequence == e.sequence) kept.push_back(e);
    }
    heap_ = decltype(heap_)(std::greater<>(), std::move(kept));
  }
}

void TcpTimers::cancel(TimerKey key) { live_.erase(encode(key)); }

void TcpTimers::cancel_connection(std::uint64_t connection) {
  for (unsigned k = 0; k < kTimerKinds; ++k) cancel({connection, static_cast<TimerKind>(k)});
}

std::optional<Instant> TcpTimers::deadline(TimerKey key) const {
  const auto it = live_.find(encode(key));
  if (it == live_.end()) return std::nullopt;
  return it->second.deadline;
}

void TcpTimers::drop_stale_top() {
  while (!heap_.empty()) {
    const Entry& e = heap_.top();
    const auto it = live_.find(e.code);
    if (it != live_.end() && it->second.sequence == e.sequence) return;
    heap_.pop();
  }
}

std::optional<Instant> TcpTimers::next_deadline() {
  drop_stale_top();
  if (heap_.empty()) return std::nullopt;
  return heap_.top().deadline;
}

std::vector<ExpiredTimer> TcpTimers::expire(Instant now) {
  std::vector<ExpiredTimer> out;
  for (drop_stale_top(); !heap_.empty() && heap_.top().deadline <= now; drop_stale_top()) {
    const Entry e = heap_.top();
    heap_.pop();
    live_.erase(e.code);
    out.push_back({decode(e.code), e.deadline});
  }
  return out;
}

}  // namespace netstack::tcp
