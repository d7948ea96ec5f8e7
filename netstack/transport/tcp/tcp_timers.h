// The TCP timers of every connection in one min-heap, driven by the time the caller passes in.
// A connection owns five timers (TimerKind); each is either armed with one deadline or not.
// Re-arming or cancelling is O(log n) amortised: stale heap entries are skipped when they surface
// (a generation number per key tells them apart), which keeps the hot "re-arm the retransmit timer
// on every ACK" path free of heap searches.
#pragma once

#include <cstdint>
#include <optional>
#include <queue>
#include <unordered_map>
#include <vector>

#include "netstack/transport/tcp/clock.h"

namespace netstack::tcp {

enum class TimerKind : std::uint8_t {
  kRetransmit,       // RFC 6298 §5
  kDelayedAck,       // RFC 9293 §3.8.6.3
  kKeepalive,        // RFC 9293 §3.8.4, RFC 1122 §4.2.3.6
  kTimeWait,         // 2*MSL, RFC 9293 §3.6
  kZeroWindowProbe,  // the persist timer, RFC 9293 §3.8.6.1
};
inline constexpr unsigned kTimerKinds = 5;

// A connection id (the endpoint's choice, below 2^61 so that the key encoding cannot wrap) and
// which of its timers.
struct TimerKey {
  std::uint64_t connection = 0;
  TimerKind kind = TimerKind::kRetransmit;
  friend bool operator==(const TimerKey&, const TimerKey&) = default;
};

struct ExpiredTimer {
  TimerKey key;
  Instant deadline;
};

class TcpTimers {
 public:
  // Arms (or re-arms) `key` to fire at `deadline`; a previous deadline of the same key is dropped.
  void arm(TimerKey key, Instant deadline);
  // Disarms `key`; nothing happens if it was not armed.
  void cancel(TimerKey key);
  // Disarms all five timers of a connection (it is being deleted).
  void cancel_connection(std::uint64_t connection);

  bool armed(TimerKey key) const { return live_.count(encode(key)) != 0; }
  std::optional<Instant> deadline(TimerKey key) const;
  // The earliest armed deadline: how long the embedder's event loop may sleep.
  std::optional<Instant> next_deadline();
  // Disarms and returns every timer whose deadline is <= now, earliest first (ties in arming
  // order). Handlers may re-arm them.
  std::vector<ExpiredTimer> expire(Instant now);
  std::size_t size() const { return live_.size(); }
  // Heap entries including stale ones: stays within a constant factor of size() (plus 64).
  std::size_t heap_entries() const { return heap_.size(); }

 private:
  struct Entry {
    Instant deadline;
    std::uint64_t sequence;  // arming order: breaks ties, and identifies the live entry
    std::uint64_t code;
    bool operator>(const Entry& o) const {
      return deadline != o.deadline ? deadline > o.deadline : sequence > o.sequence;
    }
  };
  static std::uint64_t encode(TimerKey key) {
    return key.connection * kTimerKinds + static_cast<std::uint64_t>(key.kind);
  }
  static TimerKey decode(std::uint64_t code) {
    return {code / kTimerKinds, static_cast<TimerKind>(code % kTimerKinds)};
  }
  void drop_stale_top();

  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap_;
  struct Live {
    std::uint64_t sequence;  // of the one heap entry that is not stale
    Instant deadline;
  };
  std::unordered_map<std::uint64_t, Live> live_;
  std::uint64_t next_sequence_ = 0;
};

}  // namespace netstack::tcp
