// The receive window we advertise (RFC 9293 §3.8.6.2.2 receiver SWS avoidance, RFC 7323 §2 window
// scaling): its right edge never moves left (RFC 9293 §3.8.6: shrinking the window is "strongly
// discouraged"), it opens only in steps worth a segment, and it is carried in 16 bits plus a shift.
#pragma once

#include <cstdint>

#include "netstack/seqnum/seqnum.h"

namespace netstack::tcp {

// RFC 7323 §2.3: the shift is at most 14.
inline constexpr std::uint8_t kMaxWindowScale = 14;

// The smallest shift that lets a buffer of `capacity` bytes be advertised in 16 bits; this is
// the value we offer in our SYN's window-scale option.
std::uint8_t window_scale_for(std::uint64_t capacity);

class ReceiveWindow {
 public:
  // `capacity`: the receive buffer (RCV.BUFF); `rcv_wscale`: the shift negotiated (0 if the peer
  // did not offer window scaling, RFC 7323 §2.2); `mss`: the peer's effective MSS.
  ReceiveWindow(seqnum::Size capacity, std::uint8_t rcv_wscale, seqnum::Size mss,
                seqnum::Value rcv_nxt);

  // The window field for a segment that acknowledges up to `rcv_nxt`, while `unread` in-order
  // bytes wait for the application. Records the right edge this promises.
  std::uint16_t advertise(seqnum::Value rcv_nxt, seqnum::Size unread);
  // RFC 7323 §2.2: the window in a SYN or SYN-ACK is never scaled.
  std::uint16_t syn_window() const;

  // RCV.NXT + RCV.WND as last advertised: the reassembler accepts data up to here.
  seqnum::Value right_edge() const { return right_edge_; }
  seqnum::Size window_from(seqnum::Value rcv_nxt) const {
    return rcv_nxt.less_than(right_edge_) ? rcv_nxt.size_to(right_edge_) : 0;
  }
  std::uint8_t scale() const { return scale_; }
  seqnum::Size capacity() const { return capacity_; }
  // Whether reading made enough room that a window update is worth sending now (the same SWS
  // threshold: the window would grow by at least min(RCV.BUFF / 2, MSS)).
  bool update_worth_sending(seqnum::Value rcv_nxt, seqnum::Size unread) const;

 private:
  seqnum::Size opening_threshold() const;

  seqnum::Size capacity_;
  std::uint8_t scale_;
  seqnum::Size mss_;
  seqnum::Value right_edge_;
};

}  // namespace netstack::tcp
