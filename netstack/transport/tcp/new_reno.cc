#include "netstack/transport/tcp/new_reno.h"

#include <algorithm>

namespace netstack::tcp {
namespace {

// cwnd never needs to exceed the largest scaled window (2^30, RFC 7323 §2.3); capping it keeps the
// additions below from wrapping.
constexpr seqnum::Size kMaxCwnd = seqnum::Size{1} << 30;

}  // namespace

NewReno::NewReno(seqnum::Size mss, seqnum::Value iss)
    : mss_(mss), cwnd_(initial_window(mss)), recover_(iss) {}

// RFC 5681 eq. 4: ssthresh = max(FlightSize / 2, 2*SMSS).
seqnum::Size NewReno::half_flight(seqnum::Size flight_size) const {
  return std::max(flight_size / 2, 2 * mss_);
}

void NewReno::grow(seqnum::Size bytes_acked) {
  if (cwnd_ < ssthresh_) {
    // Slow start, RFC 5681 eq. 2: cwnd += min(N, SMSS).
    cwnd_ = std::min(kMaxCwnd, cwnd_ + std::min(bytes_acked, mss_));
    return;
  }
  // Congestion avoidance with byte counting: one SMSS per cwnd of acknowledged bytes.
  ca_bytes_ += bytes_acked;
  if (ca_bytes_ >= cwnd_) {
    ca_bytes_ -= cwnd_;
    cwnd_ = std::min(kMaxCwnd, cwnd_ + mss_);
  }
}

CcAction NewReno::on_ack(const AckInfo& ack) {
  dup_acks_ = 0;
  after_timeout_ = false;
  if (!in_recovery_) {
    grow(ack.bytes_acked);
    return CcAction::kNone;
  }
  if (recover_.less_than(ack.ack)) {
    // Full acknowledgment, RFC 6582 §3.2 step 3, option (1): FlightSize after this ACK.
    const seqnum::Size flight = ack.flight_size - std::min(ack.flight_size, ack.bytes_acked);
    cwnd_ = std::min(ssthresh_, std::max(flight, mss_) + mss_);
    in_recovery_ = false;
    ca_bytes_ = 0;
    return CcAction::kNone;
  }
  // Partial acknowledgment, RFC 6582 §3.2 step 3: deflate by the newly acknowledged bytes, add
  // back one SMSS if at least that much was acknowledged, and retransmit the next hole.
  cwnd_ -= std::min(cwnd_, ack.bytes_acked);
  if (ack.bytes_acked >= mss_) cwnd_ += mss_;
  cwnd_ = std::max(cwnd_, mss_);
  return CcAction::kRetransmitFirstUnacked;
}

CcAction NewReno::on_duplicate_ack(const AckInfo& ack) {
  if (in_recovery_) {
    // RFC 5681 §3.2 step 4: each further duplicate inflates cwnd by SMSS.
    cwnd_ = std::min(kMaxCwnd, cwnd_ + mss_);
    return CcAction::kNone;
  }
  if (++dup_acks_ < kDupThresh) return CcAction::kNone;
  dup_acks_ = 0;
  // RFC 6582 §3.2 step 2: no second fast retransmit for losses of the window that a recovery or a
  // timeout already covered.
  if (ack.ack.less_than_eq(recover_)) return CcAction::kNone;
  recover_ = ack.snd_nxt.add(0xffffffffU);  // snd_nxt - 1: the highest sequence number sent
  ssthresh_ = half_flight(ack.flight_size);
  cwnd_ = ssthresh_ + 3 * mss_;
  in_recovery_ = true;
  ca_bytes_ = 0;
  return CcAction::kFastRetransmit;
}

void NewReno::on_retransmit_timeout(seqnum::Size flight_size, seqnum::Value snd_nxt) {
  if (!after_timeout_) ssthresh_ = half_flight(flight_size);
  after_timeout_ = true;
  cwnd_ = mss_;  // RFC 5681 §3.1: the loss window, one segment
  // RFC 6582 §3.2 step 4: recover = the highest sequence number sent, and leave fast recovery.
  recover_ = snd_nxt.add(0xffffffffU);
  in_recovery_ = false;
  dup_acks_ = 0;
  ca_bytes_ = 0;
}

}  // namespace netstack::tcp
