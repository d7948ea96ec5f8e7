#include "netstack/transport/tcp/rtt_estimator.h"

#include <algorithm>

namespace netstack::tcp {

RttEstimator::RttEstimator(RtoConfig config) : config_(config), rto_(clamp(config.initial)) {}

Duration RttEstimator::clamp(Duration rto) const {
  return std::clamp(rto, config_.min, std::max(config_.min, config_.max));
}

// RFC 6298 §2.2: RTO = SRTT + max(G, K*RTTVAR), K = 4.
Duration RttEstimator::base_rto() const {
  return clamp(srtt_ + std::max(config_.granularity, 4 * rttvar_));
}

void RttEstimator::add_sample(Duration rtt) {
  rtt = std::max(rtt, Duration(0));
  if (!has_sample_) {
    // RFC 6298 §2.2: the first measurement R.
    srtt_ = rtt;
    rttvar_ = rtt / 2;
    has_sample_ = true;
  } else {
    // RFC 6298 §2.3 with alpha = 1/8, beta = 1/4; RTTVAR is updated with the old SRTT.
    const Duration err = srtt_ > rtt ? srtt_ - rtt : rtt - srtt_;
    rttvar_ = (3 * rttvar_ + err) / 4;
    srtt_ = (7 * srtt_ + rtt) / 8;
  }
  rto_ = base_rto();
  backoffs_ = 0;
}

void RttEstimator::backoff() {
  // Doubling past max would overflow after enough timeouts; the cap makes it stop growing.
  rto_ = rto_ >= config_.max / 2 ? clamp(config_.max) : clamp(rto_ * 2);
  ++backoffs_;
}

void RttEstimator::on_established_after_syn_loss() {
  constexpr Duration kThreeSeconds = std::chrono::seconds(3);
  if (!has_sample_ && rto_ < kThreeSeconds) rto_ = clamp(kThreeSeconds);
}

void RttSampler::on_send(seqnum::Value end, Instant now, bool retransmission) {
  if (retransmission) {
    on_retransmit();
    return;
  }
  if (timing_) return;
  timing_ = true;
  end_ = end;
  sent_at_ = now;
}

std::optional<Duration> RttSampler::on_ack(seqnum::Value ack, Instant now) {
  if (!timing_ || ack.less_than(end_)) return std::nullopt;
  timing_ = false;
  return now - sent_at_;
}

}  // namespace netstack::tcp
