// LISTEN: passive open, SYN handling (RFC 9293 §3.10.7.2), the backlog and the accept queue.
#include <algorithm>

#include "netstack/transport/tcp/protocol_impl.h"

namespace netstack::tcp {

Status Connection::listen(int backlog) {
  const int max = static_cast<int>(tunables().listen_backlog_max);
  // Linux clamps to somaxconn; here `backlog` connections (at least one) may wait, counting
  // both those in SYN-RECEIVED and those established but not yet accepted.
  const int clamped = std::clamp(backlog, 1, max);
  if (state_ == State::kListen) {
    backlog_ = clamped;
    return {};
  }
  if (state_ != State::kClosed || ever_connected_) return Errc::kInvalidEndpointState;
  if (!bound_) {
    if (Status s = bind(FullAddress{kAnyNic, Ipv4Address{}, 0}); !s) return s;
  }
  if (Status s = register_as(TransportEndpointId{tid_.local_port, tid_.local_addr, 0, Ipv4Address{}});
      !s)
    return s;
  backlog_ = clamped;
  opening_ = Opening::kPassive;
  apply(Event::kPassiveOpen);
  return {};
}

Expected<std::shared_ptr<Connection>> Connection::accept() {
  if (state_ != State::kListen) return Errc::kInvalidEndpointState;
  if (accept_queue_.empty()) return Errc::kWouldBlock;
  auto c = std::move(accept_queue_.front());
  accept_queue_.pop_front();
  return c;
}

void Connection::input_listen(const PacketInfo& info, const header::TcpView& view,
                              const Segment& seg) {
  if (seg.rst()) return;
  if (seg.has_ack()) {
    send_reset_reply(*stack_, info, view);  // <SEQ=SEG.ACK><CTL=RST>
    return;
  }
  if (!seg.syn() || info.broadcast) return;
  if (accept_queue_.size() + half_open_.size() >= static_cast<std::size_t>(backlog_)) {
    // Linux drops the SYN when the queue is full; the peer's SYN retransmission retries.
    ++stack_->stats().tcp_listen_overflows;
    return;
  }
  auto route = stack_->find_route(kAnyNic, info.dst, info.src);
  if (!route) return;
  std::shared_ptr<Connection> child = protocol_->create_connection(*stack_);
  const TransportEndpointId id{tid_.local_port, info.dst, view.src_port(), info.src};
  if (!child->register_as(id)) {
    protocol_->forget(child->id_);
    return;
  }
  child->listener_ = shared_from_this();
  child->opening_ = Opening::kPassive;
  child->ever_connected_ = true;
  child->route_ = *route;
  child->nodelay_ = nodelay_;
  child->rcvbuf_size_ = rcvbuf_size_;
  child->sndbuf_size_ = sndbuf_size_;
  child->keepalive_config_ = keepalive_config_;
  child->irs_ = seg.seq;
  child->iss_ = protocol_->isn(id, now());
  child->snd_una_ = child->snd_nxt_ = child->snd_max_ = child->iss_;
  child->ts_clock_ = TimestampClock(child->iss_.raw() * 2654435761U);
  const SynOptions theirs = syn_options_of(*seg.options);
  // The SYN-ACK answers only what the SYN offered (RFC 7323 §2.2, §3.2; RFC 2018 §2).
  child->offered_ = answer_syn(child->our_syn_options(), theirs);
  child->setup_after_handshake(child->offered_, theirs);
  child->snd_wnd_ = seg.window;  // never scaled in a SYN
  child->max_snd_wnd_ = seg.window;
  child->snd_wl1_ = seg.seq;
  child->snd_wl2_ = child->iss_;
  if (child->neg_.timestamps) child->ts_state_.on_handshake(seg.options->timestamps->tsval, now());
  half_open_.insert(child->id_);
  ++stack_->stats().tcp_passive_opens;
  child->state_ = State::kListen;
  child->apply(Event::kRcvSyn);  // SYN-RECEIVED, SYN-ACK
}

void Connection::child_established() {
  auto l = listener_.lock();
  if (!l) return;
  l->half_open_.erase(id_);
  if (l->state_ != State::kListen) return;
  l->accept_queue_.push_back(shared_from_this());
  l->signal(kEventIn);
  l->flush_events();
}

// The listener closes: connections nobody accepted are reset (as Linux does).
void Connection::close_listener() {
  const std::set<std::uint64_t> half_open = std::move(half_open_);
  half_open_.clear();
  std::deque<std::shared_ptr<Connection>> queue = std::move(accept_queue_);
  accept_queue_.clear();
  for (std::uint64_t id : half_open) {
    if (auto c = protocol_->find(id)) c->abort_with_rst();
  }
  for (auto& c : queue) {
    if (!c->detached() && c->state_ != State::kClosed) c->abort_with_rst();
    c->user_closed_ = true;
  }
}

}  // namespace netstack::tcp
