#include "netstack/network/reassembly.h"

#include <cstring>

#include "netstack/header/checksum.h"

namespace netstack::network {

Reassembler::~Reassembler() {
  for (auto& [key, d] : datagrams_) timers_.cancel(d.timer);
}

void Reassembler::drop(const Key& key) {
  auto it = datagrams_.find(key);
  if (it == datagrams_.end()) return;
  timers_.cancel(it->second.timer);
  bytes_ -= it->second.bytes;
  datagrams_.erase(it);
}

// Overlapping pieces must agree byte for byte: a retransmitted or duplicated fragment is fine,
// a rewrite of data already received is an attack pattern (cf. RFC 5722 for IPv6) and drops all.
bool Reassembler::consistent(const Datagram& d, std::size_t off, ByteView data) const {
  const std::size_t end = off + data.size();
  for (const auto& [poff, piece] : d.pieces) {
    const std::size_t pend = poff + piece.size();
    if (pend <= off || poff >= end) continue;
    const std::size_t lo = std::max(off, poff), hi = std::min(end, pend);
    if (std::memcmp(data.data() + (lo - off), piece.data() + (lo - poff), hi - lo) != 0)
      return false;
  }
  if (d.total && end > *d.total) return false;
  return true;
}

std::optional<PacketBuffer> Reassembler::add(const header::Ipv4View& f) {
  ++stats_.ip_fragments_received;
  const Key key{f.src().value, f.dst().value, f.protocol(), f.id()};
  const ByteView data = f.payload();
  const std::size_t off = f.fragment_offset();
  // RFC 791: every fragment but the last carries a multiple of 8 bytes; no datagram exceeds
  // 65535 bytes including its header.
  const bool bad_size = (f.more_fragments() && (data.size() % 8 != 0 || data.empty())) ||
                        off + data.size() + f.header_length() > 0xffff;
  auto it = datagrams_.find(key);
  if (bad_size) {
    ++stats_.ip_reassembly_dropped;
    if (it != datagrams_.end()) drop(key);
    return std::nullopt;
  }
  if (it == datagrams_.end()) {
    if (datagrams_.size() >= limits_.max_datagrams) {
      ++stats_.ip_reassembly_dropped;
      return std::nullopt;
    }
    it = datagrams_.emplace(key, Datagram{}).first;
    it->second.timer = timers_.schedule_after(limits_.timeout, [this, key] {
      ++stats_.ip_reassembly_timeouts;
      datagrams_.find(key)->second.timer = 0;
      drop(key);
    });
  }
  Datagram& d = it->second;
  const bool last = !f.more_fragments();
  const bool total_conflict = last && d.total && *d.total != off + data.size();
  const bool beyond_last = last && !d.pieces.empty() &&
                           std::prev(d.pieces.end())->first + std::prev(d.pieces.end())->second.size() >
                               off + data.size();
  if (total_conflict || beyond_last || !consistent(d, off, data) ||
      bytes_ + data.size() > limits_.max_bytes) {
    ++stats_.ip_reassembly_dropped;
    drop(key);
    return std::nullopt;
  }
  if (last) d.total = off + data.size();
  if (off == 0) {
    const ByteView h = f.header_bytes();
    d.first_header.assign(h.begin(), h.end());
  }
  auto [pit, inserted] = d.pieces.try_emplace(off, data.begin(), data.end());
  if (!inserted && pit->second.size() < data.size()) {
    d.bytes -= pit->second.size();
    bytes_ -= pit->second.size();
    pit->second.assign(data.begin(), data.end());
    inserted = true;
  }
  if (inserted) {
    d.bytes += data.size();
    bytes_ += data.size();
  }
  return try_complete(key, d);
}

std::optional<PacketBuffer> Reassembler::try_complete(const Key& key, Datagram& d) {
  if (!d.total || d.first_header.empty()) return std::nullopt;
  std::size_t covered = 0;
  for (const auto& [off, piece] : d.pieces) {
    if (off > covered) return std::nullopt;  // a hole
    covered = std::max(covered, off + piece.size());
  }
  if (covered < *d.total) return std::nullopt;
  const std::size_t hlen = d.first_header.size();
  PacketBuffer out = PacketBuffer::zeroed(hlen + *d.total);
  auto bytes = out.mutable_view();
  std::memcpy(bytes.data(), d.first_header.data(), hlen);
  for (const auto& [off, piece] : d.pieces) std::memcpy(bytes.data() + hlen + off, piece.data(), piece.size());
  // The reassembled header describes the whole datagram: no MF, offset 0, new length and sum.
  header::store_be16(bytes, 2, static_cast<std::uint16_t>(hlen + *d.total));
  header::store_be16(bytes, 6, static_cast<std::uint16_t>(header::load_be16(bytes, 6) & 0x4000));
  header::store_be16(bytes, 10, 0);
  header::store_be16(bytes, 10, header::finish(header::checksum(bytes.first(hlen))));
  ++stats_.ip_reassembled;
  drop(key);
  return out;
}

}  // namespace netstack::network
