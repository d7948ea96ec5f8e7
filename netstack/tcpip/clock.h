// Time as the stack sees it: read only through a Clock the embedder supplies, so tests drive
// every timer (ARP expiry, reassembly timeouts, chaos delay) with FakeClock.
#pragma once

#include <chrono>

namespace netstack {

using Duration = std::chrono::nanoseconds;
using Instant = std::chrono::steady_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Instant now() const = 0;
};

class SteadyClock final : public Clock {
 public:
  Instant now() const override { return std::chrono::steady_clock::now(); }
};

// Time moves only when advance() says so.
class FakeClock final : public Clock {
 public:
  Instant now() const override { return now_; }
  void advance(Duration d) { now_ += d; }

 private:
  Instant now_ = Instant(std::chrono::hours(1));  // far from the epoch: now - x never underflows
};

}  // namespace netstack
