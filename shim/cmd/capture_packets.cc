#include "shim/cmd/capture_packets.h"

#include <algorithm>
#include <cstring>

#include "netstack/header/checksum.h"
#include "netstack/header/ipv4.h"
#include "netstack/header/ipv6.h"
#include "netstack/header/tcp.h"
#include "netstack/header/udp.h"

namespace shim::cmd {

namespace h = netstack::header;
using capture::Dir;
using capture::Kind;
using Endpoint = PacketBuilder::Endpoint;

namespace {

constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
constexpr std::size_t kTcpHeader = h::TcpView::kMinSize;

bool mapped(const Endpoint& e) { return std::memcmp(e.addr.data(), kMapped, 12) == 0; }
netstack::Ipv4Address v4(const Endpoint& e) {
  return {static_cast<std::uint32_t>(e.addr[12]) << 24 | static_cast<std::uint32_t>(e.addr[13]) << 16 |
          static_cast<std::uint32_t>(e.addr[14]) << 8 | e.addr[15]};
}
netstack::Ipv6Address v6(const Endpoint& e) {
  netstack::Ipv6Address a;
  std::copy(e.addr.begin(), e.addr.end(), a.octets.begin());
  return a;
}
bool unspecified(const Endpoint& e) {
  return std::all_of(e.addr.begin(), e.addr.end(), [](std::uint8_t b) { return b == 0; }) ||
         (mapped(e) && v4(e).is_any());
}
bool loopback(const Endpoint& e) {
  return mapped(e) ? v4(e).is_loopback() : v6(e) == netstack::Ipv6Address::loopback();
}

Endpoint endpoint(const std::uint8_t addr[16], std::uint16_t port) {
  Endpoint e;
  std::memcpy(e.addr.data(), addr, 16);
  e.port = port;
  return e;
}

// FNV-1a: the initial sequence numbers (stable for a connection's addresses) and datagram keys.
std::uint64_t fnv(std::span<const std::byte> bytes, std::uint64_t h = 0xcbf29ce484222325ull) {
  for (std::byte b : bytes) h = (h ^ static_cast<std::uint8_t>(b)) * 0x100000001b3ull;
  return h;
}
std::uint32_t isn_of(const Endpoint& from, const Endpoint& to) {
  std::uint64_t x = fnv(std::as_bytes(std::span(from.addr)));
  x = fnv(std::as_bytes(std::span(to.addr)), x);
  const std::uint16_t ports[2] = {from.port, to.port};
  return static_cast<std::uint32_t>(fnv(std::as_bytes(std::span(ports)), x));
}

// The IP header for a transport packet of `length` bytes, written at the front of `out` (resized
// to hold it all); returns the transport's pseudo-header sum and the header size.
std::pair<std::uint16_t, std::size_t> ip_header(const Endpoint& src, const Endpoint& dst, std::uint8_t protocol,
                                                std::size_t length, std::uint16_t id, std::vector<std::byte>& out) {
  if (mapped(src) && mapped(dst)) {
    h::Ipv4Fields f;
    f.total_length = static_cast<std::uint16_t>(h::Ipv4View::kMinSize + length);
    f.id = id;
    f.flags_fragment = h::Ipv4View::kFlagDontFragment;
    f.protocol = protocol;
    f.src = v4(src);
    f.dst = v4(dst);
    out.resize(h::Ipv4View::kMinSize + length);
    h::emit(f, out);
    return {h::pseudo_header_checksum(protocol, f.src, f.dst, static_cast<std::uint16_t>(length)),
            h::Ipv4View::kMinSize};
  }
  h::Ipv6Fields f;
  f.payload_length = static_cast<std::uint16_t>(length);
  f.next_header = protocol;
  f.src = v6(src);
  f.dst = v6(dst);
  out.resize(h::Ipv6View::kSize + length);
  h::emit(f, out);
  return {h::pseudo_header_checksum(protocol, f.src, f.dst, static_cast<std::uint32_t>(length)), h::Ipv6View::kSize};
}

}  // namespace

void PacketBuilder::add(const capture::RecordHead& r, std::span<const std::byte> payload, std::vector<Packet>& out) {
  const Endpoint local = endpoint(r.local, r.local_port), peer = endpoint(r.peer, r.peer_port);
  const bool outbound = r.dir == Dir::kOut;
  const Endpoint& src = outbound ? local : peer;
  const Endpoint& dst = outbound ? peer : local;
  if (r.protocol == 17 && r.kind == Kind::kData) udp(r, src, dst, payload, out);
  if (r.protocol != 6) return;
  // Sockets that ended are forgotten first; a bound on programs that never close.
  if (streams_.size() >= 65536) {
    std::erase_if(streams_, [this](const auto& kv) { return kv.second.ended && !pending_.count(kv.first); });
    if (streams_.size() >= 65536) streams_.clear(), pending_.clear();
  }
  Stream& st = streams_[r.sock];
  st.last = r;
  std::uint64_t& next = st.next[outbound ? 0 : 1];
  const std::uint64_t offset = next + r.skip;   // the bytes the ring lost are a gap, not renumbered
  next = offset + payload.size();
  if (r.kind == Kind::kRst || (r.kind == Kind::kFin && outbound)) st.ended = true;
  if (r.kind == Kind::kClose) {
    // A number of the socket went away: its FIN only once no process holds the socket. The
    // kernel is asked later (probe_pending): the close may not have happened yet (the record is
    // made before the real call), and other holders' records may still be on their way.
    if (!(r.flags & capture::kFlagLast)) {
      st.held_at = r.t_ns;
      st.probe_due = st.probe_every = 0;   // a number went: worth asking soon
      if (probe_) pending_.insert(r.sock);
      return;   // without a probe: finish() decides
    }
    pending_.erase(r.sock);
    st.ended = true;
  }
  tcp(r, offset, src, dst, payload, out);
  // A connection new to the file starts the socket's count afresh: a socket can connect again
  // after a reset (connect(AF_UNSPEC)); a record of a connection already known changes nothing.
  if ((r.kind == Kind::kConnect || r.kind == Kind::kAccept) && fresh_flow_) st = Stream{};
}

void PacketBuilder::close_stream(std::uint64_t sock, Stream& st, std::int64_t t, std::vector<Packet>& out) {
  capture::RecordHead r = st.last;
  r.kind = Kind::kClose;
  r.dir = Dir::kOut;
  r.len = r.skip = 0;
  r.t_ns = t;
  pending_.erase(sock);
  st.ended = true;
  tcp(r, st.next[0], endpoint(r.local, r.local_port), endpoint(r.peer, r.peer_port), {}, out);
}

void PacketBuilder::probe_pending(std::int64_t now, bool all) {
  // A socket that stays held (a pre-fork server's children) is asked less and less often:
  // 10 ms after its close, then twice the wait each time, at most every second.
  constexpr std::int64_t kFirstNs = 10'000'000, kMostNs = 1'000'000'000;
  for (auto it = pending_.begin(); it != pending_.end();) {
    auto found = streams_.find(*it);
    if (found == streams_.end() || found->second.ended) {
      it = pending_.erase(it);
      continue;
    }
    ++it;
    Stream& st = found->second;
    if (!all && now < st.probe_due) continue;
    if (probe_(st.last) != Held::kYes) {
      st.released = true;
      continue;
    }
    st.held_at = now;
    st.probe_every = std::min(std::max(2 * st.probe_every, kFirstNs), kMostNs);
    st.probe_due = now + st.probe_every;
  }
}

void PacketBuilder::close_released(std::vector<Packet>& out) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    const std::uint64_t sock = *it++;   // close_stream erases it
    auto st = streams_.find(sock);
    if (st == streams_.end() || st->second.ended) {
      pending_.erase(sock);
    } else if (st->second.released) {
      // Between the last time it was seen held and the probe that found it released; after
      // every record of it (a holder's last bytes come before its exit).
      close_stream(sock, st->second, std::max(st->second.held_at, st->second.last.t_ns), out);
    }
  }
}

void PacketBuilder::finish(std::int64_t now, std::vector<Packet>& out) {
  if (probe_) probe_pending(now, true);
  close_released(out);
  for (auto& [sock, st] : streams_) {
    if (st.ended || st.last.protocol != 6) continue;
    capture::RecordHead probe_rec = st.last;
    if (probe_ && probe_(probe_rec) == Held::kYes) continue;   // held by a process outside the run
    close_stream(sock, st, now, out);
  }
}

std::uint32_t PacketBuilder::ack_of(const Flow& f, int d) const {
  const int o = 1 - d;
  return f.isn[o] + 1 + static_cast<std::uint32_t>(f.next[o]) + (f.fin[o] ? 1 : 0);
}

void PacketBuilder::segment(std::int64_t t, const FlowKey& k, const Flow& f, int d, std::uint8_t flags,
                            std::uint32_t seq, std::span<const std::byte> payload, std::vector<Packet>& out) {
  const Endpoint& src = d == 0 ? k.first : k.second;
  const Endpoint& dst = d == 0 ? k.second : k.first;
  Packet p;
  p.t_ns = t;
  const std::size_t length = kTcpHeader + payload.size();
  const auto [pseudo, at] = ip_header(src, dst, 6, length, ip_id_++, p.bytes);
  h::TcpFields tf;
  tf.src_port = src.port;
  tf.dst_port = dst.port;
  tf.seq_number = seq;
  tf.ack_number = (flags & h::kTcpFlagAck) ? ack_of(f, d) : 0;
  tf.flags = flags;
  tf.window = 65535;
  const std::span<std::byte> seg(p.bytes.data() + at, length);
  if (!payload.empty()) std::memcpy(seg.data() + kTcpHeader, payload.data(), payload.size());
  h::emit(tf, pseudo, payload, seg);
  out.push_back(std::move(p));
}

void PacketBuilder::handshake(std::int64_t t, const FlowKey& k, Flow& f, std::vector<Packet>& out) {
  const int c = f.client, s = 1 - c;
  if (!f.syn) segment(t, k, f, c, h::kTcpFlagSyn, f.isn[c], {}, out);
  f.syn = true;
  if (f.established) return;
  Flow synack = f;   // the SYN-ACK acknowledges the client's SYN: isn + 1
  synack.next[c] = 0;
  segment(t, k, synack, s, h::kTcpFlagSyn | h::kTcpFlagAck, f.isn[s], {}, out);
  segment(t, k, f, c, h::kTcpFlagAck, f.isn[c] + 1, {}, out);
  f.established = true;
}

void PacketBuilder::tcp(const capture::RecordHead& r, std::uint64_t offset, const Endpoint& src, const Endpoint& dst,
                        std::span<const std::byte> payload, std::vector<Packet>& out) {
  fresh_flow_ = false;
  const FlowKey k = src < dst ? FlowKey{src, dst} : FlowKey{dst, src};
  const int d = src < dst ? 0 : 1;
  auto it = flows_.find(k);
  // A new connection on the addresses of an ended one (the port was reused) starts afresh.
  if (it != flows_.end() && it->second.closed && (r.kind == Kind::kConnect || r.kind == Kind::kAccept)) {
    flows_.erase(it);
    it = flows_.end();
  }
  if (it == flows_.end()) {
    if (r.kind == Kind::kFin || r.kind == Kind::kRst || r.kind == Kind::kClose) return;   // nothing to end
    if (flows_.size() >= 65536) std::erase_if(flows_, [](const auto& kv) { return kv.second.closed; });
    fresh_flow_ = true;
    Flow f;
    f.isn[0] = isn_of(k.first, k.second);
    f.isn[1] = isn_of(k.second, k.first);
    it = flows_.emplace(k, f).first;
  }
  Flow& f = it->second;
  const std::int64_t t = r.t_ns;
  switch (r.kind) {
    case Kind::kConnect:
      if (f.client < 0) f.client = d;   // the connecting socket's side (dir out: src is local)
      handshake(t, k, f, out);
      break;
    case Kind::kAccept:
      if (f.client < 0) f.client = d;   // dir in: src is the peer, the client
      handshake(t, k, f, out);
      break;
    case Kind::kData: {
      if (!f.established) {
        if (f.client >= 0) handshake(t, k, f, out);
        f.established = true;   // else: a connection the run did not see start; no handshake
      }
      const std::uint64_t end = offset + payload.size();
      if (end <= f.next[d]) {
        duplicate_bytes_ += payload.size();
        break;
      }
      const std::uint64_t from = std::max(offset, f.next[d]);
      duplicate_bytes_ += from - offset;
      const auto data = payload.subspan(static_cast<std::size_t>(from - offset));
      f.next[d] = from;   // a gap (records lost) leaves the sequence numbers right after it
      segment(t, k, f, d, h::kTcpFlagAck | h::kTcpFlagPsh, f.isn[d] + 1 + static_cast<std::uint32_t>(from), data, out);
      f.next[d] = end;
      break;
    }
    case Kind::kFin: case Kind::kClose: {
      if (!f.established || f.fin[d] || f.closed) break;
      f.next[d] = std::max(f.next[d], offset);
      segment(t, k, f, d, h::kTcpFlagFin | h::kTcpFlagAck, f.isn[d] + 1 + static_cast<std::uint32_t>(f.next[d]), {}, out);
      f.fin[d] = true;
      const int o = 1 - d;
      segment(t, k, f, o, h::kTcpFlagAck, f.isn[o] + 1 + static_cast<std::uint32_t>(f.next[o]) + (f.fin[o] ? 1 : 0), {},
              out);
      if (f.fin[0] && f.fin[1]) f.closed = true;
      break;
    }
    case Kind::kRst:
      if ((!f.established && !f.syn) || f.closed) break;
      segment(t, k, f, d, h::kTcpFlagRst | h::kTcpFlagAck,
              f.isn[d] + 1 + static_cast<std::uint32_t>(f.next[d]) + (f.fin[d] ? 1 : 0), {}, out);
      f.closed = true;
      break;
  }
}

void PacketBuilder::udp(const capture::RecordHead& r, Endpoint src, Endpoint dst, std::span<const std::byte> payload,
                        std::vector<Packet>& out) {
  // An unbound or wildcard-bound socket sending over loopback: the kernel's source address is
  // the loopback address the datagram went to.
  if (unspecified(src) && loopback(dst)) src.addr = dst.addr;
  if (unspecified(dst) && loopback(src)) dst.addr = src.addr;
  // The IP and UDP lengths are 16 bits: more than that no UDP socket sends (EMSGSIZE), so a
  // record that says more is the program's damage, cut to fit.
  const std::size_t most = mapped(src) && mapped(dst) ? 65535 - h::Ipv4View::kMinSize - h::UdpView::kSize
                                                      : 65535 - h::UdpView::kSize;
  if (payload.size() > most) payload = payload.first(most);
  DatagramKey key{src, dst, static_cast<std::uint32_t>(payload.size()), fnv(payload)};
  long& pending = datagrams_[key];
  const bool sent = r.dir == Dir::kOut;
  // The other end recorded this datagram already: count it off instead of writing it twice.
  const bool seen = sent ? pending < 0 : pending > 0;
  pending += sent ? 1 : -1;
  if (pending == 0) datagrams_.erase(key);
  if (datagrams_.size() > 65536) datagrams_.clear();   // bounded: unmatched ones are forgotten
  if (seen) {
    duplicate_bytes_ += payload.size();
    return;
  }
  Packet p;
  p.t_ns = r.t_ns;
  const std::size_t length = h::UdpView::kSize + payload.size();
  const auto [pseudo, at] = ip_header(src, dst, 17, length, ip_id_++, p.bytes);
  h::UdpFields uf;
  uf.src_port = src.port;
  uf.dst_port = dst.port;
  uf.length = static_cast<std::uint16_t>(length);
  const std::span<std::byte> dgram(p.bytes.data() + at, length);
  if (!payload.empty()) std::memcpy(dgram.data() + h::UdpView::kSize, payload.data(), payload.size());
  h::emit(uf, pseudo, payload, dgram);
  out.push_back(std::move(p));
}

}  // namespace shim::cmd
