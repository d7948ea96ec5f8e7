// The layer contracts, in one file (cf. gVisor stack/registration.go). Header-only: lower layers
// (link/, network/, transport/) include this file and nothing else from stack/.
//
//   LinkEndpoint ──frames──▶ NetworkDispatcher (the NIC) ──▶ IPv4/ARP ──▶ TransportProtocol
//        ▲                                                                  │ (demuxer)
//        └──────────── StackServices::write_packet ◀── Endpoint (user API) ◀┘
//
// Everything runs on the embedder's thread, inside its calls into the stack (deliver a frame,
// run timers, call an Endpoint method). Nothing here blocks.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "netstack/buffer/packet_buffer.h"
#include "netstack/ports/port_manager.h"
#include "netstack/tcpip/address.h"
#include "netstack/tcpip/error.h"
#include "netstack/tcpip/stats.h"
#include "netstack/tcpip/timer_queue.h"
#include "netstack/waiter/waiter.h"

namespace netstack {

// ---- link layer ------------------------------------------------------------------------------

// What a link endpoint's frames start with: an Ethernet header (ARP resolves next hops), or
// the IPv4 header itself (TUN without packet info, loopback).
enum class LinkMedium : std::uint8_t { kEthernet, kRawIp };

class LinkEndpoint;

// Receives inbound frames from a link endpoint (implemented by the NIC and by wrappers).
class NetworkDispatcher {
 public:
  virtual ~NetworkDispatcher() = default;
  // frame holds the complete frame, link header included.
  virtual void deliver_frame(PacketBuffer frame) = 0;
  // The link this dispatcher is attached to is being destroyed: it must not be used again (a
  // write is then refused with kClosedForSend).
  virtual void link_destroyed(LinkEndpoint& link) = 0;
};

// A link and the dispatcher attached to it may be destroyed in either order: a link tells its
// dispatcher when it dies first (so a link built after the stack, e.g. on the stack's timers,
// may die first), and a dispatcher that dies first detaches.
class LinkEndpoint {
 public:
  virtual ~LinkEndpoint() {
    if (dispatcher_ != nullptr) dispatcher_->link_destroyed(*this);
  }
  // Largest network-layer packet (IP header included) the link carries.
  virtual std::uint32_t mtu() const = 0;
  virtual LinkMedium medium() const = 0;
  virtual LinkAddress link_address() const { return {}; }
  // Inbound frames go to d from now on; nullptr detaches.
  void attach(NetworkDispatcher* d) { dispatcher_ = d; }
  // Sends one complete frame (link header included). Errors: kNoBufferSpace when a queue is
  // full, kClosedForSend when the device is gone.
  virtual Status write_frame(PacketBuffer frame) = 0;

 protected:
  NetworkDispatcher* dispatcher() const { return dispatcher_; }

 private:
  NetworkDispatcher* dispatcher_ = nullptr;
};

// ---- what the network layer tells the transport layer --------------------------------------

struct PacketInfo {
  NicId nic = kAnyNic;
  Ipv4Address src, dst;  // from the IPv4 header
  std::uint8_t protocol = 0;
  std::uint8_t ttl = 0;
  bool broadcast = false;  // dst was a broadcast address: never answer with an ICMP error
};

// A resolved path for sending (gVisor stack.Route).
struct Route {
  NicId nic = kAnyNic;
  Ipv4Address local;     // source address to put in the IPv4 header
  Ipv4Address remote;    // final destination
  Ipv4Address next_hop;  // the gateway, or remote itself when on-link
  std::uint32_t mtu = 0;
};

// The 4-tuple a transport endpoint is registered under; remote fields are zero until connect.
struct TransportEndpointId {
  std::uint16_t local_port = 0;
  Ipv4Address local_addr;
  std::uint16_t remote_port = 0;
  Ipv4Address remote_addr;
  friend constexpr bool operator==(const TransportEndpointId&, const TransportEndpointId&) = default;
};

enum class ControlType : std::uint8_t { kPortUnreachable, kProtocolUnreachable };

// A registered receiver in the demuxer (the protocol side of an Endpoint).
class TransportEndpoint {
 public:
  virtual ~TransportEndpoint() = default;
  // pkt starts at the transport header, which the protocol's parse_ports() already validated.
  virtual void handle_packet(const PacketInfo& info, PacketBuffer pkt) = 0;
  // An ICMP error about a packet this endpoint sent.
  virtual void handle_control(ControlType type, const PacketInfo& info) = 0;
};

// ---- the user API (gVisor tcpip.Endpoint) ---------------------------------------------------

enum ShutdownFlags : std::uint8_t { kShutdownRead = 1, kShutdownWrite = 2 };

enum class SockOpt : std::uint8_t {
  kReceiveBufferSize,  // bytes of queued payload before datagrams are dropped
  kSendBufferSize,
  kReceiveQueueSize,   // get only: bytes of the next datagram (FIONREAD)
  kReuseAddress,       // accepted and remembered; binding still refuses duplicates
  kTtl,                // 1..255
  kBroadcast,          // allow sending to broadcast addresses
  kError,              // get only: returns and clears the pending error (SO_ERROR), as errno
  // TCP only (others answer kUnknownProtocolOption):
  kNoDelay,            // TCP_NODELAY: 0 or 1
  kKeepAlive,          // SO_KEEPALIVE: 0 or 1
  kKeepIdle,           // TCP_KEEPIDLE, seconds
  kKeepInterval,       // TCP_KEEPINTVL, seconds
  kKeepCount,          // TCP_KEEPCNT
  kMaxSegment,         // get: Eff.snd.MSS once connected (TCP_MAXSEG)
  kState,              // get only: the RFC 9293 state as tcp::State's value (TCP_INFO's state)
};

// The TCP-only options are the enum's tail, so a new one added at the end stays TCP-only.
constexpr bool tcp_only(SockOpt opt) { return opt >= SockOpt::kNoDelay; }

struct ReadResult {
  std::size_t bytes = 0;       // copied into the caller's buffer
  std::size_t available = 0;   // size of the datagram; > bytes means it was truncated
  FullAddress from;
};

struct WriteOptions {
  std::optional<FullAddress> to;  // unset: the connected peer
};

class Endpoint {
 public:
  virtual ~Endpoint() = default;
  // Releases the port and leaves the demuxer; later calls fail with kInvalidEndpointState.
  virtual void close() = 0;
  // Never blocks: kWouldBlock when nothing is queued.
  virtual Expected<ReadResult> read(std::span<std::byte> out) = 0;
  virtual Expected<ReadResult> peek(std::span<std::byte> out) = 0;
  virtual Expected<std::size_t> write(ByteView data, const WriteOptions& opts) = 0;
  virtual Status connect(const FullAddress& addr) = 0;
  virtual Status shutdown(std::uint8_t flags) = 0;
  virtual Status listen(int backlog) = 0;
  virtual Expected<std::unique_ptr<Endpoint>> accept() = 0;
  virtual Status bind(const FullAddress& addr) = 0;
  virtual Expected<FullAddress> get_local_address() const = 0;
  virtual Expected<FullAddress> get_remote_address() const = 0;
  // The subset of mask that holds now (kEventIn: readable, kEventOut: writable, kEventErr).
  virtual EventMask readiness(EventMask mask) const = 0;
  virtual Status set_sock_opt(SockOpt opt, std::int64_t value) = 0;
  virtual Expected<std::int64_t> get_sock_opt(SockOpt opt) = 0;
  // Notified whenever readiness may have changed.
  virtual WaiterQueue& waiter_queue() = 0;
};

// ---- what a transport protocol may ask of the stack ----------------------------------------

class StackServices {
 public:
  virtual ~StackServices() = default;
  // nic may be kAnyNic and local may be any(): the route picks them.
  virtual Expected<Route> find_route(NicId nic, Ipv4Address local, Ipv4Address remote) = 0;
  // Adds the IPv4 header (fragmenting to the route's MTU) and sends; pkt starts at the
  // transport header. Errors: kNoRoute, kMessageTooLong, kNoBufferSpace.
  virtual Status write_packet(const Route& route, std::uint8_t protocol, std::uint8_t ttl,
                              PacketBuffer pkt) = 0;
  // True when addr is assigned to nic (or to any NIC when nic is kAnyNic).
  virtual bool is_local_address(NicId nic, Ipv4Address addr) const = 0;
  virtual PortManager& ports() = 0;
  // Errors: kPortInUse when the same id is already registered on that NIC.
  virtual Status register_endpoint(std::uint8_t protocol, const TransportEndpointId& id,
                                   NicId nic, TransportEndpoint* ep) = 0;
  virtual void unregister_endpoint(std::uint8_t protocol, const TransportEndpointId& id,
                                   NicId nic, TransportEndpoint* ep) = 0;
  virtual Stats& stats() = 0;
  virtual TimerQueue& timers() = 0;
};

// How a protocol disposes of a packet no endpoint wanted.
enum class UnknownDestinationResult : std::uint8_t { kHandled, kPortUnreachable };

// A transport protocol plugged into the stack (gVisor stack.TransportProtocol). UDP registers
// here; TCP (part 2) registers the same way.
class TransportProtocol {
 public:
  virtual ~TransportProtocol() = default;
  virtual std::uint8_t number() const = 0;
  virtual Expected<std::unique_ptr<Endpoint>> new_endpoint(StackServices& stack) = 0;
  // Validates the transport header of a received packet (lengths, checksum against info's
  // addresses) and returns (source port, destination port). On failure the protocol counts the
  // packet in its stats and the stack drops it.
  struct Ports {
    std::uint16_t src = 0, dst = 0;
  };
  virtual std::optional<Ports> parse_ports(StackServices& stack, const PacketInfo& info,
                                           ByteView transport) = 0;
  // No endpoint matched (gVisor HandleUnknownDestinationPacket): UDP asks for ICMP port
  // unreachable; TCP will answer with RST itself and return kHandled.
  virtual UnknownDestinationResult handle_unknown_destination(StackServices& stack,
                                                              const PacketInfo& info,
                                                              ByteView transport) = 0;
};

}  // namespace netstack
