// One TCP connection (the TCB of RFC 9293 §3.3.1) or a listener, owned by the protocol
// (protocol_impl.h) from creation until it reaches CLOSED, so that a connection the user closed
// keeps sending its FIN, retransmitting and waiting in TIME-WAIT after the user's Endpoint is
// gone. The user's Endpoint (endpoint.h) is a handle holding a shared_ptr to it.
// Method bodies are split by concern: connection.cc (life cycle, state changes, timers),
// endpoint_input.cc (segment arrival, RFC 9293 §3.10.7 order), endpoint_output.cc (segments out,
// retransmission), listener.cc (LISTEN, SYN handling, accept queue).
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "netstack/header/tcp.h"
#include "netstack/stack/interfaces.h"
#include "netstack/transport/tcp/keepalive.h"
#include "netstack/transport/tcp/delayed_ack.h"
#include "netstack/transport/tcp/negotiation.h"
#include "netstack/transport/tcp/new_reno.h"
#include "netstack/transport/tcp/reassembly.h"
#include "netstack/transport/tcp/receive_window.h"
#include "netstack/transport/tcp/rtt_estimator.h"
#include "netstack/transport/tcp/sack.h"
#include "netstack/transport/tcp/send_buffer.h"
#include "netstack/transport/tcp/state_machine.h"
#include "netstack/transport/tcp/tcp_timers.h"
#include "netstack/transport/tcp/timestamps.h"
#include "netstack/transport/tcp/tunables.h"

namespace netstack::tcp {

class TcpProtocol;

// What a SYN's options offer, in negotiation.h's terms.
SynOptions syn_options_of(const header::TcpOptions& o);

// A received segment, parsed once (RFC 9293's SEG.* variables).
struct Segment {
  seqnum::Value seq, ack;
  std::uint8_t flags = 0;
  std::uint32_t window = 0;  // the raw 16-bit field
  const header::TcpOptions* options = nullptr;
  ByteView payload;
  bool syn() const { return flags & header::kTcpFlagSyn; }
  bool fin() const { return flags & header::kTcpFlagFin; }
  bool rst() const { return flags & header::kTcpFlagRst; }
  bool has_ack() const { return flags & header::kTcpFlagAck; }
  seqnum::Size length() const {
    return static_cast<seqnum::Size>(payload.size()) + (syn() ? 1 : 0) + (fin() ? 1 : 0);
  }
};

class Connection final : public TransportEndpoint, public std::enable_shared_from_this<Connection> {
 public:
  Connection(TcpProtocol& protocol, StackServices& stack, std::uint64_t id);
  ~Connection() override;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // ---- user calls (through TcpEndpoint) ----
  Status bind(const FullAddress& addr);
  Status connect(const FullAddress& addr);
  Status listen(int backlog);
  Expected<std::shared_ptr<Connection>> accept();
  Expected<ReadResult> read(std::span<std::byte> out, bool consume);
  Expected<std::size_t> write(ByteView data);
  Status shutdown(std::uint8_t flags);
  // The user let go of the connection (close() or the handle's destructor): RST if unread data
  // waits, FIN otherwise, then the connection lives on in the protocol until fully closed.
  void user_close();
  EventMask readiness() const;
  Status set_option(SockOpt opt, std::int64_t value);
  Expected<std::int64_t> get_option(SockOpt opt);
  Expected<FullAddress> local_address() const;
  Expected<FullAddress> remote_address() const;
  WaiterQueue& waiters() { return waiters_; }

  // ---- stack side ----
  void handle_packet(const PacketInfo& info, PacketBuffer pkt) override;
  void handle_control(ControlType type, const PacketInfo& info) override;
  void on_timer(TimerKind kind);
  // The protocol is going away (the stack is destroyed): forget it, become inert.
  void detach();
  bool detached() const { return protocol_ == nullptr; }
  std::uint64_t id() const { return id_; }
  State state() const { return state_; }
  // Raises the events gathered since the last call on the waiter queue.
  void flush_events();

 private:
  friend class TcpProtocol;

  // connection.cc
  bool apply(Event event);
  void teardown();
  void release_buffers();
  void grow_send_buffer();
  void signal(EventMask events);
  void set_error(Errc e);
  void arm(TimerKind kind, Instant deadline);
  void cancel(TimerKind kind);
  Instant now() const;
  const Tunables& tunables() const;
  Status register_as(const TransportEndpointId& id);
  void unregister();
  SynOptions our_syn_options() const;
  // After the handshake: build the per-connection modules from what was negotiated.
  void setup_after_handshake(const SynOptions& ours, const SynOptions& theirs);
  void on_established();
  void abort_with_rst();
  void restart_keepalive();
  std::size_t unread() const { return rcvbuf_.size() - rcv_read_; }

  // endpoint_input.cc
  void segment_arrived(const PacketInfo& info, const header::TcpView& view);
  void input_syn_sent(const Segment& seg);
  void input_synchronized(const Segment& seg);
  bool process_ack(const Segment& seg);
  void on_new_ack(const Segment& seg, seqnum::Value ack);
  void on_duplicate_ack(const Segment& seg);
  void process_text(const Segment& seg);
  std::optional<Duration> rtt_sample(const Segment& seg, seqnum::Value ack);

  // endpoint_output.cc
  void output();
  void sack_output();
  void send_syn();
  void send_ack();
  void send_challenge_ack();
  void send_rst(seqnum::Value seq);
  void send_probe();
  // Sends [seq, seq + len) from the send buffer, with FIN if asked; returns false on error.
  void send_data(seqnum::Value seq, seqnum::Size len, bool fin, bool retransmission);
  void send_segment(seqnum::Value seq, std::uint8_t flags, ByteView first, ByteView second,
                    bool syn_options);
  void retransmit_first_unacked();
  void on_retransmit_timer();
  void on_persist_timer();
  void arm_retransmit_if_idle();
  seqnum::Size eff_mss() const;
  seqnum::Size flight_size() const { return snd_una_.size_to(snd_max_); }
  bool fin_sent() const;
  seqnum::Value data_end() const;

  // listener.cc
  void input_listen(const PacketInfo& info, const header::TcpView& view, const Segment& seg);
  void child_established();
  void close_listener();

  TcpProtocol* protocol_;
  StackServices* stack_;
  std::uint64_t id_;
  WaiterQueue waiters_;
  EventMask pending_events_ = 0;

  State state_ = State::kClosed;
  Opening opening_ = Opening::kActive;
  bool user_closed_ = false;   // close() called or the handle dropped
  bool ever_connected_ = false;

  // Addressing.
  TransportEndpointId tid_;
  NicId nic_ = kAnyNic;
  Route route_;
  bool registered_ = false;
  bool port_reserved_ = false;
  bool bound_ = false;
  Ipv4Address reserved_addr_;

  // Listener.
  int backlog_ = 0;
  std::deque<std::shared_ptr<Connection>> accept_queue_;
  std::set<std::uint64_t> half_open_;  // children in SYN-RECEIVED
  std::weak_ptr<Connection> listener_;  // for a child

  // Send sequence space (RFC 9293 §3.3.1); snd_max_ is BSD's, see README.md.
  seqnum::Value iss_, snd_una_, snd_nxt_, snd_max_, snd_wl1_, snd_wl2_;
  std::uint32_t snd_wnd_ = 0, max_snd_wnd_ = 0;
  seqnum::Value irs_, last_ack_sent_;
  bool fin_queued_ = false;   // FIN follows the data (shutdown write / close)
  bool fin_received_ = false;
  bool shut_read_ = false;
  bool syn_retransmitted_ = false;
  unsigned persist_probes_ = 0;
  bool sws_override_ = false;  // the persist timer fired with a small window: send anyway
  std::optional<Errc> error_;   // pending SO_ERROR
  std::optional<Errc> hard_error_;  // why the connection died, reported by read/write

  // Options.
  SynOptions offered_;
  Negotiated neg_{kDefaultMss, 0, 0, false, false, false};
  bool nodelay_;
  std::size_t rcvbuf_size_, sndbuf_size_;
  KeepaliveConfig keepalive_config_;

  // The modules (README.md "How the endpoint wires them"), made at the handshake.
  std::optional<SendBuffer> sndbuf_;
  std::optional<Reassembler> reasm_;
  std::optional<ReceiveWindow> rwnd_;
  std::optional<NewReno> cc_;
  std::optional<SackScoreboard> scoreboard_;
  SackReceiverBlocks sack_blocks_;
  RttEstimator rtt_;
  RttSampler sampler_;
  TimestampClock ts_clock_;
  TimestampState ts_state_;
  DelayedAck delack_;
  std::optional<Keepalive> keepalive_;
  std::vector<std::byte> rcvbuf_;  // in-order bytes from rcv_read_ on wait for read()
  std::size_t rcv_read_ = 0;
};

}  // namespace netstack::tcp
