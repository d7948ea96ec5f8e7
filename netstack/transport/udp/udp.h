// UDP (RFC 768) as a transport protocol of the stack (gVisor transport/udp): endpoints bind,
// connect, and exchange datagrams with addresses; ports come from the stack's PortManager.
#pragma once

#include <deque>
#include <memory>

#include "netstack/stack/interfaces.h"

namespace netstack::udp {

inline constexpr std::uint8_t kProtocolNumber = 17;

class UdpProtocol final : public TransportProtocol {
 public:
  std::uint8_t number() const override { return kProtocolNumber; }
  Expected<std::unique_ptr<Endpoint>> new_endpoint(StackServices& stack) override;
  std::optional<Ports> parse_ports(StackServices& stack, const PacketInfo& info,
                                   ByteView transport) override;
  UnknownDestinationResult handle_unknown_destination(StackServices& stack, const PacketInfo& info,
                                                      ByteView transport) override;
};

class UdpEndpoint final : public Endpoint, public TransportEndpoint {
 public:
  explicit UdpEndpoint(StackServices& stack) : stack_(stack) {}
  ~UdpEndpoint() override { close(); }
  UdpEndpoint(const UdpEndpoint&) = delete;
  UdpEndpoint& operator=(const UdpEndpoint&) = delete;

  // Endpoint
  void close() override;
  Expected<ReadResult> read(std::span<std::byte> out) override;
  Expected<ReadResult> peek(std::span<std::byte> out) override;
  Expected<std::size_t> write(ByteView data, const WriteOptions& opts) override;
  Status connect(const FullAddress& addr) override;
  Status shutdown(std::uint8_t flags) override;
  Status listen(int) override { return Errc::kNotSupported; }
  Expected<std::unique_ptr<Endpoint>> accept() override { return Errc::kNotSupported; }
  Status bind(const FullAddress& addr) override;
  Expected<FullAddress> get_local_address() const override;
  Expected<FullAddress> get_remote_address() const override;
  EventMask readiness(EventMask mask) const override;
  Status set_sock_opt(SockOpt opt, std::int64_t value) override;
  Expected<std::int64_t> get_sock_opt(SockOpt opt) override;
  WaiterQueue& waiter_queue() override { return waiters_; }

  // TransportEndpoint
  void handle_packet(const PacketInfo& info, PacketBuffer pkt) override;
  void handle_control(ControlType type, const PacketInfo& info) override;

 private:
  enum class State : std::uint8_t { kInitial, kBound, kConnected, kClosed };
  struct Datagram {
    FullAddress from;
    PacketBuffer payload;  // the UDP header already consumed
  };
  Status register_as(const TransportEndpointId& id, NicId nic);
  void unregister();
  Expected<ReadResult> take(std::span<std::byte> out, bool consume);

  StackServices& stack_;
  WaiterQueue waiters_;
  State state_ = State::kInitial;
  NicId bound_nic_ = kAnyNic;
  TransportEndpointId id_;
  bool registered_ = false;
  bool port_reserved_ = false;
  Ipv4Address reserved_addr_;
  std::deque<Datagram> queue_;
  std::size_t queued_bytes_ = 0;
  std::size_t receive_buffer_ = 212992;  // Linux's default rmem
  std::size_t send_buffer_ = 212992;
  std::uint8_t ttl_ = 64;
  bool broadcast_ = false;
  bool reuse_address_ = false;
  bool shut_read_ = false, shut_write_ = false;
  std::optional<Errc> pending_error_;
};

}  // namespace netstack::udp
