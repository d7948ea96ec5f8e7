#include "netstack/transport/tcp/segment_checks.h"

namespace netstack::tcp {

using seqnum::Size;
using seqnum::Value;

bool segment_acceptable(Value seg_seq, Size seg_len, Value rcv_nxt, Size rcv_wnd) {
  if (seg_len == 0) {
    if (rcv_wnd == 0) return seg_seq == rcv_nxt;
    return seg_seq.in_window(rcv_nxt, rcv_wnd);
  }
  if (rcv_wnd == 0) return false;
  // Either end of the segment inside the window will do.
  const Value last = seg_seq.add(seg_len - 1);
  return seg_seq.in_window(rcv_nxt, rcv_wnd) || last.in_window(rcv_nxt, rcv_wnd);
}

RstVerdict check_rst(Value seg_seq, Value rcv_nxt, Size rcv_wnd) {
  if (seg_seq == rcv_nxt) return RstVerdict::kAccept;
  // With a zero window only the exact match could be in window (RFC 9293 §3.10.7.4).
  if (rcv_wnd > 0 && seg_seq.in_window(rcv_nxt, rcv_wnd)) return RstVerdict::kChallengeAck;
  return RstVerdict::kDrop;
}

RstVerdict check_rst_syn_sent(bool has_ack, Value seg_ack, Value snd_una, Value snd_nxt) {
  if (!has_ack) return RstVerdict::kDrop;
  const bool acks_syn = snd_una.less_than(seg_ack) && seg_ack.less_than_eq(snd_nxt);
  return acks_syn ? RstVerdict::kAccept : RstVerdict::kDrop;
}

AckVerdict check_ack(Value seg_ack, Value snd_una, Value snd_nxt, Size max_snd_wnd) {
  if (snd_nxt.less_than(seg_ack)) return AckVerdict::kChallengeAck;
  if (snd_una.less_than(seg_ack)) return AckVerdict::kNew;
  if (seg_ack == snd_una) return AckVerdict::kDuplicate;
  // seg_ack < snd_una: acceptable as long as it is within one (largest) window behind.
  const Value oldest = Value(snd_una.raw() - max_snd_wnd);
  return oldest.less_than_eq(seg_ack) ? AckVerdict::kOld : AckVerdict::kChallengeAck;
}

bool ChallengeAckLimiter::allow(Instant now) {
  if (!started_ || now - window_start_ >= std::chrono::seconds(1)) {
    started_ = true;
    window_start_ = now;
    sent_in_window_ = 0;
  }
  if (sent_in_window_ >= per_second_) return false;
  ++sent_in_window_;
  return true;
}

}  // namespace netstack::tcp
