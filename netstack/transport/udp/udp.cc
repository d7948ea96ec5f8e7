#include "netstack/transport/udp/udp.h"

#include <cstring>

#include "netstack/header/udp.h"

namespace netstack::udp {

Expected<std::unique_ptr<Endpoint>> UdpProtocol::new_endpoint(StackServices& stack) {
  return std::unique_ptr<Endpoint>(std::make_unique<UdpEndpoint>(stack));
}

std::optional<TransportProtocol::Ports> UdpProtocol::parse_ports(StackServices& stack,
                                                                 const PacketInfo& info,
                                                                 ByteView transport) {
  Stats& stats = stack.stats();
  auto v = header::UdpView::parse(transport);
  // RFC 768: the length must cover exactly the IP payload (after reassembly and padding trim).
  if (!v || v->length() != transport.size()) {
    ++stats.udp_malformed;
    ++stats.malformed_received;
    return {};
  }
  if (!v->checksum_valid(info.src, info.dst)) {
    ++stats.udp_checksum_errors;
    ++stats.malformed_received;
    return {};
  }
  return Ports{v->src_port(), v->dst_port()};
}

UnknownDestinationResult UdpProtocol::handle_unknown_destination(StackServices& stack,
                                                                 const PacketInfo&, ByteView) {
  ++stack.stats().udp_unknown_port;
  return UnknownDestinationResult::kPortUnreachable;
}

// ---- endpoint -------------------------------------------------------------------------------

Status UdpEndpoint::register_as(const TransportEndpointId& id, NicId nic) {
  if (registered_) stack_.unregister_endpoint(kProtocolNumber, id_, bound_nic_, this);
  registered_ = false;
  if (Status s = stack_.register_endpoint(kProtocolNumber, id, nic, this); !s) return s;
  registered_ = true;
  id_ = id;
  bound_nic_ = nic;
  return {};
}

void UdpEndpoint::unregister() {
  if (registered_) stack_.unregister_endpoint(kProtocolNumber, id_, bound_nic_, this);
  registered_ = false;
  if (port_reserved_) stack_.ports().release(kProtocolNumber, reserved_addr_, id_.local_port);
  port_reserved_ = false;
}

void UdpEndpoint::close() {
  if (state_ == State::kClosed) return;
  unregister();
  queue_.clear();
  queued_bytes_ = 0;
  state_ = State::kClosed;
  waiters_.notify(kEventHup | kEventIn | kEventOut);
}

Status UdpEndpoint::bind(const FullAddress& addr) {
  if (state_ == State::kClosed) return Errc::kInvalidEndpointState;
  if (state_ != State::kInitial) return Errc::kAlreadyBound;
  if (!addr.addr.is_any() && !addr.addr.is_broadcast() && !stack_.is_local_address(addr.nic, addr.addr))
    return Errc::kBadLocalAddress;
  auto port = stack_.ports().reserve(kProtocolNumber, addr.addr, addr.port);
  if (!port) return port.error();
  TransportEndpointId id{*port, addr.addr, 0, Ipv4Address{}};
  if (Status s = register_as(id, addr.nic); !s) {
    stack_.ports().release(kProtocolNumber, addr.addr, *port);
    return s;
  }
  port_reserved_ = true;
  reserved_addr_ = addr.addr;
  state_ = State::kBound;
  return {};
}

Status UdpEndpoint::connect(const FullAddress& addr) {
  if (state_ == State::kClosed) return Errc::kInvalidEndpointState;
  if (addr.port == 0) return Errc::kInvalidEndpointState;
  auto route = stack_.find_route(addr.nic != kAnyNic ? addr.nic : bound_nic_, id_.local_addr, addr.addr);
  if (!route) return route.error();
  if (state_ == State::kInitial) {
    if (Status s = bind(FullAddress{addr.nic, Ipv4Address{}, 0}); !s) return s;
  }
  // Linux keeps a socket bound to the unspecified address in the demuxer under its route's
  // source once connected, so replies from the peer match the 4-tuple.
  TransportEndpointId id{id_.local_port, id_.local_addr.is_any() ? route->local : id_.local_addr,
                         addr.port, addr.addr};
  if (Status s = register_as(id, route->nic); !s) return s;
  state_ = State::kConnected;
  pending_error_.reset();
  return {};
}

Status UdpEndpoint::shutdown(std::uint8_t flags) {
  if (state_ != State::kConnected) return Errc::kNotConnected;
  if (flags & kShutdownRead) shut_read_ = true;
  if (flags & kShutdownWrite) shut_write_ = true;
  waiters_.notify(kEventIn | kEventOut);
  return {};
}

Expected<std::size_t> UdpEndpoint::write(ByteView data, const WriteOptions& opts) {
  if (state_ == State::kClosed) return Errc::kInvalidEndpointState;
  if (shut_write_) return Errc::kClosedForSend;
  if (pending_error_ && !opts.to) {
    const Errc e = *pending_error_;
    pending_error_.reset();
    return e;
  }
  FullAddress to;
  if (opts.to) {
    to = *opts.to;
  } else if (state_ == State::kConnected) {
    to = FullAddress{bound_nic_, id_.remote_addr, id_.remote_port};
  } else {
    return Errc::kDestinationRequired;
  }
  if (to.port == 0) return Errc::kInvalidEndpointState;
  if (to.addr.is_broadcast() && !broadcast_) return Errc::kBadAddress;
  // 65535 minus the IPv4 and UDP headers (Linux: EMSGSIZE).
  if (data.size() > 65507 || data.size() > send_buffer_) return Errc::kMessageTooLong;
  if (state_ == State::kInitial) {
    if (Status s = bind(FullAddress{to.nic, Ipv4Address{}, 0}); !s) return s.error();
  }
  auto route = stack_.find_route(to.nic != kAnyNic ? to.nic : bound_nic_, id_.local_addr, to.addr);
  if (!route) return route.error();
  PacketBuffer pkt(data);
  const auto length = static_cast<std::uint16_t>(header::UdpView::kSize + data.size());
  header::emit(header::UdpFields{id_.local_port, to.port, length}, route->local, to.addr, data,
               pkt.prepend(header::UdpView::kSize));
  if (Status s = stack_.write_packet(*route, kProtocolNumber, ttl_, std::move(pkt)); !s)
    return s.error();
  ++stack_.stats().udp_datagrams_sent;
  return data.size();
}

void UdpEndpoint::handle_packet(const PacketInfo& info, PacketBuffer pkt) {
  auto v = header::UdpView::parse(pkt.view());
  if (!v) return;  // parse_ports() already checked; kept so this function stands on its own
  ++stack_.stats().udp_datagrams_received;
  const FullAddress from{info.nic, info.src, v->src_port()};
  if (shut_read_ || queued_bytes_ + v->payload().size() > receive_buffer_) {
    ++stack_.stats().udp_receive_buffer_errors;
    ++stack_.stats().dropped_packets;
    return;
  }
  pkt.consume(header::UdpView::kSize);
  queued_bytes_ += pkt.size();
  queue_.push_back(Datagram{from, std::move(pkt)});
  waiters_.notify(kEventIn);
}

void UdpEndpoint::handle_control(ControlType type, const PacketInfo&) {
  // Linux reports ICMP errors only on connected UDP sockets (ip_icmp_error / IP_RECVERR off).
  if (state_ != State::kConnected) return;
  (void)type;  // port and protocol unreachable both mean "refused" (Linux: ECONNREFUSED)
  pending_error_ = Errc::kConnectionRefused;
  waiters_.notify(kEventErr);
}

Expected<ReadResult> UdpEndpoint::take(std::span<std::byte> out, bool consume) {
  if (state_ == State::kClosed) return Errc::kInvalidEndpointState;
  if (queue_.empty()) {
    if (pending_error_) {
      const Errc e = *pending_error_;
      if (consume) pending_error_.reset();
      return e;
    }
    if (shut_read_) return Errc::kClosedForReceive;
    return Errc::kWouldBlock;
  }
  Datagram& d = queue_.front();
  const ByteView payload = d.payload.view();
  ReadResult r{std::min(out.size(), payload.size()), payload.size(), d.from};
  if (r.bytes > 0) std::memcpy(out.data(), payload.data(), r.bytes);
  if (consume) {
    queued_bytes_ -= payload.size();
    queue_.pop_front();
  }
  return r;
}

Expected<ReadResult> UdpEndpoint::read(std::span<std::byte> out) { return take(out, true); }
Expected<ReadResult> UdpEndpoint::peek(std::span<std::byte> out) { return take(out, false); }

Expected<FullAddress> UdpEndpoint::get_local_address() const {
  if (state_ == State::kClosed) return Errc::kInvalidEndpointState;
  return FullAddress{bound_nic_, id_.local_addr, id_.local_port};
}

Expected<FullAddress> UdpEndpoint::get_remote_address() const {
  if (state_ != State::kConnected) return Errc::kNotConnected;
  return FullAddress{bound_nic_, id_.remote_addr, id_.remote_port};
}

EventMask UdpEndpoint::readiness(EventMask mask) const {
  EventMask r = 0;
  if (state_ == State::kClosed) return mask & (kEventHup | kEventIn | kEventOut);
  if (!queue_.empty() || shut_read_ || pending_error_) r |= kEventIn;
  if (!shut_write_) r |= kEventOut;
  if (pending_error_) r |= kEventErr;
  return r & mask;
}

Status UdpEndpoint::set_sock_opt(SockOpt opt, std::int64_t value) {
  if (tcp_only(opt)) return Errc::kUnknownProtocolOption;
  switch (opt) {
    case SockOpt::kReceiveBufferSize:
    case SockOpt::kSendBufferSize:
      if (value < 1 || value > (64 << 20)) return Errc::kInvalidOptionValue;
      (opt == SockOpt::kReceiveBufferSize ? receive_buffer_ : send_buffer_) =
          static_cast<std::size_t>(value);
      return {};
    case SockOpt::kTtl:
      if (value < 1 || value > 255) return Errc::kInvalidOptionValue;
      ttl_ = static_cast<std::uint8_t>(value);
      return {};
    case SockOpt::kBroadcast:
      broadcast_ = value != 0;
      return {};
    case SockOpt::kReuseAddress:
      reuse_address_ = value != 0;
      return {};
    case SockOpt::kReceiveQueueSize:
    case SockOpt::kError:
      return Errc::kInvalidOptionValue;  // read-only
    default:
      break;  // tcp_only(opt): answered before the switch
  }
  return Errc::kUnknownProtocolOption;
}

Expected<std::int64_t> UdpEndpoint::get_sock_opt(SockOpt opt) {
  if (tcp_only(opt)) return Errc::kUnknownProtocolOption;
  switch (opt) {
    case SockOpt::kReceiveBufferSize: return static_cast<std::int64_t>(receive_buffer_);
    case SockOpt::kSendBufferSize: return static_cast<std::int64_t>(send_buffer_);
    case SockOpt::kTtl: return std::int64_t{ttl_};
    case SockOpt::kBroadcast: return std::int64_t{broadcast_};
    case SockOpt::kReuseAddress: return std::int64_t{reuse_address_};
    case SockOpt::kReceiveQueueSize:
      return queue_.empty() ? std::int64_t{0} : static_cast<std::int64_t>(queue_.front().payload.size());
    case SockOpt::kError: {
      const int e = pending_error_ ? to_errno(*pending_error_) : 0;
      pending_error_.reset();
      return std::int64_t{e};
    }
    default:
      break;  // tcp_only(opt): answered before the switch
  }
  return Errc::kUnknownProtocolOption;
}

}  // namespace netstack::udp
