// The congestion-control interface the TCP endpoint drives (RFC 5681 names), so that NewReno
// (new_reno.h) and later CUBIC (RFC 9438) are interchangeable. The endpoint classifies ACKs and
// keeps the sequence variables; the algorithm only owns cwnd and ssthresh.
#pragma once

#include <cstdint>
#include <optional>

#include "netstack/seqnum/seqnum.h"
#include "netstack/transport/tcp/clock.h"

namespace netstack::tcp {

struct AckInfo {
  seqnum::Value ack;               // SEG.ACK
  seqnum::Size bytes_acked = 0;    // new bytes this ACK covers (0 for a duplicate)
  seqnum::Size flight_size = 0;    // snd_max - SND.UNA before this ACK (RFC 5681 FlightSize)
  seqnum::Value snd_nxt;           // snd_max: the highest sequence number sent so far, plus one
  Instant now{};                   // for time-based algorithms (CUBIC)
  std::optional<Duration> rtt;     // a valid RTT sample from this ACK, if any
};

// What the endpoint must do after telling the algorithm about an event.
enum class CcAction {
  kNone,
  kFastRetransmit,           // retransmit the first unacknowledged segment now (3rd dup ACK)
  kRetransmitFirstUnacked,   // partial ACK in fast recovery (RFC 6582 §3.2 step 3)
};

class CongestionControl {
 public:
  virtual ~CongestionControl() = default;
  // An ACK that advanced SND.UNA.
  virtual CcAction on_ack(const AckInfo& ack) = 0;
  // A duplicate ACK as RFC 5681 §2 defines it (see is_duplicate_ack).
  virtual CcAction on_duplicate_ack(const AckInfo& ack) = 0;
  // The retransmission timer expired (RFC 5681 §3.1 eq. 4 and the loss window).
  virtual void on_retransmit_timeout(seqnum::Size flight_size, seqnum::Value snd_nxt) = 0;
  // The effective send MSS changed (after the handshake, or a PMTU change).
  virtual void set_mss(seqnum::Size mss) = 0;

  virtual seqnum::Size cwnd() const = 0;
  virtual seqnum::Size ssthresh() const = 0;
  virtual bool in_fast_recovery() const = 0;
};

// RFC 5681 §2 "DUPLICATE ACKNOWLEDGMENT": data is outstanding, the segment carries no data and
// neither SYN nor FIN, SEG.ACK == SND.UNA, and the advertised window did not change.
struct AckFacts {
  bool outstanding_data;
  seqnum::Size segment_length;
  bool syn_or_fin;
  seqnum::Value seg_ack;
  seqnum::Value snd_una;
  std::uint32_t seg_window;   // scaled
  std::uint32_t snd_wnd;      // the window we had before this segment
};
constexpr bool is_duplicate_ack(const AckFacts& f) {
  return f.outstanding_data && f.segment_length == 0 && !f.syn_or_fin && f.seg_ack == f.snd_una &&
         f.seg_window == f.snd_wnd;
}

// RFC 6928 (Linux's default): IW = min(10*MSS, max(2*MSS, 14600)).
constexpr seqnum::Size initial_window(seqnum::Size mss) {
  const seqnum::Size two = 2 * mss;
  const seqnum::Size cap = two > 14600 ? two : 14600;
  return 10 * mss < cap ? 10 * mss : cap;
}

}  // namespace netstack::tcp
