// Connection life cycle: user calls, state changes through the transition table, teardown,
// timers and socket options.
#include <algorithm>
#include <cstring>

#include "netstack/transport/tcp/protocol_impl.h"

namespace netstack::tcp {

using seqnum::Size;
using seqnum::Value;

namespace {
constexpr std::size_t kInitialSendBuffer = 16384;  // net.ipv4.tcp_wmem's default
}  // namespace

Connection::Connection(TcpProtocol& protocol, StackServices& stack, std::uint64_t id)
    : protocol_(&protocol),
      stack_(&stack),
      id_(id),
      nodelay_(protocol.tunables().nodelay),
      rcvbuf_size_(protocol.tunables().receive_buffer),
      sndbuf_size_(protocol.tunables().send_buffer),
      keepalive_config_(protocol.tunables().keepalive),
      rtt_(protocol.tunables().rto),
      delack_(protocol.tunables().delayed_ack) {}

Connection::~Connection() = default;

Instant Connection::now() const { return stack_->timers().now(); }
const Tunables& Connection::tunables() const { return protocol_->tunables(); }

void Connection::detach() {
  protocol_ = nullptr;
  registered_ = false;
  port_reserved_ = false;
  state_ = State::kClosed;
}

void Connection::signal(EventMask events) { pending_events_ |= events; }

void Connection::flush_events() {
  if (pending_events_ == 0) return;
  const EventMask e = pending_events_;
  pending_events_ = 0;
  auto self = shared_from_this();  // a callback may drop the last handle
  waiters_.notify(e);
}

void Connection::set_error(Errc e) {
  error_ = e;
  hard_error_ = e;
  signal(kEventErr | kEventIn | kEventOut | kEventHup);
}

void Connection::arm(TimerKind kind, Instant deadline) {
  if (protocol_ != nullptr) protocol_->arm(TimerKey{id_, kind}, deadline);
}

void Connection::cancel(TimerKind kind) {
  if (protocol_ != nullptr) protocol_->cancel(TimerKey{id_, kind});
}

// ---- registration ------------------------------------------------------------------------------

Status Connection::register_as(const TransportEndpointId& id) {
  if (Status s = stack_->register_endpoint(kProtocolNumber, id, nic_, this); !s) return s;
  if (registered_) stack_->unregister_endpoint(kProtocolNumber, tid_, nic_, this);
  registered_ = true;
  tid_ = id;
  return {};
}

void Connection::unregister() {
  if (registered_) stack_->unregister_endpoint(kProtocolNumber, tid_, nic_, this);
  registered_ = false;
  if (port_reserved_) stack_->ports().release(kProtocolNumber, reserved_addr_, tid_.local_port);
  port_reserved_ = false;
}

// Delete the TCB (RFC 9293 "delete the TCB, enter the CLOSED state"). The protocol forgets the
// connection; a handle the user still holds keeps the object, with its unread data and error.
void Connection::teardown() {
  if (protocol_ == nullptr) return;
  if (state_ == State::kListen) close_listener();
  const bool was_half_open = state_ == State::kSynReceived;
  state_ = State::kClosed;
  protocol_->cancel_all(id_);
  unregister();
  if (auto l = listener_.lock(); l && was_half_open) {
    l->half_open_.erase(id_);
  }
  signal(kEventHup | kEventIn | kEventOut);
  release_buffers();
  auto self = shared_from_this();
  protocol_->forget(id_);
}

// Nothing will be sent any more (TIME-WAIT, CLOSED): give back the send ring, which is the
// bulk of a connection's memory, so that many connections in TIME-WAIT stay cheap. A one-byte
// buffer at the same place keeps data_end() meaningful.
void Connection::release_buffers() {
  if (sndbuf_ && sndbuf_->capacity() > 1) sndbuf_.emplace(1, sndbuf_->end());
  if (user_closed_ && unread() == 0) {
    rcvbuf_.clear();
    rcvbuf_.shrink_to_fit();
    rcv_read_ = 0;
  }
}

// All state changes go through the transition table; its action bits say what else to do.
bool Connection::apply(Event event) {
  const auto t = next_transition(state_, event, opening_);
  if (!t) return false;
  const State from = state_;
  state_ = t->to;
  const std::uint16_t a = t->actions;
  if (a & kSignalReset) {
    set_error(from == State::kSynSent ? Errc::kConnectionRefused : Errc::kConnectionReset);
    ++stack_->stats().tcp_resets_received;
  }
  if (a & kSignalTimeout) set_error(Errc::kTimeout);
  if (a & kSendRst) send_rst(snd_nxt_);
  if (a & kSendSyn) send_syn();
  if (a & kSendSynAck) send_syn();
  if (a & kSignalEstablished) on_established();
  if (a & kSignalEof) {
    fin_received_ = true;
    signal(kEventIn | kEventHup);
  }
  if (a & kSendFin) {
    fin_queued_ = true;
    output();
  }
  if (a & kSendAck) send_ack();
  if (a & kStartTimeWait) {
    cancel(TimerKind::kRetransmit);
    cancel(TimerKind::kZeroWindowProbe);
    cancel(TimerKind::kKeepalive);
    cancel(TimerKind::kDelayedAck);
    arm(TimerKind::kTimeWait, now() + tunables().time_wait);
    release_buffers();
  }
  if (state_ == State::kFinWait2 && user_closed_) {
    // An orphaned FIN-WAIT-2 does not wait forever for the peer's FIN (Linux tcp_fin_timeout,
    // 60 s by default: the same length as TIME-WAIT here).
    arm(TimerKind::kTimeWait, now() + tunables().time_wait);
  }
  if (a & (kDeleteTcb | kReturnToListen)) teardown();
  return true;
}

// ---- user calls ----------------------------------------------------------------------------

Status Connection::bind(const FullAddress& addr) {
  if (bound_) return Errc::kAlreadyBound;
  if (state_ != State::kClosed || ever_connected_) return Errc::kInvalidEndpointState;
  if (!addr.addr.is_any() && !stack_->is_local_address(addr.nic, addr.addr))
    return Errc::kBadLocalAddress;
  auto port = stack_->ports().reserve(kProtocolNumber, addr.addr, addr.port);
  if (!port) return port.error();
  port_reserved_ = true;
  bound_ = true;
  reserved_addr_ = addr.addr;
  nic_ = addr.nic;
  tid_ = TransportEndpointId{*port, addr.addr, 0, Ipv4Address{}};
  return {};
}

SynOptions Connection::our_syn_options() const {
  SynOptions o;
  o.mss = mss_for_mtu(route_.mtu);
  if (tunables().window_scaling) o.window_scale = window_scale_for(rcvbuf_size_);
  o.sack_permitted = tunables().sack;
  o.timestamps = tunables().timestamps;
  return o;
}

Status Connection::connect(const FullAddress& addr) {
  switch (state_) {
    case State::kClosed: break;
    case State::kSynSent:
    case State::kSynReceived: return Errc::kAlreadyConnecting;
    case State::kListen: return Errc::kInvalidEndpointState;
    default: return Errc::kAlreadyConnected;
  }
  if (ever_connected_) return hard_error_ ? *hard_error_ : Errc::kInvalidEndpointState;
  if (addr.port == 0 || addr.addr.is_any() || addr.addr.is_broadcast()) return Errc::kBadAddress;
  auto route = stack_->find_route(addr.nic != kAnyNic ? addr.nic : nic_, tid_.local_addr, addr.addr);
  if (!route) return route.error();
  if (!bound_) {
    if (Status s = bind(FullAddress{addr.nic, Ipv4Address{}, 0}); !s) return s;
  }
  route_ = *route;
  const TransportEndpointId id{tid_.local_port, route_.local, addr.port, addr.addr};
  if (Status s = register_as(id); !s) return s;
  ever_connected_ = true;
  error_.reset();
  iss_ = protocol_->isn(id, now());
  snd_una_ = snd_nxt_ = snd_max_ = iss_;
  offered_ = our_syn_options();
  ts_clock_ = TimestampClock(iss_.raw() * 2654435761U);
  ++stack_->stats().tcp_active_opens;
  apply(Event::kActiveOpen);  // sends the SYN, arms the retransmit timer
  return Errc::kConnectStarted;
}

void Connection::setup_after_handshake(const SynOptions& ours, const SynOptions& theirs) {
  neg_ = negotiate(ours, theirs, route_.mtu);
  const Value data_start = iss_.add(1);
  // The ring starts at Linux's initial 16 KiB and grows up to the configured size as the writer
  // fills it (grow_send_buffer), so that short connections stay cheap.
  sndbuf_.emplace(std::min<std::size_t>(sndbuf_size_, kInitialSendBuffer), data_start);
  reasm_.emplace(irs_.add(1));
  // The MSS of the peer's segments bounds the SWS threshold; use what it announced (or 536).
  rwnd_.emplace(static_cast<Size>(rcvbuf_size_), neg_.rcv_wscale, neg_.snd_mss, irs_.add(1));
  cc_.emplace(eff_mss(), iss_);
  scoreboard_.emplace(eff_mss(), data_start);
  last_ack_sent_ = irs_.add(1);
}

void Connection::on_established() {
  // The SYN's ACK: the send sequence space now starts after it.
  if (syn_retransmitted_) rtt_.on_established_after_syn_loss();
  rtt_.clear_backoffs();
  keepalive_.emplace(keepalive_config_, now());
  restart_keepalive();
  signal(kEventOut);
  if (auto l = listener_.lock()) {
    child_established();
  }
}

void Connection::restart_keepalive() {
  if (!keepalive_) return;
  if (auto at = keepalive_->next_deadline()) {
    arm(TimerKind::kKeepalive, *at);
  } else {
    cancel(TimerKind::kKeepalive);
  }
}

Expected<ReadResult> Connection::read(std::span<std::byte> out, bool consume) {
  if (state_ == State::kListen) return Errc::kNotConnected;
  const std::size_t avail = unread();
  if (avail > 0 && !shut_read_) {
    const std::size_t n = std::min(out.size(), avail);
    if (n > 0) std::memcpy(out.data(), rcvbuf_.data() + rcv_read_, n);
    ReadResult r{n, n, FullAddress{nic_, tid_.remote_addr, tid_.remote_port}};
    if (!consume) return r;
    rcv_read_ += n;
    if (rcv_read_ == rcvbuf_.size()) {
      rcvbuf_.clear();
      rcv_read_ = 0;
    } else if (rcv_read_ >= 65536 && rcv_read_ * 2 >= rcvbuf_.size()) {
      rcvbuf_.erase(rcvbuf_.begin(), rcvbuf_.begin() + static_cast<std::ptrdiff_t>(rcv_read_));
      rcv_read_ = 0;
    }
    // Reading opened the window enough to tell the peer (RFC 9293 §3.8.6.2.2).
    if (rwnd_ && reasm_ && is_synchronized(state_) && !fin_received_ &&
        rwnd_->update_worth_sending(reasm_->rcv_nxt(), static_cast<Size>(unread()))) {
      send_ack();
    }
    return r;
  }
  // After a reset or a timeout: the error once (here or through SO_ERROR), then EOF.
  if (hard_error_ && error_) {
    const Errc e = *error_;
    if (consume) error_.reset();
    return e;
  }
  if (hard_error_ || fin_received_ || shut_read_) return ReadResult{0, 0, {}};
  if (state_ == State::kClosed) {
    if (ever_connected_) return ReadResult{0, 0, {}};
    return Errc::kNotConnected;
  }
  return Errc::kWouldBlock;
}

Expected<std::size_t> Connection::write(ByteView data) {
  if (hard_error_) {
    if (error_) {
      const Errc e = *error_;
      error_.reset();
      return e;
    }
    return Errc::kClosedForSend;  // EPIPE
  }
  if (fin_queued_) return Errc::kClosedForSend;
  switch (state_) {
    case State::kEstablished:
    case State::kCloseWait: break;
    case State::kSynSent:
    case State::kSynReceived: return Errc::kWouldBlock;
    case State::kClosed:
    case State::kListen: return Errc::kNotConnected;
    default: return Errc::kClosedForSend;
  }
  if (sndbuf_->free_space() < data.size() && sndbuf_->capacity() < sndbuf_size_) grow_send_buffer();
  const std::size_t n = sndbuf_->write(data);
  if (n == 0) return Errc::kWouldBlock;
  output();
  return n;
}

// Doubles the send ring (up to sndbuf_size_), keeping the bytes from SND.UNA on in place.
void Connection::grow_send_buffer() {
  const std::size_t capacity = std::min(sndbuf_size_, sndbuf_->capacity() * 2);
  SendBuffer bigger(capacity, sndbuf_->snd_una());
  const ByteSpans held = sndbuf_->peek(sndbuf_->snd_una(), sndbuf_->size());
  bigger.write(held.first);
  bigger.write(held.second);
  *sndbuf_ = std::move(bigger);
}

Status Connection::shutdown(std::uint8_t flags) {
  if (state_ == State::kListen) {
    // Linux: shutdown(SHUT_RD) on a listener stops it (accept then fails).
    if (flags & kShutdownRead) teardown();
    return {};
  }
  if (!is_synchronized(state_) && state_ != State::kSynReceived) return Errc::kNotConnected;
  if (flags & kShutdownRead) {
    shut_read_ = true;
    rcvbuf_.clear();
    rcv_read_ = 0;
    signal(kEventIn);
  }
  if ((flags & kShutdownWrite) && !fin_queued_) apply(Event::kClose);
  return {};
}

void Connection::abort_with_rst() {
  if (is_synchronized(state_) || state_ == State::kSynReceived) send_rst(snd_nxt_);
  teardown();
}

void Connection::user_close() {
  user_closed_ = true;
  if (protocol_ == nullptr) return;
  auto self = shared_from_this();
  switch (state_) {
    case State::kClosed:
      unregister();
      protocol_->forget(id_);
      return;
    case State::kListen:
    case State::kSynSent:
      teardown();
      return;
    case State::kSynReceived:
    case State::kEstablished:
    case State::kCloseWait:
      // RFC 9293 §3.10.4 / RFC 2525 §2.17: closing with unread data sends RST, not FIN.
      if (unread() > 0 || (reasm_ && reasm_->held_bytes() > 0)) {
        abort_with_rst();
        return;
      }
      if (!fin_queued_) apply(Event::kClose);
      return;
    case State::kFinWait2:
      arm(TimerKind::kTimeWait, now() + tunables().time_wait);
      return;
    default:
      return;  // already closing: the connection finishes on its own
  }
}

EventMask Connection::readiness() const {
  EventMask r = 0;
  if (state_ == State::kListen) return accept_queue_.empty() ? 0 : kEventIn;
  if (unread() > 0 || fin_received_ || shut_read_ || hard_error_) r |= kEventIn;
  if ((state_ == State::kEstablished || state_ == State::kCloseWait) && !fin_queued_ &&
      sndbuf_ && sndbuf_->writable())
    r |= kEventOut;
  if (error_) r |= kEventErr;
  if (hard_error_) r |= kEventOut;
  if ((state_ == State::kClosed && ever_connected_) || (fin_queued_ && fin_received_))
    r |= kEventHup;
  return r;
}

Expected<FullAddress> Connection::local_address() const {
  return FullAddress{nic_, tid_.local_addr, tid_.local_port};
}

Expected<FullAddress> Connection::remote_address() const {
  if (!ever_connected_ || tid_.remote_port == 0) return Errc::kNotConnected;
  return FullAddress{nic_, tid_.remote_addr, tid_.remote_port};
}

// ---- timers ----------------------------------------------------------------------------------

void Connection::on_timer(TimerKind kind) {
  auto self = shared_from_this();
  switch (kind) {
    case TimerKind::kRetransmit:
      on_retransmit_timer();
      return;
    case TimerKind::kDelayedAck:
      if (delack_.pending()) send_ack();
      return;
    case TimerKind::kZeroWindowProbe:
      on_persist_timer();
      return;
    case TimerKind::kTimeWait:
      if (state_ == State::kTimeWait) {
        apply(Event::kTimeWaitTimeout);
      } else if (state_ == State::kFinWait2) {
        teardown();  // orphaned FIN-WAIT-2 timeout
      }
      return;
    case TimerKind::kKeepalive: {
      if (!keepalive_ || !is_synchronized(state_)) return;
      switch (keepalive_->on_timer(now())) {
        case KeepaliveAction::kNone: break;
        case KeepaliveAction::kSendProbe: send_probe(); break;
        case KeepaliveAction::kAbort:
          if (!apply(Event::kRetriesExhausted)) {
            set_error(Errc::kTimeout);
            teardown();
          }
          return;
      }
      restart_keepalive();
      return;
    }
  }
}

}  // namespace netstack::tcp
