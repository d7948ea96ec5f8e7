// Delayed acknowledgments (RFC 9293 §3.8.6.3, RFC 1122 §4.2.3.2, RFC 5681 §4.2): ACK at least every
// second full-sized segment and within a bounded delay, but at once for out-of-order segments and
// for segments that fill a hole, so fast retransmit and SACK see them.
#pragma once

#include <optional>

#include "netstack/seqnum/seqnum.h"
#include "netstack/transport/tcp/clock.h"

namespace netstack::tcp {

struct DelayedAckConfig {
  // RFC 9293 demands less than 0.5 s; Linux's smallest delayed-ACK timeout is 40 ms.
  Duration delay = std::chrono::milliseconds(40);
  // Full-sized segments received before an ACK is due regardless of the timer.
  unsigned segments = 2;
};

struct AckDecision {
  bool ack_now = false;
  // When not acking now: the delayed-ACK timer must be armed for this time (unset if it already
  // runs).
  std::optional<Instant> arm_timer;
};

class DelayedAck {
 public:
  explicit DelayedAck(DelayedAckConfig config = {}) : config_(config) {}

  // A segment that occupies sequence space arrived. `rcv_mss` is the largest segment the peer
  // may send us; `immediate` covers out of order, hole filling, FIN and window-probe cases.
  AckDecision on_segment(seqnum::Size length, seqnum::Size rcv_mss, bool immediate, Instant now);
  // An ACK went out (piggybacked on data, or by the timer): nothing is owed any more.
  void on_ack_sent();
  bool pending() const { return pending_; }
  std::optional<Instant> deadline() const { return deadline_; }

 private:
  DelayedAckConfig config_;
  bool pending_ = false;
  std::optional<Instant> deadline_;
  seqnum::Size unacked_bytes_ = 0;
};

}  // namespace netstack::tcp
