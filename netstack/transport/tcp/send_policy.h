// When to send, on the sending side: Nagle's algorithm (RFC 896, RFC 9293 §3.7.4, off with
// TCP_NODELAY), sender silly-window-syndrome avoidance (RFC 9293 §3.8.6.2.1) and the zero-window
// probe (persist timer, RFC 9293 §3.8.6.1). Pure decisions on numbers the endpoint supplies.
#pragma once

#include "netstack/seqnum/seqnum.h"
#include "netstack/transport/tcp/clock.h"

namespace netstack::tcp {

struct SendState {
  seqnum::Size queued = 0;          // unsent bytes in the send buffer, from SND.NXT on
  seqnum::Size usable_window = 0;   // min(SND.WND, cwnd) - bytes in flight, never negative
  seqnum::Size eff_mss = 0;         // Eff.snd.MSS (RFC 9293 §3.7.1), options already subtracted
  seqnum::Size max_snd_wnd = 0;     // the largest window the peer has offered (SWS threshold)
  bool unacked_data = false;        // SND.NXT != SND.UNA
  bool nodelay = false;             // TCP_NODELAY
  bool push = true;                 // no more data is coming right now (stream writes are pushed)
  bool fin_queued = false;          // the FIN follows the queued data (shutdown(SHUT_WR) or close)
  bool override_expired = false;    // RFC 9293 §3.8.6.2.1 (iv): the SWS override timer fired
};

// The length of the next segment to send now, 0 to wait for an ACK, more data, or a timer.
seqnum::Size next_segment_length(const SendState& s);

// RFC 9293 §3.8.6.1: the peer offers a zero window and we have data but nothing in flight (so no
// retransmission timer would ever ask): the persist timer must run and probe.
constexpr bool needs_zero_window_probe(seqnum::Size snd_wnd, seqnum::Size queued,
                                       bool unacked_data) {
  return snd_wnd == 0 && queued > 0 && !unacked_data;
}

// The persist timer backs off like the retransmission timer (RFC 1122 §4.2.2.17): RTO * 2^probes,
// capped at `max`. The probe carries one byte of new data beyond the window; the peer ACKs it with
// its current window whether or not it keeps the byte.
Duration zero_window_probe_interval(Duration rto, unsigned probes_sent, Duration max);

}  // namespace netstack::tcp
