// Time as TCP's pure modules see it: always passed in by the caller, never read from a clock, so
// every timeline is reproducible in tests (FakeClock) and the embedder's event loop owns time.
#pragma once

#include <chrono>

namespace netstack::tcp {

using Duration = std::chrono::nanoseconds;
// A point on the embedder's monotonic clock (steady_clock in production, FakeClock in tests).
using Instant = std::chrono::steady_clock::time_point;

// A manual clock for tests and simulations: time moves only when advance() says so.
class FakeClock {
 public:
  Instant now() const { return now_; }
  void advance(Duration d) { now_ += d; }

 private:
  // Start well away from zero so that "now - something" never goes below the epoch in tests.
  Instant now_ = Instant(std::chrono::hours(1));
};

}  // namespace netstack::tcp
