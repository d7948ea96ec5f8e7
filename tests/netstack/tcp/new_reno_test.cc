#include "netstack/transport/tcp/new_reno.h"

#include <memory>

#include "tests/catch.h"

using netstack::seqnum::Size;
using netstack::seqnum::Value;
using netstack::tcp::AckFacts;
using netstack::tcp::AckInfo;
using netstack::tcp::CcAction;
using netstack::tcp::CongestionControl;
using netstack::tcp::NewReno;

namespace {

constexpr Size kMss = 1000;

// A sender's sequence variables next to the algorithm, as the endpoint keeps them.
struct Sender {
  explicit Sender(Value iss) : cc(kMss, iss), snd_una(iss.add(1)), snd_nxt(iss.add(1)) {}
  NewReno cc;
  Value snd_una;
  Value snd_nxt;

  void send(Size bytes) { snd_nxt = snd_nxt.add(bytes); }
  CcAction ack(Size bytes) {
    AckInfo a;
    a.ack = snd_una.add(bytes);
    a.bytes_acked = bytes;
    a.flight_size = snd_una.size_to(snd_nxt);
    a.snd_nxt = snd_nxt;
    snd_una = a.ack;
    return cc.on_ack(a);
  }
  CcAction dup_ack() {
    AckInfo a;
    a.ack = snd_una;
    a.flight_size = snd_una.size_to(snd_nxt);
    a.snd_nxt = snd_nxt;
    return cc.on_duplicate_ack(a);
  }
};

}  // namespace

TEST_CASE("initial window is RFC 6928's", "[tcp][cc]") {
  CHECK(netstack::tcp::initial_window(1460) == 14600u);
  CHECK(netstack::tcp::initial_window(536) == 5360u);
  CHECK(netstack::tcp::initial_window(9000) == 18000u);  // 2 * MSS when that exceeds 14600
  NewReno cc(1460, Value(0));
  CHECK(cc.cwnd() == 14600u);
  CHECK(cc.ssthresh() == 0xffffffffU);
  CHECK_FALSE(cc.in_fast_recovery());
}

TEST_CASE("slow start grows by at most one MSS per ACK (RFC 5681 eq. 2)", "[tcp][cc]") {
  Sender s(Value(0));
  const Size iw = s.cc.cwnd();
  s.send(iw);
  CHECK(s.ack(2 * kMss) == CcAction::kNone);  // a stretch ACK still counts one MSS
  CHECK(s.cc.cwnd() == iw + kMss);
  CHECK(s.ack(300) == CcAction::kNone);  // a small ACK counts its bytes
  CHECK(s.cc.cwnd() == iw + kMss + 300);
}

TEST_CASE("congestion avoidance adds one MSS per window of ACKed bytes", "[tcp][cc]") {
  Sender s(Value(0));
  s.send(20 * kMss);
  // Force ssthresh down with a timeout, then grow back to it.
  s.cc.on_retransmit_timeout(s.snd_una.size_to(s.snd_nxt), s.snd_nxt);
  CHECK(s.cc.ssthresh() == 10 * kMss);
  CHECK(s.cc.cwnd() == kMss);
  for (int i = 0; i < 9; ++i) s.ack(kMss);
  CHECK(s.cc.cwnd() == 10 * kMss);  // slow start reached ssthresh
  s.send(30 * kMss);
  for (int i = 0; i < 9; ++i) s.ack(kMss);
  CHECK(s.cc.cwnd() == 10 * kMss);  // 9 MSS acknowledged: not a whole window yet
  s.ack(kMss);
  CHECK(s.cc.cwnd() == 11 * kMss);
}

TEST_CASE("three duplicate ACKs trigger fast retransmit and recovery", "[tcp][cc]") {
  Sender s(Value(0));
  s.send(10 * kMss);
  CHECK(s.dup_ack() == CcAction::kNone);
  CHECK(s.dup_ack() == CcAction::kNone);
  CHECK(s.cc.duplicate_acks() == 2u);
  CHECK(s.dup_ack() == CcAction::kFastRetransmit);
  CHECK(s.cc.in_fast_recovery());
  CHECK(s.cc.ssthresh() == 5 * kMss);            // FlightSize / 2
  CHECK(s.cc.cwnd() == 8 * kMss);                // ssthresh + 3 * SMSS
  CHECK(s.cc.recover() == s.snd_nxt.add(0xffffffffU));
  CHECK(s.dup_ack() == CcAction::kNone);         // inflation
  CHECK(s.cc.cwnd() == 9 * kMss);
}

TEST_CASE("partial ACKs retransmit and deflate; a full ACK ends recovery (RFC 6582)",
          "[tcp][cc]") {
  Sender s(Value(0));
  s.send(10 * kMss);
  for (int i = 0; i < 3; ++i) s.dup_ack();
  s.dup_ack();
  s.dup_ack();  // cwnd = 8 + 2 = 10 MSS
  REQUIRE(s.cc.cwnd() == 10 * kMss);
  // A partial ACK of 3 segments: cwnd -= 3 MSS, += 1 MSS.
  CHECK(s.ack(3 * kMss) == CcAction::kRetransmitFirstUnacked);
  CHECK(s.cc.in_fast_recovery());
  CHECK(s.cc.cwnd() == 8 * kMss);
  // A partial ACK of less than an MSS: no add-back.
  CHECK(s.ack(500) == CcAction::kRetransmitFirstUnacked);
  CHECK(s.cc.cwnd() == 7500u);
  // The full ACK (everything up to recover): cwnd = min(ssthresh, max(FlightSize, MSS) + MSS).
  CHECK(s.ack(s.snd_una.size_to(s.snd_nxt)) == CcAction::kNone);
  CHECK_FALSE(s.cc.in_fast_recovery());
  CHECK(s.cc.cwnd() == 2 * kMss);  // FlightSize after the ACK is 0: max(0, MSS) + MSS
}

TEST_CASE("full ACK with data still in flight sets cwnd to ssthresh at most", "[tcp][cc]") {
  Sender s(Value(0));
  s.send(10 * kMss);
  for (int i = 0; i < 3; ++i) s.dup_ack();
  s.send(6 * kMss);  // new data sent during recovery, beyond recover
  s.ack(10 * kMss);  // covers recover; 6 MSS still out
  CHECK_FALSE(s.cc.in_fast_recovery());
  CHECK(s.cc.cwnd() == 5 * kMss);  // min(ssthresh 5, 6 + 1)
}

TEST_CASE("no second fast retransmit for the same window (RFC 6582 step 2)", "[tcp][cc]") {
  Sender s(Value(0));
  s.send(10 * kMss);
  s.cc.on_retransmit_timeout(10 * kMss, s.snd_nxt);  // recover = highest sent
  // Duplicate ACKs for data sent before the timeout do not start a fast retransmit.
  for (int i = 0; i < 3; ++i) CHECK(s.dup_ack() == CcAction::kNone);
  CHECK_FALSE(s.cc.in_fast_recovery());
  s.ack(10 * kMss);
  s.send(10 * kMss);
  for (int i = 0; i < 2; ++i) CHECK(s.dup_ack() == CcAction::kNone);
  CHECK(s.dup_ack() == CcAction::kFastRetransmit);
}

TEST_CASE("RTO collapses cwnd to one MSS; repeated RTOs keep ssthresh", "[tcp][cc]") {
  Sender s(Value(0));
  s.send(10 * kMss);
  for (int i = 0; i < 3; ++i) s.dup_ack();
  REQUIRE(s.cc.in_fast_recovery());
  s.cc.on_retransmit_timeout(10 * kMss, s.snd_nxt);
  CHECK_FALSE(s.cc.in_fast_recovery());
  CHECK(s.cc.cwnd() == kMss);
  CHECK(s.cc.ssthresh() == 5 * kMss);
  s.cc.on_retransmit_timeout(kMss, s.snd_nxt);  // the retransmission was lost too
  CHECK(s.cc.ssthresh() == 5 * kMss);
  CHECK(s.cc.cwnd() == kMss);
  s.cc.on_retransmit_timeout(2 * kMss, s.snd_nxt);
  CHECK(s.cc.ssthresh() == 5 * kMss);
}

TEST_CASE("ssthresh is at least 2 MSS", "[tcp][cc]") {
  Sender s(Value(0));
  s.send(kMss);
  s.cc.on_retransmit_timeout(kMss, s.snd_nxt);
  CHECK(s.cc.ssthresh() == 2 * kMss);
}

TEST_CASE("NewReno across the sequence wrap", "[tcp][cc][wrap]") {
  Sender s(Value(0xffffffffU - 3500));
  s.send(8 * kMss);  // snd_nxt wraps past 0
  for (int i = 0; i < 3; ++i) s.dup_ack();
  REQUIRE(s.cc.in_fast_recovery());
  CHECK(s.ack(2 * kMss) == CcAction::kRetransmitFirstUnacked);  // partial: 2^32 - 1500 + ...
  CHECK(s.ack(s.snd_una.size_to(s.snd_nxt)) == CcAction::kNone);
  CHECK_FALSE(s.cc.in_fast_recovery());
}

TEST_CASE("the interface lets the endpoint hold any algorithm", "[tcp][cc]") {
  std::unique_ptr<CongestionControl> cc = std::make_unique<NewReno>(kMss, Value(1));
  cc->set_mss(500);
  cc->on_retransmit_timeout(10 * kMss, Value(10001));
  CHECK(cc->cwnd() == 500u);
}

TEST_CASE("duplicate ACK classification (RFC 5681 section 2)", "[tcp][cc]") {
  const AckFacts dup{true, 0, false, Value(10), Value(10), 5000, 5000};
  CHECK(netstack::tcp::is_duplicate_ack(dup));
  AckFacts f = dup;
  f.outstanding_data = false;
  CHECK_FALSE(netstack::tcp::is_duplicate_ack(f));
  f = dup;
  f.segment_length = 1;
  CHECK_FALSE(netstack::tcp::is_duplicate_ack(f));
  f = dup;
  f.syn_or_fin = true;
  CHECK_FALSE(netstack::tcp::is_duplicate_ack(f));
  f = dup;
  f.seg_ack = Value(11);
  CHECK_FALSE(netstack::tcp::is_duplicate_ack(f));
  f = dup;
  f.seg_window = 6000;  // a window update
  CHECK_FALSE(netstack::tcp::is_duplicate_ack(f));
}
