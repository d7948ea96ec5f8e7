// Segment arrival, in the order of RFC 9293 §3.10.7 (SEGMENT ARRIVES), with RFC 7323's PAWS and
// RFC 5961's checks where that section puts them.
#include <algorithm>
#include <array>

#include "netstack/transport/tcp/protocol_impl.h"

namespace netstack::tcp {

using seqnum::Size;
using seqnum::Value;

SynOptions syn_options_of(const header::TcpOptions& o) {
  SynOptions s;
  s.mss = o.mss;
  s.window_scale = o.window_scale;
  s.sack_permitted = o.sack_permitted;
  s.timestamps = o.timestamps.has_value();
  return s;
}

namespace {

struct Blocks {
  std::array<SackBlock, 4> b;
  std::size_t n = 0;
  std::span<const SackBlock> span() const { return {b.data(), n}; }
};

Blocks sack_blocks_of(const header::TcpOptions& o) {
  Blocks r;
  for (std::size_t i = 0; i < o.sack_block_count && i < r.b.size(); ++i)
    r.b[r.n++] = SackBlock{Value(o.sack_blocks[i].left), Value(o.sack_blocks[i].right)};
  return r;
}

}  // namespace

void Connection::handle_packet(const PacketInfo& info, PacketBuffer pkt) {
  if (protocol_ == nullptr) return;
  auto self = shared_from_this();  // the segment may end the connection
  auto view = header::TcpView::parse(pkt.view());
  if (!view) return;  // parse_ports() already checked; kept so this function stands on its own
  segment_arrived(info, *view);
  flush_events();
}

void Connection::handle_control(ControlType type, const PacketInfo&) {
  (void)type;
  // Linux aborts a connection attempt on ICMP port/protocol unreachable (tcp_v4_err: a hard
  // error in SYN-SENT); on an established connection such errors are only soft, so ignored.
  if (state_ != State::kSynSent) return;
  auto self = shared_from_this();
  set_error(Errc::kConnectionRefused);
  teardown();
  flush_events();
}

void Connection::segment_arrived(const PacketInfo& info, const header::TcpView& view) {
  const Segment seg{Value(view.seq_number()), Value(view.ack_number()), view.flags(),
                    view.window(), &view.options(), view.payload()};
  if (keepalive_) keepalive_->on_segment_received(now());
  switch (state_) {
    case State::kClosed:
      send_reset_reply(*stack_, info, view);
      return;
    case State::kListen:
      input_listen(info, view, seg);
      return;
    case State::kSynSent:
      input_syn_sent(seg);
      return;
    default:
      input_synchronized(seg);
      return;
  }
}

// RFC 9293 §3.10.7.3.
void Connection::input_syn_sent(const Segment& seg) {
  if (seg.has_ack() && (seg.ack.less_than_eq(iss_) || snd_max_.less_than(seg.ack))) {
    if (!seg.rst()) send_segment(seg.ack, header::kTcpFlagRst, {}, {}, false);
    return;
  }
  if (seg.rst()) {
    if (check_rst_syn_sent(seg.has_ack(), seg.ack, snd_una_, snd_max_) == RstVerdict::kAccept)
      apply(Event::kRcvRst);
    return;
  }
  if (!seg.syn()) return;
  irs_ = seg.seq;
  const SynOptions theirs = syn_options_of(*seg.options);
  setup_after_handshake(offered_, theirs);
  snd_wnd_ = seg.window;  // never scaled in a SYN (RFC 7323 §2.2)
  max_snd_wnd_ = snd_wnd_;
  snd_wl1_ = seg.seq;
  if (neg_.timestamps) ts_state_.on_handshake(seg.options->timestamps->tsval, now());
  if (seg.has_ack()) {
    snd_una_ = seg.ack;
    snd_wl2_ = seg.ack;
    if (neg_.timestamps && seg.options->timestamps->tsecr != 0) {
      if (auto rtt = ts_clock_.rtt_from_echo(seg.options->timestamps->tsecr, now()))
        rtt_.add_sample(*rtt);
    }
    cancel(TimerKind::kRetransmit);
    apply(Event::kRcvSynAck);  // ESTABLISHED, ACK
    output();
    return;
  }
  // Simultaneous open (RFC 9293 §3.5 Figure 8): answer with SYN-ACK from our ISS.
  snd_wl2_ = iss_;
  apply(Event::kRcvSyn);
}

void Connection::input_synchronized(const Segment& seg) {
  const Instant t = now();
  const auto& ts = seg.options->timestamps;
  if (state_ == State::kSynReceived && seg.syn() && seg.seq == irs_) {
    if (!seg.has_ack()) {
      send_syn();  // the peer did not see our SYN-ACK: send it again
      return;
    }
    if (seg.ack == iss_.add(1) && !seg.rst()) {
      // Simultaneous open, second half: the peer's SYN-ACK acknowledges our SYN.
      snd_una_ = seg.ack;
      snd_wnd_ = seg.window;
      max_snd_wnd_ = std::max(max_snd_wnd_, snd_wnd_);
      snd_wl1_ = seg.seq;
      snd_wl2_ = seg.ack;
      cancel(TimerKind::kRetransmit);
      apply(Event::kRcvSynAck);
      return;
    }
  }
  const Value rcv_nxt = reasm_->rcv_nxt();
  const Size rcv_wnd = rwnd_->window_from(rcv_nxt);
  // RFC 7323 §5.3: PAWS first.
  if (neg_.timestamps && ts && ts_state_.paws_reject(ts->tsval, seg.rst(), t)) {
    if (!seg.rst()) send_ack();
    return;
  }
  // First: the sequence number.
  if (!segment_acceptable(seg.seq, seg.length(), rcv_nxt, rcv_wnd)) {
    if (seg.rst()) return;
    if (state_ == State::kTimeWait && seg.fin()) {
      apply(Event::kRcvFin);  // a retransmitted FIN: ACK it and restart 2*MSL
    } else {
      send_ack();
    }
    return;
  }
  // Second: RST (RFC 5961 §3.2).
  if (seg.rst()) {
    switch (check_rst(seg.seq, rcv_nxt, rcv_wnd)) {
      case RstVerdict::kAccept:
        if (state_ == State::kSynReceived && opening_ == Opening::kPassive) {
          teardown();  // back to LISTEN: the listener never saw this connection
        } else if (!apply(Event::kRcvRst)) {
          teardown();
        }
        return;
      case RstVerdict::kChallengeAck:
        send_challenge_ack();
        return;
      case RstVerdict::kDrop:
        return;
    }
  }
  // Fourth: SYN in a synchronized state (RFC 5961 §4.2).
  if (seg.syn()) {
    send_challenge_ack();
    return;
  }
  // Fifth: ACK.
  if (!seg.has_ack()) return;
  if (state_ == State::kSynReceived) {
    if (!(snd_una_.less_than(seg.ack) && seg.ack.less_than_eq(snd_max_))) {
      send_segment(seg.ack, header::kTcpFlagRst, {}, {}, false);
      return;
    }
    snd_una_ = iss_.add(1);
    snd_wnd_ = seg.window << neg_.snd_wscale;
    max_snd_wnd_ = std::max(max_snd_wnd_, snd_wnd_);
    snd_wl1_ = seg.seq;
    snd_wl2_ = seg.ack;
    if (neg_.timestamps && ts && ts->tsecr != 0) {
      if (auto rtt = ts_clock_.rtt_from_echo(ts->tsecr, t)) rtt_.add_sample(*rtt);
    }
    cancel(TimerKind::kRetransmit);
    apply(Event::kRcvAckOfSyn);
    if (state_ != State::kEstablished) return;
  }
  if (!process_ack(seg)) return;
  if (neg_.timestamps && ts) ts_state_.on_accepted(seg.seq, ts->tsval, last_ack_sent_, t);
  // Seventh and eighth: text and FIN.
  process_text(seg);
}

std::optional<Duration> Connection::rtt_sample(const Segment& seg, Value ack) {
  auto sample = sampler_.on_ack(ack, now());
  // RFC 7323 §4: with timestamps, every ACK of new data gives a sample from TSecr.
  if (neg_.timestamps && seg.options->timestamps && seg.options->timestamps->tsecr != 0)
    return ts_clock_.rtt_from_echo(seg.options->timestamps->tsecr, now());
  return sample;
}

// Returns false when the segment was dropped or the connection ended.
bool Connection::process_ack(const Segment& seg) {
  const Value ack = seg.ack;
  const AckVerdict v = check_ack(ack, snd_una_, snd_max_, std::max<Size>(max_snd_wnd_, 1));
  switch (v) {
    case AckVerdict::kChallengeAck:
      send_challenge_ack();
      return false;
    case AckVerdict::kOld:
      break;
    case AckVerdict::kNew:
      on_new_ack(seg, ack);
      break;
    case AckVerdict::kDuplicate:
      on_duplicate_ack(seg);
      break;
  }
  // RFC 9293 §3.10.7.4 fifth: the send window from the most recent segment.
  const std::uint32_t wnd = std::uint32_t{seg.window} << neg_.snd_wscale;
  if (v != AckVerdict::kOld &&
      (snd_wl1_.less_than(seg.seq) || (snd_wl1_ == seg.seq && snd_wl2_.less_than_eq(ack)))) {
    const bool opened = snd_wnd_ == 0 && wnd > 0;
    snd_wnd_ = wnd;
    max_snd_wnd_ = std::max(max_snd_wnd_, wnd);
    snd_wl1_ = seg.seq;
    snd_wl2_ = ack;
    if (opened) {
      cancel(TimerKind::kZeroWindowProbe);
      persist_probes_ = 0;
    }
  }
  if (fin_sent() && snd_una_ == snd_max_) {
    switch (state_) {
      case State::kFinWait1:
        apply(Event::kRcvAckOfFin);
        break;
      case State::kClosing:
      case State::kLastAck:
        apply(Event::kRcvAckOfFin);
        return false;
      default:
        break;
    }
  }
  if (neg_.sack && cc_->in_fast_recovery()) {
    sack_output();
  } else {
    output();
  }
  return true;
}

void Connection::on_new_ack(const Segment& seg, Value ack) {
  const Size flight = flight_size();
  if (neg_.sack) scoreboard_->on_ack(ack, sack_blocks_of(*seg.options).span(), snd_max_);
  const auto sample = rtt_sample(seg, ack);
  if (sample) rtt_.add_sample(*sample);
  const AckInfo info{ack, snd_una_.size_to(ack), flight, snd_max_, now(), sample};
  const Value data_ack = data_end().less_than(ack) ? data_end() : ack;
  if (sndbuf_->snd_una().less_than(data_ack)) sndbuf_->acknowledge(data_ack);
  snd_una_ = ack;
  if (snd_nxt_.less_than(ack)) snd_nxt_ = ack;
  rtt_.clear_backoffs();
  const CcAction a = cc_->on_ack(info);
  if (a == CcAction::kRetransmitFirstUnacked && !neg_.sack) retransmit_first_unacked();
  // RFC 6298 §5.2-5.3.
  if (snd_una_ == snd_max_) {
    cancel(TimerKind::kRetransmit);
  } else {
    arm(TimerKind::kRetransmit, now() + rtt_.rto());
  }
  if (sndbuf_->writable() && !fin_queued_) signal(kEventOut);
}

void Connection::on_duplicate_ack(const Segment& seg) {
  if (neg_.sack) scoreboard_->on_ack(seg.ack, sack_blocks_of(*seg.options).span(), snd_max_);
  const AckFacts f{snd_una_ != snd_max_, static_cast<Size>(seg.payload.size()),
                   seg.syn() || seg.fin(), seg.ack, snd_una_,
                   std::uint32_t{seg.window} << neg_.snd_wscale, snd_wnd_};
  const AckInfo info{seg.ack, 0, flight_size(), snd_max_, now(), {}};
  if (is_duplicate_ack(f) && cc_->on_duplicate_ack(info) == CcAction::kFastRetransmit) {
    ++stack_->stats().tcp_fast_retransmits;
    retransmit_first_unacked();
    return;
  }
  // RFC 6675 §5: with SACK, loss recovery also starts when the scoreboard says the first
  // unacknowledged segment is lost (IsLost), even if window updates from a reading receiver
  // kept the strict duplicate-ACK count (RFC 5681 §2: same window) below three.
  if (neg_.sack && f.outstanding_data && !cc_->in_fast_recovery() &&
      scoreboard_->should_enter_recovery()) {
    for (unsigned i = 0; i < NewReno::kDupThresh && !cc_->in_fast_recovery(); ++i) {
      if (cc_->on_duplicate_ack(info) == CcAction::kFastRetransmit) {
        ++stack_->stats().tcp_fast_retransmits;
        retransmit_first_unacked();
      }
    }
  }
}

void Connection::process_text(const Segment& seg) {
  switch (state_) {
    case State::kEstablished:
    case State::kFinWait1:
    case State::kFinWait2: break;
    default: return;  // after the peer's FIN, text is ignored (RFC 9293 §3.10.7.4 seventh)
  }
  if (seg.payload.empty() && !seg.fin()) return;
  if (user_closed_ && reasm_->rcv_nxt().less_than(seg.seq.add(static_cast<Size>(seg.payload.size())))) {
    // New data for a connection nobody will read (closed by its user): RST, as Linux does
    // (RFC 9293 §3.10.7.4 leaves it open; RFC 2525 §2.17).
    abort_with_rst();
    return;
  }
  const Size window = rwnd_->window_from(reasm_->rcv_nxt());
  const std::size_t held_before = reasm_->held_ranges();
  const ReassemblyResult r = reasm_->insert(seg.seq, seg.payload, seg.fin(), window, rcvbuf_);
  if (r.out_of_order) sack_blocks_.on_out_of_order(r.out_of_order->start, r.out_of_order->end);
  if (!sack_blocks_.empty()) sack_blocks_.on_rcv_nxt(reasm_->rcv_nxt());
  if (shut_read_) {
    rcvbuf_.clear();  // SHUT_RD: acknowledged and discarded
    rcv_read_ = 0;
  }
  if (r.delivered > 0) signal(kEventIn);
  if (r.fin) {
    apply(Event::kRcvFin);  // ACKs it, EOF
    return;
  }
  // RFC 5681 §4.2: ACK at once out of order, for duplicates and when a hole is being filled.
  const bool immediate = r.out_of_order.has_value() || r.duplicate || held_before > 0;
  const Size rcv_mss = effective_send_mss(offered_.mss.value_or(kDefaultMss),
                                          neg_.timestamps ? 12 : 0);
  const AckDecision d =
      delack_.on_segment(static_cast<Size>(seg.payload.size()), rcv_mss, immediate, now());
  if (d.ack_now) {
    send_ack();
  } else if (d.arm_timer) {
    arm(TimerKind::kDelayedAck, *d.arm_timer);
  }
}

}  // namespace netstack::tcp
