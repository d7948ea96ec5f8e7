#include "netstack/transport/tcp/sack.h"

#include <algorithm>
#include <optional>

namespace netstack::tcp {

using seqnum::Size;
using seqnum::Value;

namespace {

// Whether two ranges overlap or touch, so that their union is one range.
bool mergeable(const SackBlock& a, const SackBlock& b) {
  return a.start.less_than_eq(b.end) && b.start.less_than_eq(a.end);
}

SackBlock merged(const SackBlock& a, const SackBlock& b) {
  return {seqnum::min(a.start, b.start), seqnum::max(a.end, b.end)};
}

}  // namespace

void SackReceiverBlocks::on_out_of_order(Value start, Value end) {
  if (!start.less_than(end)) return;
  SackBlock block{start, end};
  std::vector<SackBlock> rest;
  rest.reserve(blocks_.size());
  for (const SackBlock& b : blocks_) {
    if (mergeable(b, block)) {
      block = merged(b, block);
    } else {
      rest.push_back(b);
    }
  }
  blocks_.clear();
  blocks_.push_back(block);
  for (const SackBlock& b : rest) {
    if (blocks_.size() == kMaxKept) break;
    blocks_.push_back(b);
  }
}

void SackReceiverBlocks::on_rcv_nxt(Value rcv_nxt) {
  std::vector<SackBlock> kept;
  for (SackBlock b : blocks_) {
    if (b.end.less_than_eq(rcv_nxt)) continue;
    if (b.start.less_than(rcv_nxt)) b.start = rcv_nxt;
    kept.push_back(b);
  }
  blocks_ = std::move(kept);
}

std::span<const SackBlock> SackReceiverBlocks::report(std::size_t max_blocks) const {
  return std::span<const SackBlock>(blocks_).first(std::min(max_blocks, blocks_.size()));
}

SackScoreboard::SackScoreboard(Size mss, Value snd_una)
    : mss_(mss), snd_una_(snd_una), high_data_(snd_una), high_rxt_(snd_una) {}

void SackScoreboard::add(SackBlock b) {
  // Keep ascending order relative to snd_una, merging what overlaps or touches.
  std::vector<SackBlock> out;
  out.reserve(sacked_.size() + 1);
  bool placed = false;
  for (const SackBlock& s : sacked_) {
    if (mergeable(s, b)) {
      b = merged(s, b);
    } else if (s.start.less_than(b.start) || placed) {
      out.push_back(s);
    } else {
      out.push_back(b);
      placed = true;
      out.push_back(s);
    }
  }
  if (!placed) out.push_back(b);
  // Once b is placed, every later block starts beyond b's end (the list is sorted and disjoint),
  // so none can merge into it.
  sacked_ = std::move(out);
}

void SackScoreboard::on_ack(Value snd_una, std::span<const SackBlock> blocks, Value high_data) {
  if (snd_una_.less_than(snd_una)) snd_una_ = snd_una;
  high_data_ = high_data;
  high_rxt_ = seqnum::max(high_rxt_, snd_una_);
  // Drop or trim what the cumulative ACK now covers.
  std::vector<SackBlock> kept;
  for (SackBlock s : sacked_) {
    if (s.end.less_than_eq(snd_una_)) continue;
    if (s.start.less_than(snd_una_)) s.start = snd_una_;
    kept.push_back(s);
  }
  sacked_ = std::move(kept);
  for (const SackBlock& b : blocks) {
    // A valid block lies within (SND.UNA, SND.NXT] and is not empty (RFC 2018 §3, RFC 2883).
    if (!b.start.less_than(b.end)) continue;
    if (!snd_una_.less_than(b.end) || high_data_.less_than(b.end)) continue;
    if (b.start.less_than(snd_una_)) continue;  // D-SACK or stale: reports nothing new
    add(b);
  }
}

void SackScoreboard::on_retransmitted(Value seq, Size length) {
  high_rxt_ = seqnum::max(high_rxt_, seq.add(length));
}

void SackScoreboard::clear() {
  sacked_.clear();
  high_rxt_ = snd_una_;
}

Size SackScoreboard::sacked_bytes() const {
  Size total = 0;
  for (const SackBlock& s : sacked_) total += s.start.size_to(s.end);
  return total;
}

bool SackScoreboard::is_sacked(Value seq) const {
  return std::any_of(sacked_.begin(), sacked_.end(),
                     [&](const SackBlock& s) { return seq.in_range(s.start, s.end); });
}

bool SackScoreboard::is_lost(Value seq) const {
  if (is_sacked(seq)) return false;
  unsigned ranges = 0;
  Size bytes = 0;
  for (const SackBlock& s : sacked_) {
    if (seq.less_than(s.start)) {
      ++ranges;
      bytes += s.start.size_to(s.end);
    }
  }
  return ranges >= kDupThresh || bytes > (kDupThresh - 1) * mss_;
}

// Holes are the unSACKed ranges of [snd_una, high_data). IsLost is the same for every octet of a
// hole (the same blocks lie above each), so pipe is a sum over holes, not over octets.
Size SackScoreboard::pipe() const {
  Size pipe = 0;
  Value cursor = snd_una_;
  auto add_hole = [&](Value a, Value b) {
    if (!a.less_than(b)) return;
    if (!is_lost(a)) pipe += a.size_to(b);                          // RFC 6675 SetPipe (a)
    if (a.less_than(high_rxt_)) pipe += a.size_to(seqnum::min(b, high_rxt_));  // (b)
  };
  for (const SackBlock& s : sacked_) {
    add_hole(cursor, s.start);
    cursor = s.end;
  }
  add_hole(cursor, high_data_);
  return pipe;
}

NextSegment SackScoreboard::next_seg(bool may_send_new_data) const {
  if (sacked_.empty()) {
    if (may_send_new_data) return {NextSegment::Kind::kNewData, high_data_, 0};
    return {};
  }
  // Holes at or above HighRxt, each below some SACKed block, so below the highest SACKed octet
  // (rules 1 and 3).
  Value cursor = seqnum::max(snd_una_, high_rxt_);
  std::optional<NextSegment> rule3;
  for (const SackBlock& s : sacked_) {
    if (cursor.less_than(s.start)) {
      const Size len = std::min(mss_, cursor.size_to(s.start));
      const NextSegment seg{NextSegment::Kind::kRetransmit, cursor, len};
      if (is_lost(cursor)) return seg;  // rule (1)
      if (!rule3) rule3 = seg;
    }
    if (cursor.less_than(s.end)) cursor = s.end;
  }
  if (may_send_new_data) return {NextSegment::Kind::kNewData, high_data_, 0};  // rule (2)
  if (rule3) return *rule3;  // rule (3): holes scanned lie below the highest SACKed octet
  return {};
}

}  // namespace netstack::tcp
