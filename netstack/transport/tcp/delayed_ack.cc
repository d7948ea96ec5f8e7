#include "netstack/transport/tcp/delayed_ack.h"

namespace netstack::tcp {

AckDecision DelayedAck::on_segment(seqnum::Size length, seqnum::Size rcv_mss, bool immediate,
                                   Instant now) {
  pending_ = true;
  unacked_bytes_ += length;
  // RFC 1122 §4.2.3.2: "an ACK SHOULD be generated for at least every second full-sized segment";
  // counted in bytes, so that small segments add up the same way.
  const bool enough = rcv_mss > 0 && unacked_bytes_ >= config_.segments * rcv_mss;
  if (immediate || enough) return {true, std::nullopt};
  if (deadline_) return {false, std::nullopt};
  deadline_ = now + config_.delay;
  return {false, deadline_};
}

void DelayedAck::on_ack_sent() {
  pending_ = false;
  deadline_.reset();
  unacked_bytes_ = 0;
}

}  // namespace netstack::tcp
