#include "netstack/transport/tcp/keepalive.h"

#include <vector>

#include "tests/catch.h"

using namespace std::chrono_literals;
using namespace netstack::tcp;

TEST_CASE("keepalive is off unless SO_KEEPALIVE", "[tcp][keepalive]") {
  FakeClock clock;
  Keepalive k(KeepaliveConfig{}, clock.now());
  CHECK_FALSE(k.next_deadline());
  clock.advance(10h);
  CHECK(k.on_timer(clock.now()) == KeepaliveAction::kNone);
}

TEST_CASE("keepalive timeline: idle, probes every interval, abort after count",
          "[tcp][keepalive]") {
  FakeClock clock;
  const auto t0 = clock.now();
  Keepalive k(KeepaliveConfig{true, 60s, 10s, 3}, clock.now());
  REQUIRE(k.next_deadline());
  CHECK(*k.next_deadline() == t0 + 60s);
  clock.advance(59s);
  CHECK(k.on_timer(clock.now()) == KeepaliveAction::kNone);
  std::vector<std::chrono::seconds> probes;
  for (int i = 0; i < 10; ++i) {
    clock.advance(*k.next_deadline() - clock.now());
    const auto action = k.on_timer(clock.now());
    if (action == KeepaliveAction::kAbort) break;
    REQUIRE(action == KeepaliveAction::kSendProbe);
    probes.push_back(std::chrono::duration_cast<std::chrono::seconds>(clock.now() - t0));
  }
  CHECK(probes == std::vector<std::chrono::seconds>{60s, 70s, 80s});
  CHECK(clock.now() - t0 == 90s);  // ETIMEDOUT after idle + count * interval, as Linux
}

TEST_CASE("a segment from the peer resets keepalive", "[tcp][keepalive]") {
  FakeClock clock;
  Keepalive k(KeepaliveConfig{true, 60s, 10s, 3}, clock.now());
  clock.advance(60s);
  CHECK(k.on_timer(clock.now()) == KeepaliveAction::kSendProbe);
  clock.advance(1s);
  k.on_segment_received(clock.now());  // the probe's ACK
  CHECK(k.probes_sent() == 0u);
  CHECK(*k.next_deadline() == clock.now() + 60s);
  // Reconfiguring (setsockopt TCP_KEEPIDLE) moves the deadline.
  KeepaliveConfig c = k.config();
  c.idle = 5s;
  k.configure(c);
  CHECK(*k.next_deadline() == clock.now() + 5s);
}
