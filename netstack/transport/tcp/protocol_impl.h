// The TCP transport protocol (gVisor transport/tcp's protocol): owns every connection until it
// is fully closed, the per-stack modules (timers, ISN generator, challenge-ACK limiter, tunables)
// and the one TimerQueue timer that wakes TCP's own timer heap.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "netstack/header/tcp.h"
#include "netstack/transport/tcp/connection.h"
#include "netstack/transport/tcp/isn.h"
#include "netstack/transport/tcp/protocol.h"
#include "netstack/transport/tcp/segment_checks.h"
#include "netstack/transport/tcp/tcp_timers.h"

namespace netstack::tcp {

class TcpProtocol final : public TransportProtocol {
 public:
  explicit TcpProtocol(ProtocolOptions options);
  ~TcpProtocol() override;
  TcpProtocol(const TcpProtocol&) = delete;
  TcpProtocol& operator=(const TcpProtocol&) = delete;

  std::uint8_t number() const override { return kProtocolNumber; }
  Expected<std::unique_ptr<Endpoint>> new_endpoint(StackServices& stack) override;
  std::optional<Ports> parse_ports(StackServices& stack, const PacketInfo& info,
                                   ByteView transport) override;
  UnknownDestinationResult handle_unknown_destination(StackServices& stack, const PacketInfo& info,
                                                      ByteView transport) override;

  // For connections.
  const Tunables& tunables() const { return options_.tunables; }
  std::shared_ptr<Connection> create_connection(StackServices& stack);
  std::shared_ptr<Connection> find(std::uint64_t id) const;
  void forget(std::uint64_t id) { connections_.erase(id); }
  void arm(TimerKey key, Instant deadline);
  void cancel(TimerKey key) { timers_.cancel(key); }
  bool timers_armed(TimerKey key) const { return timers_.armed(key); }
  void cancel_all(std::uint64_t connection) { timers_.cancel_connection(connection); }
  seqnum::Value isn(const TransportEndpointId& id, Instant now) const;
  bool allow_challenge_ack(Instant now) { return challenge_acks_.allow(now); }
  std::size_t connection_count() const { return connections_.size(); }

 private:
  void on_timer();
  void reschedule();

  ProtocolOptions options_;
  IsnGenerator isn_;
  ChallengeAckLimiter challenge_acks_;
  TcpTimers timers_;
  TimerQueue* queue_ = nullptr;  // the stack's, learnt at the first new_endpoint
  std::optional<TimerQueue::TimerId> scheduled_;
  Instant scheduled_at_{};
  std::uint64_t next_id_ = 1;
  std::map<std::uint64_t, std::shared_ptr<Connection>> connections_;
};

// Builds and sends one segment on `route` (no connection needed: RSTs for unknown ports too).
Status emit_segment(StackServices& stack, const Route& route, const header::TcpFields& fields,
                    ByteView first, ByteView second);
// RFC 9293 §3.10.7.1: the RST that answers `seg` when no connection wants it (never to an RST).
void send_reset_reply(StackServices& stack, const PacketInfo& info, const header::TcpView& seg);

}  // namespace netstack::tcp
