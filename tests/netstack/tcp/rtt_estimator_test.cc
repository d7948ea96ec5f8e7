#include "netstack/transport/tcp/rtt_estimator.h"

#include "netstack/transport/tcp/tcp_timers.h"
#include "tests/catch.h"

using namespace std::chrono_literals;
using netstack::seqnum::Value;
using netstack::tcp::Duration;
using netstack::tcp::FakeClock;
using netstack::tcp::RtoConfig;
using netstack::tcp::RttEstimator;
using netstack::tcp::RttSampler;
using netstack::tcp::TcpTimers;
using netstack::tcp::TimerKind;

TEST_CASE("RTO starts at 1 s before any sample (RFC 6298 2.1)", "[tcp][rtt]") {
  RttEstimator rtt;
  CHECK_FALSE(rtt.has_sample());
  CHECK(rtt.rto() == 1s);
}

TEST_CASE("first and later samples follow RFC 6298 2.2 and 2.3", "[tcp][rtt]") {
  RttEstimator rtt(RtoConfig::linux_defaults());
  rtt.add_sample(100ms);
  CHECK(rtt.srtt() == 100ms);
  CHECK(rtt.rttvar() == 50ms);
  CHECK(rtt.rto() == 300ms);  // SRTT + 4 * RTTVAR
  rtt.add_sample(200ms);
  // RTTVAR = 3/4 * 50 + 1/4 * |100 - 200| = 62.5 ms; SRTT = 7/8 * 100 + 1/8 * 200 = 112.5 ms.
  CHECK(rtt.rttvar() == 62500us);
  CHECK(rtt.srtt() == 112500us);
  CHECK(rtt.rto() == 362500us);
}

TEST_CASE("RTO is clamped to the configured minimum and maximum", "[tcp][rtt]") {
  SECTION("RFC minimum of 1 s") {
    RttEstimator rtt;
    rtt.add_sample(10ms);
    CHECK(rtt.rto() == 1s);
  }
  SECTION("Linux minimum of 200 ms") {
    RttEstimator rtt(RtoConfig::linux_defaults());
    rtt.add_sample(10ms);
    CHECK(rtt.rto() == 200ms);
  }
  SECTION("maximum") {
    RttEstimator rtt;
    rtt.add_sample(50s);
    CHECK(rtt.rto() == 60s);
  }
  SECTION("granularity G bounds the variance term from below") {
    RtoConfig c;
    c.min = 0ns;
    c.granularity = 10ms;
    RttEstimator rtt(c);
    rtt.add_sample(100ms);
    for (int i = 0; i < 50; ++i) rtt.add_sample(100ms);  // RTTVAR decays towards 0
    CHECK(rtt.rto() == rtt.srtt() + 10ms);
  }
}

TEST_CASE("backoff doubles up to the maximum; a sample ends it", "[tcp][rtt]") {
  RttEstimator rtt;
  rtt.backoff();
  CHECK(rtt.rto() == 2s);
  rtt.backoff();
  CHECK(rtt.rto() == 4s);
  CHECK(rtt.backoffs() == 2u);
  for (int i = 0; i < 100; ++i) rtt.backoff();  // no overflow, stays at the cap
  CHECK(rtt.rto() == 60s);
  CHECK(rtt.retries_exhausted(15));
  rtt.add_sample(100ms);
  CHECK(rtt.backoffs() == 0u);
  CHECK(rtt.rto() == 1s);
}

TEST_CASE("RTO goes back to 3 s after a lost SYN (RFC 6298 5.7)", "[tcp][rtt]") {
  RttEstimator rtt;
  rtt.backoff();  // the SYN timed out once: 2 s
  rtt.on_established_after_syn_loss();
  CHECK(rtt.rto() == 3s);
  RttEstimator sampled;
  sampled.add_sample(10ms);
  sampled.on_established_after_syn_loss();
  CHECK(sampled.rto() == 1s);  // a sample exists: keep it
}

TEST_CASE("Karn's rule: a retransmitted segment gives no sample", "[tcp][rtt][karn]") {
  FakeClock clock;
  RttSampler sampler;
  sampler.on_send(Value(1000), clock.now(), false);
  CHECK(sampler.timing());
  clock.advance(30ms);
  sampler.on_send(Value(2000), clock.now(), false);  // already timing the first one
  clock.advance(20ms);
  CHECK_FALSE(sampler.on_ack(Value(999), clock.now()));  // does not cover the timed segment
  const auto sample = sampler.on_ack(Value(1000), clock.now());
  REQUIRE(sample);
  CHECK(*sample == 50ms);

  sampler.on_send(Value(3000), clock.now(), false);
  sampler.on_send(Value(3000), clock.now(), true);  // retransmitted: ambiguous
  clock.advance(10ms);
  CHECK_FALSE(sampler.on_ack(Value(3000), clock.now()));
}

TEST_CASE("sampler compares across the sequence wrap", "[tcp][rtt][wrap]") {
  FakeClock clock;
  RttSampler sampler;
  sampler.on_send(Value(5), clock.now(), false);  // segment [2^32 - 5, 5)
  clock.advance(7ms);
  CHECK_FALSE(sampler.on_ack(Value(0xfffffffeU), clock.now()));
  const auto sample = sampler.on_ack(Value(5), clock.now());
  REQUIRE(sample);
  CHECK(*sample == 7ms);
}

// A whole retransmission timeline on a fake clock: one segment is lost three times, Karn's rule
// discards the ambiguous ACK, and the next clean sample restores the RTO.
TEST_CASE("RTO timeline with backoff and recovery", "[tcp][rtt][timeline]") {
  FakeClock clock;
  const auto t0 = clock.now();
  RttEstimator rtt;
  RttSampler sampler;
  TcpTimers timers;
  const netstack::tcp::TimerKey rto_timer{1, TimerKind::kRetransmit};

  sampler.on_send(Value(101), clock.now(), false);
  timers.arm(rto_timer, clock.now() + rtt.rto());

  std::vector<Duration> fired_at;
  for (int i = 0; i < 3; ++i) {
    const auto deadline = timers.next_deadline();
    REQUIRE(deadline);
    clock.advance(*deadline - clock.now());
    const auto expired = timers.expire(clock.now());
    REQUIRE(expired.size() == 1);
    fired_at.push_back(clock.now() - t0);
    rtt.backoff();
    sampler.on_send(Value(101), clock.now(), true);
    timers.arm(rto_timer, clock.now() + rtt.rto());
  }
  // Fires at 1 s, 1+2 s, 1+2+4 s.
  CHECK(fired_at == std::vector<Duration>{1s, 3s, 7s});
  CHECK(rtt.rto() == 8s);
  CHECK_FALSE(rtt.retries_exhausted(3));

  clock.advance(150ms);
  CHECK_FALSE(sampler.on_ack(Value(101), clock.now()));  // Karn: no sample
  timers.cancel(rto_timer);
  rtt.clear_backoffs();
  CHECK(rtt.rto() == 8s);  // the backed-off RTO stays until a clean sample

  sampler.on_send(Value(201), clock.now(), false);
  timers.arm(rto_timer, clock.now() + rtt.rto());
  clock.advance(80ms);
  const auto sample = sampler.on_ack(Value(201), clock.now());
  REQUIRE(sample);
  rtt.add_sample(*sample);
  CHECK(rtt.srtt() == 80ms);
  CHECK(rtt.rto() == 1s);
  CHECK(timers.expire(clock.now()).empty());
}

TEST_CASE("retry limit ends the connection after limit + 1 timeouts", "[tcp][rtt]") {
  RttEstimator rtt(RtoConfig::linux_defaults());
  const unsigned syn_retries = 6;
  Duration waited{0};
  for (unsigned i = 0; i <= syn_retries; ++i) {
    CHECK_FALSE(rtt.retries_exhausted(syn_retries));
    waited += rtt.rto();
    rtt.backoff();
  }
  CHECK(rtt.retries_exhausted(syn_retries));
  // Linux's connect() with tcp_syn_retries = 6 gives up after 1+2+...+64 = 127 s.
  CHECK(waited == 127s);
}
