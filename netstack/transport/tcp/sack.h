// Selective acknowledgment (RFC 2018) on both sides:
// - SackReceiverBlocks: which out-of-order ranges the receiver reports, most recent first.
// - SackScoreboard: the sender's view of what the peer holds, with RFC 6675's IsLost, pipe and
//   NextSeg, which decide what to retransmit during loss recovery.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "netstack/seqnum/seqnum.h"

namespace netstack::tcp {

// [start, end) in sequence space, as in the option (RFC 2018 §3: "Left Edge", "Right Edge").
struct SackBlock {
  seqnum::Value start;
  seqnum::Value end;
  friend bool operator==(const SackBlock&, const SackBlock&) = default;
};

// Option space is 40 bytes; a SACK option takes 2 + 8n, timestamps take 10 (+2 padding), so 4
// blocks fit alone and 3 beside timestamps (RFC 2018 §3).
constexpr std::size_t max_sack_blocks(bool timestamps) { return timestamps ? 3 : 4; }

class SackReceiverBlocks {
 public:
  // Blocks beyond this are forgotten, oldest first; only the first few are ever reported.
  static constexpr std::size_t kMaxKept = 16;

  // An out-of-order segment [start, end) arrived. It merges with the blocks it overlaps or
  // touches, and the result becomes the first block (RFC 2018 §4).
  void on_out_of_order(seqnum::Value start, seqnum::Value end);
  // RCV.NXT advanced: blocks it covers go, a block it cuts is trimmed (RFC 2018 §4: only data
  // not yet acknowledged is reported).
  void on_rcv_nxt(seqnum::Value rcv_nxt);
  // The blocks to put in the next ACK, most recent first.
  std::span<const SackBlock> report(std::size_t max_blocks) const;
  bool empty() const { return blocks_.empty(); }
  void clear() { blocks_.clear(); }

 private:
  std::vector<SackBlock> blocks_;  // most recent first, pairwise disjoint and non-adjacent
};

// What NextSeg() (RFC 6675 §4) says to send.
struct NextSegment {
  enum class Kind { kNothing, kRetransmit, kNewData } kind = Kind::kNothing;
  seqnum::Value seq;       // for kRetransmit
  seqnum::Size length = 0;  // for kRetransmit: at most one SMSS, within one hole
};

class SackScoreboard {
 public:
  static constexpr unsigned kDupThresh = 3;

  SackScoreboard(seqnum::Size mss, seqnum::Value snd_una);

  // A segment arrived with cumulative ACK `snd_una` and these SACK blocks; `high_data` is SND.NXT.
  // Blocks outside (snd_una, high_data] are ignored: D-SACKs (RFC 2883) and bogus ones.
  void on_ack(seqnum::Value snd_una, std::span<const SackBlock> blocks, seqnum::Value high_data);
  // Data [seq, seq + length) was retransmitted: HighRxt moves past it.
  void on_retransmitted(seqnum::Value seq, seqnum::Size length);
  // RFC 6675 §5.1 / RFC 2018 §8: after an RTO the receiver may have reneged, so forget SACKs.
  void clear();
  void set_mss(seqnum::Size mss) { mss_ = mss; }

  // RFC 6675 §4 IsLost(SeqNum): DupThresh discontiguous SACKed ranges above it, or more than
  // (DupThresh - 1) * SMSS bytes SACKed above it.
  bool is_lost(seqnum::Value seq) const;
  bool is_sacked(seqnum::Value seq) const;
  // RFC 6675 §5 (entry into loss recovery): the first unacknowledged octet is lost.
  bool should_enter_recovery() const { return is_lost(snd_una_); }
  // RFC 6675 §4 SetPipe(): octets believed to be in the network.
  seqnum::Size pipe() const;
  // RFC 6675 §4 NextSeg(); `may_send_new_data` is rule (2)'s condition (unsent data, rwnd).
  // Rule (4), the rescue retransmission, is not implemented: an RTO covers that case.
  NextSegment next_seg(bool may_send_new_data) const;

  seqnum::Value high_ack() const { return snd_una_; }
  seqnum::Value high_rxt() const { return high_rxt_; }
  seqnum::Size sacked_bytes() const;
  std::span<const SackBlock> blocks() const { return sacked_; }

 private:
  void add(SackBlock b);

  seqnum::Size mss_;
  seqnum::Value snd_una_;
  seqnum::Value high_data_;
  seqnum::Value high_rxt_;         // end of the highest retransmitted range
  std::vector<SackBlock> sacked_;  // ascending, disjoint, non-adjacent, within [snd_una, high_data)
};

}  // namespace netstack::tcp
