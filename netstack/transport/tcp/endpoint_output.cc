// Segments out: building and emitting them, what to send next (window, cwnd, Nagle, SACK
// recovery), retransmission and the persist timer.
#include <algorithm>

#include "netstack/transport/tcp/protocol_impl.h"
#include "netstack/transport/tcp/send_policy.h"

namespace netstack::tcp {

using seqnum::Size;
using seqnum::Value;

namespace {
constexpr Size kTimestampOptionBytes = 12;  // 10 + 2 NOPs
}  // namespace

Size Connection::eff_mss() const {
  return effective_send_mss(neg_.snd_mss, neg_.timestamps ? kTimestampOptionBytes : 0);
}

// Sequence number right after the last data byte: where the FIN sits.
Value Connection::data_end() const { return sndbuf_ ? sndbuf_->end() : iss_.add(1); }
bool Connection::fin_sent() const { return fin_queued_ && data_end().less_than(snd_max_); }

void Connection::send_segment(Value seq, std::uint8_t flags, ByteView first, ByteView second,
                              bool syn_options) {
  if (protocol_ == nullptr) return;
  header::TcpFields f;
  f.src_port = tid_.local_port;
  f.dst_port = tid_.remote_port;
  f.seq_number = seq.raw();
  f.flags = flags;
  const Instant t = now();
  const std::size_t payload = first.size() + second.size();
  if (syn_options) {
    // SYN / SYN-ACK: the options we offer (or answer with), an unscaled window.
    f.options.mss = offered_.mss;
    f.options.window_scale = offered_.window_scale;
    f.options.sack_permitted = offered_.sack_permitted;
    if (offered_.timestamps) {
      f.options.timestamps = header::TcpTimestamps{ts_clock_.tsval(t),
                                                   (flags & header::kTcpFlagAck) ? ts_state_.ts_recent() : 0};
    }
    f.window = static_cast<std::uint16_t>(std::min<std::size_t>(rcvbuf_size_, 0xffff));
  } else {
    if (neg_.timestamps)
      f.options.timestamps = header::TcpTimestamps{ts_clock_.tsval(t), ts_state_.ts_recent()};
    if (neg_.sack && !sack_blocks_.empty() && (flags & header::kTcpFlagAck)) {
      const auto blocks = sack_blocks_.report(max_sack_blocks(neg_.timestamps));
      std::size_t n = blocks.size();
      // Options and payload must fit the peer's MSS (RFC 6691): fewer blocks on full segments.
      auto fits = [&](std::size_t k) {
        header::TcpOptions o = f.options;
        o.sack_block_count = static_cast<std::uint8_t>(k);
        return header::tcp_options_size(o) + payload <= neg_.snd_mss;
      };
      while (n > 0 && !fits(n)) --n;
      for (std::size_t i = 0; i < n; ++i)
        f.options.sack_blocks[i] = header::SackBlock{blocks[i].start.raw(), blocks[i].end.raw()};
      f.options.sack_block_count = static_cast<std::uint8_t>(n);
    }
  }
  if (flags & header::kTcpFlagAck) {
    const Value rcv_nxt = reasm_ ? reasm_->rcv_nxt() : irs_.add(1);
    f.ack_number = rcv_nxt.raw();
    if (!syn_options && rwnd_) {
      f.window = rwnd_->advertise(rcv_nxt, static_cast<Size>(std::min<std::size_t>(unread(), 0xffffffffU)));
    }
    last_ack_sent_ = rcv_nxt;
    delack_.on_ack_sent();
    cancel(TimerKind::kDelayedAck);
  }
  (void)emit_segment(*stack_, route_, f, first, second);
}

void Connection::send_syn() {
  // SYN-SENT sends a SYN; SYN-RECEIVED (passive, or simultaneous open) a SYN-ACK, both from ISS.
  const bool ack = state_ == State::kSynReceived;
  send_segment(iss_, header::kTcpFlagSyn | (ack ? header::kTcpFlagAck : 0), {}, {}, true);
  snd_nxt_ = iss_.add(1);
  if (snd_max_.less_than(snd_nxt_)) snd_max_ = snd_nxt_;
  arm_retransmit_if_idle();
}

void Connection::send_ack() {
  if (!reasm_) return;
  send_segment(snd_nxt_, header::kTcpFlagAck, {}, {}, false);
}

void Connection::send_challenge_ack() {
  if (protocol_ == nullptr || !protocol_->allow_challenge_ack(now())) return;
  ++stack_->stats().tcp_challenge_acks;
  send_ack();
}

void Connection::send_rst(Value seq) {
  ++stack_->stats().tcp_resets_sent;
  if (reasm_) {
    send_segment(seq, header::kTcpFlagRst | header::kTcpFlagAck, {}, {}, false);
  } else {
    send_segment(seq, header::kTcpFlagRst, {}, {}, false);
  }
}

// Keepalive and zero-window probes as Linux sends them (tcp_xmit_probe_skb): an old sequence
// number, SND.UNA - 1, and no data. The peer finds it unacceptable and answers with an ACK that
// carries its current window (RFC 9293 §3.10.7.4), without any of our data being at stake.
void Connection::send_probe() {
  send_segment(snd_una_.add(0xffffffffU), header::kTcpFlagAck, {}, {}, false);
}

void Connection::arm_retransmit_if_idle() {
  if (protocol_ == nullptr) return;
  if (!protocol_->timers_armed(TimerKey{id_, TimerKind::kRetransmit}))
    arm(TimerKind::kRetransmit, now() + rtt_.rto());
}

void Connection::send_data(Value seq, Size len, bool fin, bool retransmission) {
  const ByteSpans bytes = sndbuf_->peek(seq, len);
  std::uint8_t flags = header::kTcpFlagAck;
  if (len > 0) flags |= header::kTcpFlagPsh;
  if (fin) flags |= header::kTcpFlagFin;
  send_segment(seq, flags, bytes.first, bytes.second, false);
  const Value end = seq.add(len + (fin ? 1 : 0));
  if (retransmission) {
    ++stack_->stats().tcp_retransmits;
    sampler_.on_retransmit();
  } else {
    sampler_.on_send(end, now(), false);
  }
  arm_retransmit_if_idle();
  (void)end;
}

void Connection::retransmit_first_unacked() {
  const Size outstanding = snd_una_.size_to(snd_max_);
  if (outstanding == 0) return;
  const Size data = snd_una_.less_than(data_end())
                        ? std::min<Size>(snd_una_.size_to(data_end()), eff_mss()) : 0;
  const bool fin = fin_queued_ && snd_una_.add(data) == data_end();
  send_data(snd_una_, data, fin, true);
  if (scoreboard_ && data > 0) scoreboard_->on_retransmitted(snd_una_, data);
}

// The sending decision (README.md "Sending"): as much as Nagle, SWS avoidance, the peer's
// window and cwnd allow; the FIN when the data before it is out.
void Connection::output() {
  if (protocol_ == nullptr || !sndbuf_) return;
  switch (state_) {
    case State::kEstablished:
    case State::kCloseWait:
    case State::kFinWait1:
    case State::kClosing:
    case State::kLastAck: break;
    default: return;
  }
  if (neg_.sack && cc_->in_fast_recovery()) {
    sack_output();
    return;
  }
  for (int guard = 0; guard < 100000; ++guard) {
    const Size in_flight = snd_una_.size_to(snd_nxt_);
    const Size wnd = std::min<Size>(snd_wnd_, cc_->cwnd());
    const Size usable = wnd > in_flight ? wnd - in_flight : 0;
    const Size queued = snd_nxt_.less_than(data_end()) ? snd_nxt_.size_to(data_end()) : 0;
    SendState s;
    s.queued = queued;
    s.usable_window = usable;
    s.eff_mss = eff_mss();
    s.max_snd_wnd = max_snd_wnd_;
    s.unacked_data = snd_nxt_ != snd_una_;
    s.nodelay = nodelay_;
    s.fin_queued = fin_queued_;
    s.override_expired = sws_override_;
    sws_override_ = false;
    const Size len = next_segment_length(s);
    if (len == 0) {
      if (queued == 0 && fin_queued_ && snd_nxt_ == data_end()) {
        // The FIN alone (a FIN does not need window space, RFC 9293 §3.10.4).
        send_data(snd_nxt_, 0, true, snd_nxt_.less_than(snd_max_));
        snd_nxt_ = snd_nxt_.add(1);
        if (snd_max_.less_than(snd_nxt_)) snd_max_ = snd_nxt_;
      } else if (queued > 0 && !s.unacked_data) {
        // Nothing in flight and nothing may go: a zero window (probe it, RFC 9293 §3.8.6.1)
        // or one too small for SWS avoidance (the override timer, §3.8.6.2.1 (iv)). One
        // timer serves both, as Linux's persist timer does.
        if (!protocol_->timers_armed(TimerKey{id_, TimerKind::kZeroWindowProbe})) {
          persist_probes_ = 0;
          arm(TimerKind::kZeroWindowProbe,
              now() + zero_window_probe_interval(rtt_.rto(), 0, tunables().rto.max));
        }
      }
      return;
    }
    const bool fin = fin_queued_ && len == queued;
    send_data(snd_nxt_, len, fin, snd_nxt_.less_than(snd_max_));
    snd_nxt_ = snd_nxt_.add(len + (fin ? 1 : 0));
    if (snd_max_.less_than(snd_nxt_)) snd_max_ = snd_nxt_;
    if (fin) return;
  }
}

// RFC 6675 §5 loss recovery: NextSeg() while pipe < ssthresh (README.md: NewReno's inflated
// cwnd is already counted by pipe).
void Connection::sack_output() {
  for (int guard = 0; guard < 10000 && scoreboard_->pipe() < cc_->ssthresh(); ++guard) {
    const Size in_window = snd_una_.size_to(snd_max_);
    const Size unsent = snd_nxt_.less_than(data_end()) ? snd_nxt_.size_to(data_end()) : 0;
    const bool may_send_new = unsent > 0 && in_window + eff_mss() <= snd_wnd_ && snd_nxt_ == snd_max_;
    const NextSegment n = scoreboard_->next_seg(may_send_new);
    if (n.kind == NextSegment::Kind::kRetransmit) {
      if (!n.seq.less_than(data_end())) return;  // only the FIN is left: the RTO resends it
      const Size len = std::min<Size>(n.length, n.seq.size_to(data_end()));
      send_data(n.seq, len, false, true);
      scoreboard_->on_retransmitted(n.seq, len);
    } else if (n.kind == NextSegment::Kind::kNewData) {
      const Size len = std::min<Size>(eff_mss(), unsent);
      const bool fin = fin_queued_ && len == unsent;
      send_data(snd_nxt_, len, fin, false);
      snd_nxt_ = snd_nxt_.add(len + (fin ? 1 : 0));
      snd_max_ = snd_nxt_;
    } else {
      return;
    }
  }
}

void Connection::on_retransmit_timer() {
  ++stack_->stats().tcp_timeouts;
  if (state_ == State::kSynSent || state_ == State::kSynReceived) {
    rtt_.backoff();
    const unsigned limit =
        state_ == State::kSynSent ? tunables().syn_retries : tunables().synack_retries;
    if (rtt_.retries_exhausted(limit)) {
      if (state_ == State::kSynReceived && opening_ == Opening::kPassive) {
        teardown();  // a half-open child just goes (Linux drops the request)
      } else {
        apply(Event::kRetriesExhausted);
      }
      return;
    }
    syn_retransmitted_ = true;
    ++stack_->stats().tcp_retransmits;
    send_syn();
    arm(TimerKind::kRetransmit, now() + rtt_.rto());
    return;
  }
  if (snd_una_ == snd_max_ || !sndbuf_) return;
  rtt_.backoff();
  if (rtt_.retries_exhausted(tunables().data_retries)) {
    if (!apply(Event::kRetriesExhausted)) {
      set_error(Errc::kTimeout);
      teardown();
    }
    return;
  }
  // RFC 6298 §5.4-5.6, RFC 5681 §3.1: back off, shrink cwnd to the loss window, go back N.
  cc_->on_retransmit_timeout(flight_size(), snd_max_);
  scoreboard_->clear();
  sampler_.on_retransmit();
  snd_nxt_ = snd_una_;
  const Size data = snd_una_.less_than(data_end())
                        ? std::min<Size>(snd_una_.size_to(data_end()), eff_mss()) : 0;
  const bool fin = fin_queued_ && snd_una_.add(data) == data_end();
  send_data(snd_una_, data, fin, true);
  snd_nxt_ = snd_una_.add(data + (fin ? 1 : 0));
  arm(TimerKind::kRetransmit, now() + rtt_.rto());
}

void Connection::on_persist_timer() {
  if (!sndbuf_ || !is_synchronized(state_)) return;
  const Size queued = snd_nxt_.less_than(data_end()) ? snd_nxt_.size_to(data_end()) : 0;
  if (queued == 0 || snd_nxt_ != snd_una_) return;
  if (snd_wnd_ > 0) {
    sws_override_ = true;
    output();
    sws_override_ = false;
    return;
  }
  send_probe();
  ++persist_probes_;
  arm(TimerKind::kZeroWindowProbe,
      now() + zero_window_probe_interval(rtt_.rto(), persist_probes_, tunables().rto.max));
}

}  // namespace netstack::tcp
