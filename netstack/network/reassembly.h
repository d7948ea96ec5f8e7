// IPv4 fragment reassembly (RFC 791 3.2, RFC 815 style): fragments of one datagram are keyed by
// (source, destination, protocol, identification). Bounded in memory and time: a datagram that
// stays incomplete for `timeout` is dropped (RFC 1122 3.3.2 suggests 60-120 s; Linux uses 30 s),
// and fragments beyond the byte or datagram limits are dropped rather than evicting others.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <tuple>
#include <vector>

#include "netstack/header/ipv4.h"
#include "netstack/stack/interfaces.h"

namespace netstack::network {

struct ReassemblyLimits {
  std::size_t max_bytes = 4u << 20;      // payload bytes held across all datagrams
  std::size_t max_datagrams = 64;        // incomplete datagrams at once
  Duration timeout = std::chrono::seconds(30);
};

class Reassembler {
 public:
  Reassembler(TimerQueue& timers, Stats& stats, ReassemblyLimits limits)
      : timers_(timers), stats_(stats), limits_(limits) {}
  ~Reassembler();
  Reassembler(const Reassembler&) = delete;
  Reassembler& operator=(const Reassembler&) = delete;

  // Takes one fragment (a parsed, checksum-valid packet). Returns the whole datagram, header
  // first (the first fragment's header with MF and offset cleared), once every byte arrived.
  std::optional<PacketBuffer> add(const header::Ipv4View& fragment);
  std::size_t in_flight() const { return datagrams_.size(); }
  std::size_t bytes_held() const { return bytes_; }

 private:
  using Key = std::tuple<std::uint32_t, std::uint32_t, std::uint8_t, std::uint16_t>;
  struct Datagram {
    std::map<std::size_t, std::vector<std::byte>> pieces;  // by offset
    std::vector<std::byte> first_header;                   // from the fragment at offset 0
    std::optional<std::size_t> total;                      // known once the last fragment came
    std::size_t bytes = 0;
    TimerQueue::TimerId timer = 0;
  };
  bool consistent(const Datagram& d, std::size_t off, ByteView data) const;
  std::optional<PacketBuffer> try_complete(const Key& key, Datagram& d);
  void drop(const Key& key);

  TimerQueue& timers_;
  Stats& stats_;
  ReassemblyLimits limits_;
  std::map<Key, Datagram> datagrams_;
  std::size_t bytes_ = 0;
};

}  // namespace netstack::network
