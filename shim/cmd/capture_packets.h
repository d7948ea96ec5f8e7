// Capture records (shim/capture_ring.h) into IP packets: the synthetic TCP and UDP that
// `sockshim run --pcap` writes (docs/capture.md). Built with netstack's header views.
//
// TCP: each connection gets an initial sequence number per direction (a hash of its addresses).
// The builder counts each socket's bytes each way (records name their socket by its SO_COOKIE),
// in the order the records come, whichever descriptor number or process of the run made them:
// that count is a byte's stream offset, which gives its sequence number; the acknowledgement
// is what was written the other way. A connect or accept makes the three-way handshake; a
// shutdown or an end of file makes a FIN (acknowledged at once); a reset an RST. A close makes
// the FIN once the socket's last reference is gone: at once when the closing process was sure
// (capture::kFlagLast), else once the probe (the kernel, asked by the caller) says no process
// holds the socket any more (probe_pending, close_released), or at finish().
// When both ends of a connection are in the run, each byte is seen twice (sent by one, received
// by the other): the stream offsets say which bytes were written already, so each goes out once,
// and a short read shows as a short segment only when nobody's longer segment came first.
// UDP: one packet per datagram; a datagram recorded by its sender and its receiver (same
// addresses, same bytes) goes out once.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <span>
#include <unordered_map>
#include <vector>

#include "shim/capture_ring.h"

namespace shim::cmd {

struct Packet {
  std::int64_t t_ns = 0;
  std::vector<std::byte> bytes;   // an IPv4 or IPv6 packet (pcap LINKTYPE_RAW)
};

// Whether some process still holds a socket (a descriptor of it), asked of the kernel by the
// socket's identity and addresses in a record; kUnknown when it cannot say.
enum class Held { kYes, kNo, kUnknown };
using HeldProbe = std::function<Held(const capture::RecordHead&)>;

class PacketBuilder {
 public:
  explicit PacketBuilder(HeldProbe probe = {}) : probe_(std::move(probe)) {}
  // Appends to out the packets record r (with its payload) stands for; maybe none.
  void add(const capture::RecordHead& r, std::span<const std::byte> payload, std::vector<Packet>& out);
  std::uint64_t duplicate_bytes() const { return duplicate_bytes_; }
  // Sockets a process closed without being sure it held the last reference: probe_pending()
  // asks the kernel about each (now: CLOCK_REALTIME ns) and notes those no process holds any
  // more; close_released() writes their FINs. The caller calls it only once every record made
  // before the probe went through add(): a holder's last bytes come before it lets go.
  bool rechecks_pending() const { return !pending_.empty(); }
  // all: also the sockets whose next question is not due yet (asked less often while held).
  void probe_pending(std::int64_t now, bool all = false);
  void close_released(std::vector<Packet>& out);
  // The run is over: the FIN of every socket not ended yet that no process holds (the last
  // holder exited without closing it, or the close was not known to be the last).
  void finish(std::int64_t now, std::vector<Packet>& out);

  struct Endpoint {
    std::array<std::uint8_t, 16> addr{};
    std::uint16_t port = 0;
    friend auto operator<=>(const Endpoint&, const Endpoint&) = default;
  };

 private:
  struct Flow {
    std::uint32_t isn[2] = {0, 0};
    std::uint64_t next[2] = {0, 0};   // stream bytes written each way (from endpoint i)
    bool fin[2] = {false, false};
    bool syn = false, established = false, closed = false;
    int client = -1;
  };
  using FlowKey = std::pair<Endpoint, Endpoint>;   // first < second
  struct DatagramKey {
    Endpoint src, dst;
    std::uint32_t len = 0;
    std::uint64_t hash = 0;
    friend auto operator<=>(const DatagramKey&, const DatagramKey&) = default;
  };

  // What the builder counted of one socket: the stream offset of its next byte each way (Dir).
  struct Stream {
    std::uint64_t next[2] = {0, 0};
    capture::RecordHead last{};   // its latest record: the socket's addresses, for its FIN
    std::int64_t held_at = 0;     // pending: when the probe last found the socket held
    std::int64_t probe_due = 0, probe_every = 0;   // pending: when to ask next, the wait before
    bool released = false;        // pending: the probe found no process holding it
    bool ended = false;           // its end sent a FIN or RST: forgotten first when too many
  };
  // The FIN of a socket whose last reference went (a kClose made from its latest record), at t.
  void close_stream(std::uint64_t sock, Stream& st, std::int64_t t, std::vector<Packet>& out);

  // offset: the stream offset of the record's first byte (for an event: of what follows it).
  void tcp(const capture::RecordHead& r, std::uint64_t offset, const Endpoint& src, const Endpoint& dst,
           std::span<const std::byte> payload, std::vector<Packet>& out);
  void udp(const capture::RecordHead& r, Endpoint src, Endpoint dst, std::span<const std::byte> payload,
           std::vector<Packet>& out);
  // One segment from endpoint d of flow f (key k) to the other.
  void segment(std::int64_t t, const FlowKey& k, const Flow& f, int d, std::uint8_t flags, std::uint32_t seq,
               std::span<const std::byte> payload, std::vector<Packet>& out);
  void handshake(std::int64_t t, const FlowKey& k, Flow& f, std::vector<Packet>& out);
  std::uint32_t ack_of(const Flow& f, int d) const;   // what endpoint d acknowledges

  std::map<FlowKey, Flow> flows_;
  std::unordered_map<std::uint64_t, Stream> streams_;   // by RecordHead::sock
  std::set<std::uint64_t> pending_;                      // closed, but still held when asked
  HeldProbe probe_;
  std::map<DatagramKey, long> datagrams_;   // > 0: sends not yet seen received; < 0: the reverse
  std::uint16_t ip_id_ = 1;
  bool fresh_flow_ = false;   // tcp() made a new flow for the record it was given
  std::uint64_t duplicate_bytes_ = 0;
};

}  // namespace shim::cmd
