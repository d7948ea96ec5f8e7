// Timelines on a fake clock where several building blocks meet, as the endpoint will combine them:
// TIME-WAIT with the state table and the timers, and zero-window probing with its backoff.
#include <vector>

#include "netstack/transport/tcp/rtt_estimator.h"
#include "netstack/transport/tcp/send_policy.h"
#include "netstack/transport/tcp/state_machine.h"
#include "netstack/transport/tcp/tcp_timers.h"
#include "netstack/transport/tcp/tunables.h"
#include "tests/catch.h"

using namespace std::chrono_literals;
using namespace netstack::tcp;

TEST_CASE("TIME-WAIT lasts 2*MSL and a retransmitted FIN restarts it", "[tcp][timeline]") {
  FakeClock clock;
  const auto t0 = clock.now();
  const Tunables tun;
  TcpTimers timers;
  const TimerKey tw{3, TimerKind::kTimeWait};
  State state = State::kFinWait2;

  auto apply = [&](Event e) {
    const auto t = next_transition(state, e, Opening::kActive);
    REQUIRE(t);
    state = t->to;
    if (t->actions & kStartTimeWait) timers.arm(tw, clock.now() + tun.time_wait);
    if (t->actions & kDeleteTcb) timers.cancel_connection(3);
  };

  apply(Event::kRcvFin);
  CHECK(state == State::kTimeWait);
  clock.advance(40s);
  CHECK(timers.expire(clock.now()).empty());
  apply(Event::kRcvFin);  // our ACK was lost; the peer's FIN comes again
  CHECK(timers.deadline(tw) == clock.now() + 60s);
  clock.advance(59s);
  CHECK(timers.expire(clock.now()).empty());
  clock.advance(1s);
  const auto fired = timers.expire(clock.now());
  REQUIRE(fired.size() == 1u);
  apply(Event::kTimeWaitTimeout);
  CHECK(state == State::kClosed);
  CHECK(clock.now() - t0 == 100s);
}

TEST_CASE("zero-window probes back off until the window opens", "[tcp][timeline][persist]") {
  FakeClock clock;
  const auto t0 = clock.now();
  RttEstimator rtt(RtoConfig::linux_defaults());
  rtt.add_sample(100ms);  // RTO 300 ms
  TcpTimers timers;
  const TimerKey persist{1, TimerKind::kZeroWindowProbe};
  std::uint32_t snd_wnd = 0;
  const std::uint32_t queued = 5000;
  unsigned probes = 0;
  std::vector<std::chrono::milliseconds> sent_at;

  REQUIRE(needs_zero_window_probe(snd_wnd, queued, false));
  timers.arm(persist, clock.now() + zero_window_probe_interval(rtt.rto(), probes, 120s));
  for (int step = 0; step < 100 && snd_wnd == 0; ++step) {
    clock.advance(100ms);
    if (clock.now() - t0 >= 4s) snd_wnd = 1000;  // the peer's application read: the ACK says so
    for (const auto& e : timers.expire(clock.now())) {
      REQUIRE(e.key == persist);
      sent_at.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(clock.now() - t0));
      ++probes;
      if (needs_zero_window_probe(snd_wnd, queued, false)) {
        timers.arm(persist, clock.now() + zero_window_probe_interval(rtt.rto(), probes, 120s));
      }
    }
  }
  // 300 ms, then +600, +1200, +2400 (rounded up to the 100 ms steps of the loop).
  CHECK(sent_at == std::vector<std::chrono::milliseconds>{300ms, 900ms, 2100ms});
  CHECK(snd_wnd == 1000u);
  SendState s;
  s.queued = queued;
  s.usable_window = snd_wnd;
  s.eff_mss = 1448;
  s.max_snd_wnd = 1000;
  CHECK(next_segment_length(s) == 1000u);  // the window reopened: data flows again
}
