#include "netstack/transport/tcp/segment_checks.h"

#include "tests/catch.h"

using namespace std::chrono_literals;
using netstack::seqnum::Value;
using namespace netstack::tcp;

TEST_CASE("segment acceptability: the four cases of RFC 9293 3.10.7.4", "[tcp][checks]") {
  const Value nxt(1000);
  // Length 0, window 0: only SEG.SEQ == RCV.NXT.
  CHECK(segment_acceptable(Value(1000), 0, nxt, 0));
  CHECK_FALSE(segment_acceptable(Value(1001), 0, nxt, 0));
  // Length 0, window > 0: RCV.NXT <= SEG.SEQ < RCV.NXT + RCV.WND.
  CHECK(segment_acceptable(Value(1499), 0, nxt, 500));
  CHECK_FALSE(segment_acceptable(Value(1500), 0, nxt, 500));
  CHECK_FALSE(segment_acceptable(Value(999), 0, nxt, 500));
  // Length > 0, window 0: never.
  CHECK_FALSE(segment_acceptable(Value(1000), 10, nxt, 0));
  // Length > 0, window > 0: either end inside.
  CHECK(segment_acceptable(Value(990), 20, nxt, 500));    // old start, new end
  CHECK(segment_acceptable(Value(1490), 100, nxt, 500));  // starts inside
  CHECK_FALSE(segment_acceptable(Value(900), 100, nxt, 500));  // ends at 999
  CHECK_FALSE(segment_acceptable(Value(1500), 10, nxt, 500));
}

TEST_CASE("segment acceptability across the wrap", "[tcp][checks][wrap]") {
  const Value nxt(0xffffff00U);
  CHECK(segment_acceptable(Value(0x10), 10, nxt, 0x200));
  CHECK(segment_acceptable(Value(0xfffffff0U), 0x40, nxt, 0x200));
  CHECK_FALSE(segment_acceptable(Value(0x100), 10, nxt, 0x200));
}

TEST_CASE("RST: exact match resets, in window challenges, else drop (RFC 5961 3.2)",
          "[tcp][checks][rfc5961]") {
  const Value nxt(5000);
  CHECK(check_rst(Value(5000), nxt, 1000) == RstVerdict::kAccept);
  CHECK(check_rst(Value(5001), nxt, 1000) == RstVerdict::kChallengeAck);
  CHECK(check_rst(Value(5999), nxt, 1000) == RstVerdict::kChallengeAck);
  CHECK(check_rst(Value(6000), nxt, 1000) == RstVerdict::kDrop);
  CHECK(check_rst(Value(4999), nxt, 1000) == RstVerdict::kDrop);
  CHECK(check_rst(Value(5000), nxt, 0) == RstVerdict::kAccept);
  CHECK(check_rst(Value(5001), nxt, 0) == RstVerdict::kDrop);
  // Across the wrap.
  CHECK(check_rst(Value(3), Value(0xfffffffeU), 100) == RstVerdict::kChallengeAck);
  CHECK(check_rst(Value(0xfffffffeU), Value(0xfffffffeU), 100) == RstVerdict::kAccept);
}

TEST_CASE("RST in SYN-SENT needs an ACK of our SYN", "[tcp][checks]") {
  const Value iss(100);
  const Value snd_nxt(101);
  CHECK(check_rst_syn_sent(true, Value(101), iss, snd_nxt) == RstVerdict::kAccept);
  CHECK(check_rst_syn_sent(false, Value(101), iss, snd_nxt) == RstVerdict::kDrop);
  CHECK(check_rst_syn_sent(true, Value(100), iss, snd_nxt) == RstVerdict::kDrop);
  CHECK(check_rst_syn_sent(true, Value(102), iss, snd_nxt) == RstVerdict::kDrop);
  CHECK(check_rst_syn_sent(true, Value(0), Value(0xffffffffU), Value(0)) == RstVerdict::kAccept);
}

TEST_CASE("SYN in a synchronized state gets a challenge ACK (RFC 5961 4.2)", "[tcp][checks]") {
  CHECK(check_syn_in_synchronized() == RstVerdict::kChallengeAck);
}

TEST_CASE("ACK acceptability (RFC 5961 5.2)", "[tcp][checks][rfc5961]") {
  const Value una(10000);
  const Value nxt(12000);
  CHECK(check_ack(Value(11000), una, nxt, 4000) == AckVerdict::kNew);
  CHECK(check_ack(Value(12000), una, nxt, 4000) == AckVerdict::kNew);
  CHECK(check_ack(Value(10000), una, nxt, 4000) == AckVerdict::kDuplicate);
  CHECK(check_ack(Value(12001), una, nxt, 4000) == AckVerdict::kChallengeAck);  // unsent data
  CHECK(check_ack(Value(6000), una, nxt, 4000) == AckVerdict::kOld);
  CHECK(check_ack(Value(5999), una, nxt, 4000) == AckVerdict::kChallengeAck);  // too old
  // Across the wrap: SND.UNA just past 0, the window reaches back before it.
  CHECK(check_ack(Value(0xfffffff0U), Value(0x10), Value(0x100), 0x40) == AckVerdict::kOld);
  CHECK(check_ack(Value(0xffffff00U), Value(0x10), Value(0x100), 0x40) ==
        AckVerdict::kChallengeAck);
  CHECK(check_ack(Value(0x80), Value(0xfffffff0U), Value(0x100), 0x40) == AckVerdict::kNew);
}

TEST_CASE("challenge ACKs are rate limited per second (RFC 5961 7)", "[tcp][checks]") {
  FakeClock clock;
  ChallengeAckLimiter limiter(3);
  CHECK(limiter.allow(clock.now()));
  CHECK(limiter.allow(clock.now()));
  clock.advance(500ms);
  CHECK(limiter.allow(clock.now()));
  CHECK_FALSE(limiter.allow(clock.now()));
  clock.advance(499ms);
  CHECK_FALSE(limiter.allow(clock.now()));
  clock.advance(1ms);  // a new one-second window
  CHECK(limiter.allow(clock.now()));
}
