// Retransmission timeout per RFC 6298, with Karn's rule (RFC 6298 §3, §5.5-5.7). The caller feeds
// round-trip samples and timeouts; this module only does the arithmetic, so it never reads a clock.
#pragma once

#include <optional>

#include "netstack/seqnum/seqnum.h"
#include "netstack/transport/tcp/clock.h"

namespace netstack::tcp {

struct RtoConfig {
  Duration initial = std::chrono::seconds(1);     // RFC 6298 §2.1
  Duration min = std::chrono::seconds(1);         // RFC 6298 §2.4 (Linux: 200 ms)
  Duration max = std::chrono::seconds(60);        // RFC 6298 §2.5 "at least 60 s" (Linux: 120 s)
  Duration granularity = std::chrono::milliseconds(1);  // G, the clock granularity

  // The values the Linux kernel uses (TCP_RTO_MIN, TCP_RTO_MAX, TCP_TIMEOUT_INIT).
  static RtoConfig linux_defaults() {
    return {std::chrono::seconds(1), std::chrono::milliseconds(200), std::chrono::seconds(120),
            std::chrono::milliseconds(1)};
  }
};

class RttEstimator {
 public:
  explicit RttEstimator(RtoConfig config = {});

  // RFC 6298 §2.2-2.3. The caller passes only samples Karn's rule allows (RttSampler, or a
  // timestamp echo). A valid sample also ends any backoff (Karn, RFC 6298 §5.7 note).
  void add_sample(Duration rtt);
  // RFC 6298 §5.5: the timer expired; double the RTO, capped at max.
  void backoff();
  // RFC 6298 §5.7: after a lost SYN or SYN-ACK, an RTO below 3 s goes back to 3 s once the
  // connection is established, unless a sample has been taken since.
  void on_established_after_syn_loss();

  // The RTO to arm the retransmission timer with, backoff included.
  Duration rto() const { return rto_; }
  bool has_sample() const { return has_sample_; }
  Duration srtt() const { return srtt_; }
  Duration rttvar() const { return rttvar_; }
  // Consecutive timeouts without progress; the endpoint ends the connection with ETIMEDOUT once
  // this passes its retry limit (Linux: tcp_retries2 = 15, tcp_syn_retries = 6).
  unsigned backoffs() const { return backoffs_; }
  bool retries_exhausted(unsigned limit) const { return backoffs_ > limit; }
  // New data was acknowledged: the backoff count restarts (the RTO stays until a new sample).
  void clear_backoffs() { backoffs_ = 0; }

 private:
  Duration clamp(Duration rto) const;
  Duration base_rto() const;

  RtoConfig config_;
  Duration srtt_{0};
  Duration rttvar_{0};
  Duration rto_;
  bool has_sample_ = false;
  unsigned backoffs_ = 0;
};

// Times one segment at a time, as RFC 6298 §3 allows, and applies Karn's rule: a segment that was
// retransmitted gives no sample, since its ACK may answer either transmission.
class RttSampler {
 public:
  // A segment [seq, end) was sent at `now`. Timing starts if nothing is being timed and this is
  // new data.
  void on_send(seqnum::Value end, Instant now, bool retransmission);
  // Any retransmission while timing drops the pending measurement: conservative (the timed
  // segment may not be the one resent), as BSD does, and a timeout means the path changed anyway.
  void on_retransmit() { timing_ = false; }
  // A cumulative ACK arrived; returns a sample if it covers the timed segment.
  std::optional<Duration> on_ack(seqnum::Value ack, Instant now);
  bool timing() const { return timing_; }

 private:
  bool timing_ = false;
  seqnum::Value end_;
  Instant sent_at_{};
};

}  // namespace netstack::tcp
