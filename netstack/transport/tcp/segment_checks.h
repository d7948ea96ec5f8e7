// Checks an incoming segment passes before it may change a connection: the acceptability test of
// RFC 9293 §3.10.7.4, and RFC 5961's defences against blind in-window attacks (RST §3, SYN §4,
// ACK §5) with the challenge-ACK rate limit (§7).
#pragma once

#include <cstdint>

#include "netstack/seqnum/seqnum.h"
#include "netstack/transport/tcp/clock.h"

namespace netstack::tcp {

// RFC 9293 §3.10.7.4 "first, check sequence number": the four cases of segment length and
// receive window. A segment that fails is answered with an ACK (unless it is an RST) and dropped.
bool segment_acceptable(seqnum::Value seg_seq, seqnum::Size seg_len, seqnum::Value rcv_nxt,
                        seqnum::Size rcv_wnd);

enum class RstVerdict {
  kAccept,        // reset the connection
  kChallengeAck,  // send a challenge ACK (rate limited), drop the RST
  kDrop,          // drop silently
};

// RFC 5961 §3.2, synchronized states: an RST is accepted only if SEG.SEQ == RCV.NXT exactly; one
// elsewhere in the window gets a challenge ACK, so that a true peer answers with an exact RST.
RstVerdict check_rst(seqnum::Value seg_seq, seqnum::Value rcv_nxt, seqnum::Size rcv_wnd);

// RFC 9293 §3.10.7.3, SYN-SENT: an RST counts only if it carries an ACK of our SYN
// (SND.UNA < SEG.ACK <= SND.NXT); otherwise it is dropped.
RstVerdict check_rst_syn_sent(bool has_ack, seqnum::Value seg_ack, seqnum::Value snd_una,
                              seqnum::Value snd_nxt);

// RFC 5961 §4.2: a SYN in a synchronized state, wherever its sequence number lies, gets a
// challenge ACK and is dropped (never an RST, never a reset of the connection).
constexpr RstVerdict check_syn_in_synchronized() { return RstVerdict::kChallengeAck; }

enum class AckVerdict {
  kNew,           // SND.UNA < SEG.ACK <= SND.NXT: advances SND.UNA
  kDuplicate,     // SEG.ACK == SND.UNA (possibly a duplicate ACK, or a window update)
  kOld,           // acceptable but older than SND.UNA: ignore the ACK field, process the rest
  kChallengeAck,  // outside [SND.UNA - MAX.SND.WND, SND.NXT]: send an ACK, drop the segment
};

// RFC 5961 §5.2: the ACK field is acceptable when
//   (SND.UNA - MAX.SND.WND) <= SEG.ACK <= SND.NXT;
// an ACK of data not yet sent, or far older than any window, gets an ACK back and is dropped.
AckVerdict check_ack(seqnum::Value seg_ack, seqnum::Value snd_una, seqnum::Value snd_nxt,
                     seqnum::Size max_snd_wnd);

// RFC 5961 §7: challenge ACKs are rate limited per second, so that they cannot be used to probe
// or flood. Linux kept a global 1000/s (net.ipv4.tcp_challenge_ack_limit) until 6.0, which made it
// unlimited by default to close a side channel; the limit here is per stack. Time is passed in.
class ChallengeAckLimiter {
 public:
  explicit ChallengeAckLimiter(unsigned per_second = 1000) : per_second_(per_second) {}
  // Whether one more challenge ACK may be sent at `now`; counts it if so.
  bool allow(Instant now);

 private:
  unsigned per_second_;
  unsigned sent_in_window_ = 0;
  Instant window_start_{};
  bool started_ = false;
};

}  // namespace netstack::tcp
