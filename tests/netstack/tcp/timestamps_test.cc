#include "netstack/transport/tcp/timestamps.h"

#include "tests/catch.h"

using namespace std::chrono_literals;
using netstack::seqnum::Value;
using netstack::tcp::FakeClock;
using netstack::tcp::TimestampClock;
using netstack::tcp::TimestampState;
using netstack::tcp::ts_less_than;

TEST_CASE("timestamp comparison wraps", "[tcp][timestamps][wrap]") {
  CHECK(ts_less_than(1, 2));
  CHECK(ts_less_than(0xffffffffU, 0));
  CHECK_FALSE(ts_less_than(0, 0xffffffffU));
  CHECK_FALSE(ts_less_than(7, 7));
}

TEST_CASE("TSval ticks in milliseconds from a per-connection offset", "[tcp][timestamps]") {
  FakeClock clock;
  const TimestampClock ts(0xfffffff0U);
  const std::uint32_t a = ts.tsval(clock.now());
  clock.advance(40ms);
  const std::uint32_t b = ts.tsval(clock.now());
  CHECK(b - a == 40u);
  CHECK(ts_less_than(a, b));
  // RTTM: the RTT is now minus the echoed value.
  clock.advance(25ms);
  const auto rtt = ts.rtt_from_echo(a, clock.now());
  REQUIRE(rtt);
  CHECK(*rtt == 65ms);
  // An echo from the future gives no sample.
  CHECK_FALSE(ts.rtt_from_echo(ts.tsval(clock.now()) + 1000, clock.now()));
}

TEST_CASE("TSval wraps around 2^32 and RTT still measures", "[tcp][timestamps][wrap]") {
  FakeClock clock;
  const TimestampClock probe(0);
  // Choose the offset so that TSval is 5 below the wrap now.
  const TimestampClock ts(0xfffffffbU - probe.tsval(clock.now()));
  const std::uint32_t sent = ts.tsval(clock.now());
  CHECK(sent == 0xfffffffbU);
  clock.advance(10ms);
  CHECK(ts.tsval(clock.now()) == 5u);
  const auto rtt = ts.rtt_from_echo(sent, clock.now());
  REQUIRE(rtt);
  CHECK(*rtt == 10ms);
}

TEST_CASE("PAWS rejects an older TSval unless RST (RFC 7323 5.3)", "[tcp][timestamps][paws]") {
  FakeClock clock;
  TimestampState state;
  CHECK_FALSE(state.paws_reject(1, false, clock.now()));  // nothing recorded yet
  state.on_handshake(1000, clock.now());
  CHECK(state.ts_recent() == 1000u);
  CHECK(state.paws_reject(999, false, clock.now()));
  CHECK_FALSE(state.paws_reject(999, true, clock.now()));  // RST is exempt
  CHECK_FALSE(state.paws_reject(1000, false, clock.now()));
  CHECK_FALSE(state.paws_reject(1001, false, clock.now()));
}

TEST_CASE("PAWS across the TSval wrap", "[tcp][timestamps][paws][wrap]") {
  FakeClock clock;
  TimestampState state;
  state.on_handshake(0xfffffff0U, clock.now());
  CHECK_FALSE(state.paws_reject(3, false, clock.now()));  // newer, after the wrap
  CHECK(state.paws_reject(0xffffff00U, false, clock.now()));
}

TEST_CASE("TS.Recent over 24 days idle is not used by PAWS (RFC 7323 5.5)", "[tcp][timestamps]") {
  FakeClock clock;
  TimestampState state;
  state.on_handshake(5000, clock.now());
  clock.advance(TimestampState::kRecentMaxIdle + 1s);
  CHECK_FALSE(state.paws_reject(10, false, clock.now()));
  state.on_accepted(Value(1), 10, Value(1), clock.now());
  CHECK(state.ts_recent() == 10u);  // the stale value was replaced even by an older TSval
}

TEST_CASE("TS.Recent update rule (RFC 7323 4.3)", "[tcp][timestamps]") {
  FakeClock clock;
  TimestampState state;
  state.on_handshake(100, clock.now());
  const Value last_ack_sent(5000);
  // A segment beyond the last ACK we sent (delayed ACK pending) does not update TS.Recent.
  state.on_accepted(Value(5100), 120, last_ack_sent, clock.now());
  CHECK(state.ts_recent() == 100u);
  // The segment at Last.ACK.sent does.
  state.on_accepted(Value(5000), 130, last_ack_sent, clock.now());
  CHECK(state.ts_recent() == 130u);
  // An older TSval never moves it back.
  state.on_accepted(Value(4000), 110, last_ack_sent, clock.now());
  CHECK(state.ts_recent() == 130u);
  // Across the sequence wrap: SEG.SEQ just below the wrap is <= Last.ACK.sent just above it.
  state.on_accepted(Value(0xfffffff0U), 140, Value(16), clock.now());
  CHECK(state.ts_recent() == 140u);
}
