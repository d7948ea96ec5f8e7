// NewReno congestion control: slow start and congestion avoidance (RFC 5681 §3.1), fast
// retransmit and fast recovery (RFC 5681 §3.2) with NewReno's partial-ACK handling (RFC 6582).
#pragma once

#include "netstack/transport/tcp/congestion_control.h"

namespace netstack::tcp {

class NewReno final : public CongestionControl {
 public:
  static constexpr unsigned kDupThresh = 3;

  // `iss` initialises `recover` (RFC 6582 §3.2 step 1).
  NewReno(seqnum::Size mss, seqnum::Value iss);

  CcAction on_ack(const AckInfo& ack) override;
  CcAction on_duplicate_ack(const AckInfo& ack) override;
  void on_retransmit_timeout(seqnum::Size flight_size, seqnum::Value snd_nxt) override;
  void set_mss(seqnum::Size mss) override { mss_ = mss; }

  seqnum::Size cwnd() const override { return cwnd_; }
  seqnum::Size ssthresh() const override { return ssthresh_; }
  bool in_fast_recovery() const override { return in_recovery_; }
  unsigned duplicate_acks() const { return dup_acks_; }
  seqnum::Value recover() const { return recover_; }

 private:
  void grow(seqnum::Size bytes_acked);
  seqnum::Size half_flight(seqnum::Size flight_size) const;

  seqnum::Size mss_;
  seqnum::Size cwnd_;
  // RFC 5681 §3.1: "arbitrarily high" until the first loss.
  seqnum::Size ssthresh_ = 0xffffffffU;
  seqnum::Value recover_;
  unsigned dup_acks_ = 0;
  bool in_recovery_ = false;
  // Bytes acknowledged in congestion avoidance since cwnd last grew (RFC 5681 §3.1, byte counting).
  seqnum::Size ca_bytes_ = 0;
  // A timeout with no ACK since: a repeated timeout keeps ssthresh (RFC 5681 §3.1).
  bool after_timeout_ = false;
};

}  // namespace netstack::tcp
