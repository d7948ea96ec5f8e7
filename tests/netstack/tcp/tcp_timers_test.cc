#include "netstack/transport/tcp/tcp_timers.h"

#include "tests/catch.h"

using namespace std::chrono_literals;
using netstack::tcp::FakeClock;
using netstack::tcp::TcpTimers;
using netstack::tcp::TimerKey;
using netstack::tcp::TimerKind;

TEST_CASE("timers fire in deadline order, ties in arming order", "[tcp][timers]") {
  FakeClock clock;
  TcpTimers timers;
  const auto t = clock.now();
  timers.arm({1, TimerKind::kDelayedAck}, t + 40ms);
  timers.arm({2, TimerKind::kRetransmit}, t + 200ms);
  timers.arm({3, TimerKind::kKeepalive}, t + 40ms);
  timers.arm({1, TimerKind::kTimeWait}, t + 60s);
  CHECK(timers.size() == 4u);
  REQUIRE(timers.next_deadline());
  CHECK(*timers.next_deadline() == t + 40ms);
  CHECK(timers.expire(t + 39ms).empty());
  clock.advance(1s);
  const auto fired = timers.expire(clock.now());
  REQUIRE(fired.size() == 3u);
  CHECK(fired[0].key == TimerKey{1, TimerKind::kDelayedAck});
  CHECK(fired[1].key == TimerKey{3, TimerKind::kKeepalive});
  CHECK(fired[2].key == TimerKey{2, TimerKind::kRetransmit});
  CHECK(fired[2].deadline == t + 200ms);
  CHECK(timers.size() == 1u);
  CHECK(*timers.next_deadline() == t + 60s);
}

TEST_CASE("re-arming replaces the deadline; cancel disarms", "[tcp][timers]") {
  FakeClock clock;
  TcpTimers timers;
  const TimerKey key{7, TimerKind::kRetransmit};
  const auto t = clock.now();
  timers.arm(key, t + 1s);
  timers.arm(key, t + 3s);  // the ACK moved the timer
  CHECK(timers.deadline(key) == t + 3s);
  CHECK(timers.expire(t + 2s).empty());
  CHECK(timers.armed(key));
  timers.arm(key, t + 500ms);  // earlier is fine too
  CHECK(*timers.next_deadline() == t + 500ms);
  timers.cancel(key);
  CHECK_FALSE(timers.armed(key));
  CHECK_FALSE(timers.deadline(key));
  CHECK_FALSE(timers.next_deadline());
  CHECK(timers.expire(t + 1h).empty());
  timers.cancel(key);  // cancelling twice is harmless
}

TEST_CASE("cancel_connection disarms all five timers of one connection only", "[tcp][timers]") {
  FakeClock clock;
  TcpTimers timers;
  for (unsigned k = 0; k < netstack::tcp::kTimerKinds; ++k) {
    timers.arm({4, static_cast<TimerKind>(k)}, clock.now() + 1s);
    timers.arm({5, static_cast<TimerKind>(k)}, clock.now() + 2s);
  }
  timers.cancel_connection(4);
  CHECK(timers.size() == netstack::tcp::kTimerKinds);
  const auto fired = timers.expire(clock.now() + 10s);
  REQUIRE(fired.size() == netstack::tcp::kTimerKinds);
  for (const auto& f : fired) CHECK(f.key.connection == 5u);
}

TEST_CASE("handlers may re-arm an expired timer", "[tcp][timers]") {
  FakeClock clock;
  TcpTimers timers;
  const TimerKey probe{9, TimerKind::kZeroWindowProbe};
  timers.arm(probe, clock.now() + 1s);
  int fired = 0;
  for (int step = 0; step < 10; ++step) {
    clock.advance(500ms);
    for (const auto& e : timers.expire(clock.now())) {
      CHECK(e.key == probe);
      ++fired;
      timers.arm(probe, clock.now() + 1s);
    }
  }
  CHECK(fired == 5);  // at 1, 2, 3, 4 and 5 s
}

TEST_CASE("heavy re-arming keeps the heap bounded", "[tcp][timers]") {
  FakeClock clock;
  TcpTimers timers;
  const TimerKey key{1, TimerKind::kRetransmit};
  for (int i = 0; i < 10000; ++i) {
    timers.arm(key, clock.now() + std::chrono::milliseconds(i));
    timers.arm({2, TimerKind::kKeepalive}, clock.now() + 2h);
  }
  CHECK(timers.size() == 2u);
  CHECK(timers.heap_entries() <= 64u + 4u * timers.size());
  const auto fired = timers.expire(clock.now() + 1h);
  REQUIRE(fired.size() == 1u);
  CHECK(fired[0].key == key);
  CHECK(fired[0].deadline == clock.now() + 9999ms);
}
