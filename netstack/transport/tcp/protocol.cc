#include <sys/random.h>

#include <cstring>

#include "netstack/transport/tcp/endpoint.h"
#include "netstack/transport/tcp/protocol_impl.h"

namespace netstack::tcp {
namespace {

SipKey key_from(std::uint64_t seed) {
  SipKey key{};
  if (seed == 0) {
    // getrandom(2) on a 16-byte request never returns short once the pool is ready; if it
    // fails anyway, fall back to a fixed key mixed with the address of `key` (still per-process).
    if (getrandom(key.data(), key.size(), 0) == static_cast<ssize_t>(key.size())) return key;
    seed = reinterpret_cast<std::uintptr_t>(&key) | 1;
  }
  const std::uint64_t halves[2] = {seed, seed * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL};
  std::memcpy(key.data(), halves, key.size());
  return key;
}

std::array<std::uint8_t, 4> octets(Ipv4Address a) {
  return {static_cast<std::uint8_t>(a.value >> 24), static_cast<std::uint8_t>(a.value >> 16),
          static_cast<std::uint8_t>(a.value >> 8), static_cast<std::uint8_t>(a.value)};
}

}  // namespace

std::unique_ptr<TransportProtocol> make_protocol(ProtocolOptions options) {
  return std::make_unique<TcpProtocol>(options);
}

TcpProtocol::TcpProtocol(ProtocolOptions options)
    : options_(options),
      isn_(key_from(options.isn_key)),
      challenge_acks_(options.tunables.challenge_acks_per_second) {}

TcpProtocol::~TcpProtocol() {
  // The stack is being destroyed (its TimerQueue still exists: protocols go first). Handles the
  // user still holds become inert.
  if (queue_ != nullptr && scheduled_) queue_->cancel(*scheduled_);
  for (auto& [id, c] : connections_) c->detach();
  connections_.clear();
}

Expected<std::unique_ptr<Endpoint>> TcpProtocol::new_endpoint(StackServices& stack) {
  return std::unique_ptr<Endpoint>(std::make_unique<TcpEndpoint>(create_connection(stack)));
}

std::shared_ptr<Connection> TcpProtocol::create_connection(StackServices& stack) {
  queue_ = &stack.timers();
  const std::uint64_t id = next_id_++;
  auto c = std::make_shared<Connection>(*this, stack, id);
  connections_.emplace(id, c);
  return c;
}

std::shared_ptr<Connection> TcpProtocol::find(std::uint64_t id) const {
  auto it = connections_.find(id);
  return it == connections_.end() ? nullptr : it->second;
}

seqnum::Value TcpProtocol::isn(const TransportEndpointId& id, Instant now) const {
  FourTuple t;
  t.local_addr = octets(id.local_addr);
  t.local_port = id.local_port;
  t.remote_addr = octets(id.remote_addr);
  t.remote_port = id.remote_port;
  return isn_.generate(t, now);
}

// ---- timers: TCP's own heap behind one TimerQueue entry --------------------------------------

void TcpProtocol::arm(TimerKey key, Instant deadline) {
  timers_.arm(key, deadline);
  // Only an earlier deadline moves the queue's timer; a later one (the retransmit timer pushed
  // back on every ACK) is found when the current one fires, which keeps the hot path cheap.
  if (queue_ != nullptr && (!scheduled_ || deadline < scheduled_at_)) reschedule();
}

void TcpProtocol::reschedule() {
  if (queue_ == nullptr) return;
  if (scheduled_) queue_->cancel(*scheduled_);
  scheduled_.reset();
  const auto next = timers_.next_deadline();
  if (!next) return;
  scheduled_at_ = *next;
  scheduled_ = queue_->schedule_at(*next, [this] { on_timer(); });
}

void TcpProtocol::on_timer() {
  scheduled_.reset();
  const auto expired = timers_.expire(queue_->now());
  for (const ExpiredTimer& t : expired) {
    std::shared_ptr<Connection> c = find(t.key.connection);
    if (c == nullptr) continue;
    c->on_timer(t.key.kind);
    c->flush_events();
  }
  if (!scheduled_) reschedule();
}

// ---- demultiplexing ---------------------------------------------------------------------------

std::optional<TransportProtocol::Ports> TcpProtocol::parse_ports(StackServices& stack,
                                                                 const PacketInfo& info,
                                                                 ByteView transport) {
  Stats& stats = stack.stats();
  auto v = header::TcpView::parse(transport);
  if (!v) {
    ++stats.tcp_malformed;
    ++stats.malformed_received;
    return {};
  }
  if (!v->checksum_valid(info.src, info.dst)) {
    ++stats.tcp_checksum_errors;
    ++stats.malformed_received;
    return {};
  }
  ++stats.tcp_segments_received;
  return Ports{v->src_port(), v->dst_port()};
}

UnknownDestinationResult TcpProtocol::handle_unknown_destination(StackServices& stack,
                                                                 const PacketInfo& info,
                                                                 ByteView transport) {
  auto v = header::TcpView::parse(transport);
  if (v && !info.broadcast) send_reset_reply(stack, info, *v);
  ++stack.stats().dropped_packets;
  return UnknownDestinationResult::kHandled;
}

Status emit_segment(StackServices& stack, const Route& route, const header::TcpFields& fields,
                    ByteView first, ByteView second) {
  PacketBuffer pkt = PacketBuffer::zeroed(first.size() + second.size());
  auto body = pkt.mutable_view();
  if (!first.empty()) std::memcpy(body.data(), first.data(), first.size());
  if (!second.empty()) std::memcpy(body.data() + first.size(), second.data(), second.size());
  const std::size_t hlen = header::header_size(fields);
  const ByteView payload = pkt.view();
  header::emit(fields, route.local, route.remote, payload, pkt.prepend(hlen));
  ++stack.stats().tcp_segments_sent;
  return stack.write_packet(route, kProtocolNumber, 64, std::move(pkt));
}

void send_reset_reply(StackServices& stack, const PacketInfo& info, const header::TcpView& seg) {
  if (seg.flags() & header::kTcpFlagRst) return;
  auto route = stack.find_route(kAnyNic, info.dst, info.src);
  if (!route) return;
  header::TcpFields f;
  f.src_port = seg.dst_port();
  f.dst_port = seg.src_port();
  if (seg.flags() & header::kTcpFlagAck) {
    f.seq_number = seg.ack_number();  // <SEQ=SEG.ACK><CTL=RST>
    f.flags = header::kTcpFlagRst;
  } else {
    // <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
    std::uint32_t len = static_cast<std::uint32_t>(seg.payload().size());
    if (seg.flags() & header::kTcpFlagSyn) ++len;
    if (seg.flags() & header::kTcpFlagFin) ++len;
    f.ack_number = seg.seq_number() + len;
    f.flags = header::kTcpFlagRst | header::kTcpFlagAck;
  }
  ++stack.stats().tcp_resets_sent;
  (void)emit_segment(stack, *route, f, {}, {});
}

}  // namespace netstack::tcp
