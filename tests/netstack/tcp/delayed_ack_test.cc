#include "netstack/transport/tcp/delayed_ack.h"

#include "tests/catch.h"

using namespace std::chrono_literals;
using netstack::tcp::AckDecision;
using netstack::tcp::DelayedAck;
using netstack::tcp::FakeClock;

TEST_CASE("delayed ACK: every second full segment, or after the delay", "[tcp][ack]") {
  FakeClock clock;
  DelayedAck d;
  AckDecision a = d.on_segment(1448, 1448, false, clock.now());
  CHECK_FALSE(a.ack_now);
  REQUIRE(a.arm_timer);
  CHECK(*a.arm_timer == clock.now() + 40ms);
  CHECK(d.pending());
  a = d.on_segment(1448, 1448, false, clock.now());
  CHECK(a.ack_now);  // second full-sized segment
  d.on_ack_sent();
  CHECK_FALSE(d.pending());
  CHECK_FALSE(d.deadline());

  a = d.on_segment(100, 1448, false, clock.now());
  REQUIRE(a.arm_timer);
  clock.advance(10ms);
  a = d.on_segment(100, 1448, false, clock.now());
  CHECK_FALSE(a.ack_now);
  CHECK_FALSE(a.arm_timer);  // already armed: the first deadline holds
  CHECK(d.deadline() == clock.now() - 10ms + 40ms);
}

TEST_CASE("delayed ACK: out-of-order and hole-filling segments are ACKed at once", "[tcp][ack]") {
  FakeClock clock;
  DelayedAck d;
  const AckDecision a = d.on_segment(100, 1448, true, clock.now());
  CHECK(a.ack_now);
  CHECK_FALSE(a.arm_timer);
}
