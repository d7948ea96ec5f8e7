// Receive-side reassembly (RFC 9293 §3.10.7.4 "seventh, process the segment text"): segments may
// arrive out of order, overlap and repeat; the bytes leave in order, exactly once. Everything kept
// lies inside the receive window, so memory is bounded by the window the endpoint advertised.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <vector>

#include "netstack/seqnum/seqnum.h"
#include "netstack/transport/tcp/sack.h"

namespace netstack::tcp {

struct ReassemblyResult {
  std::size_t delivered = 0;    // in-order bytes appended to the caller's buffer
  bool fin = false;             // the FIN became in order: RCV.NXT moved past it
  // The segment (or part of it) was kept out of order: this is the held range containing it,
  // which the endpoint reports first in its SACK option (RFC 2018 §4) and ACKs at once
  // (RFC 5681 §4.2).
  std::optional<SackBlock> out_of_order;
  bool duplicate = false;       // nothing in the segment was new
};

class Reassembler {
 public:
  explicit Reassembler(seqnum::Value rcv_nxt) : rcv_nxt_(rcv_nxt) {}

  // Takes the part of [seq, seq + data.size()) inside [RCV.NXT, RCV.NXT + window) and a FIN at
  // seq + data.size() if that is at most RCV.NXT + window (a FIN after trimmed data is dropped,
  // RFC 9293 §3.10.7.4). Bytes that became in order are appended to `out`.
  ReassemblyResult insert(seqnum::Value seq, std::span<const std::byte> data, bool fin,
                          seqnum::Size window, std::vector<std::byte>& out);

  seqnum::Value rcv_nxt() const { return rcv_nxt_; }
  // Out-of-order bytes held.
  std::size_t held_bytes() const;
  std::size_t held_ranges() const { return chunks_.size(); }
  bool fin_received() const { return fin_seq_.has_value(); }

 private:
  struct Chunk {
    seqnum::Value seq;
    std::vector<std::byte> data;
    seqnum::Value end() const { return seq.add(static_cast<seqnum::Size>(data.size())); }
  };
  struct Trimmed {
    seqnum::Value seq;
    std::span<const std::byte> data;
    seqnum::Value end;  // where a FIN would sit
    bool fin;
  };
  // The part of a segment inside [RCV.NXT, right).
  Trimmed trim(seqnum::Value seq, std::span<const std::byte> data, bool fin,
               seqnum::Value right) const;
  // Merges [seq, seq + data.size()) into the chunks; returns whether any byte was new.
  bool store(seqnum::Value seq, std::span<const std::byte> data);
  std::size_t deliver(std::vector<std::byte>& out);

  seqnum::Value rcv_nxt_;
  std::vector<Chunk> chunks_;  // ascending from rcv_nxt_, disjoint, non-adjacent
  std::optional<seqnum::Value> fin_seq_;
};

}  // namespace netstack::tcp
