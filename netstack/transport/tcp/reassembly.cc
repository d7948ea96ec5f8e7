#include "netstack/transport/tcp/reassembly.h"

#include <algorithm>
#include <cstring>

namespace netstack::tcp {

using seqnum::Size;
using seqnum::Value;

std::size_t Reassembler::held_bytes() const {
  std::size_t total = 0;
  for (const Chunk& c : chunks_) total += c.data.size();
  return total;
}

Reassembler::Trimmed Reassembler::trim(Value seq, std::span<const std::byte> data, bool fin,
                                       Value right) const {
  Trimmed t{seq, data, seq.add(static_cast<Size>(data.size())), fin};
  // The part before RCV.NXT is old.
  if (t.seq.less_than(rcv_nxt_)) {
    const Size old = t.seq.size_to(rcv_nxt_);
    t.data = old >= t.data.size() ? std::span<const std::byte>() : t.data.subspan(old);
    t.seq = rcv_nxt_;
    // A FIN before RCV.NXT was already taken (or is bogus): never move it forward.
    if (t.end.less_than(t.seq)) {
      t.end = t.seq;
      t.fin = false;
    }
  }
  // The part beyond the right edge was never offered; a FIN behind it goes too.
  if (right.less_than(t.end)) {
    const Size keep = t.seq.less_than(right) ? t.seq.size_to(right) : 0;
    t.data = t.data.first(std::min<std::size_t>(keep, t.data.size()));
    t.fin = false;
  }
  return t;
}

ReassemblyResult Reassembler::insert(Value seq, std::span<const std::byte> data, bool fin,
                                     Size window, std::vector<std::byte>& out) {
  ReassemblyResult result;
  const Value right = rcv_nxt_.add(window);
  const Trimmed t = trim(seq, data, fin, right);
  bool news = !t.data.empty() && store(t.seq, t.data);
  // A FIN conflicting with one already seen, or with data held beyond it, is ignored. A FIN
  // needs no buffer space, so one right at the window's edge is taken (a bare FIN into a zero
  // window too, as Linux's tcp_data_queue does).
  const bool fin_fits = t.end.in_range(rcv_nxt_, right) || t.end == right;
  if (t.fin && fin_fits && !fin_seq_) {
    const bool data_beyond = !chunks_.empty() && t.end.less_than(chunks_.back().end());
    if (!data_beyond) {
      fin_seq_ = t.end;
      news = true;
    }
  }
  result.duplicate = !news;
  result.delivered = deliver(out);
  if (fin_seq_ && *fin_seq_ == rcv_nxt_) {
    rcv_nxt_.update_forward(1);
    result.fin = true;
  }
  if (!t.data.empty()) {
    for (const Chunk& c : chunks_) {
      if (t.seq.in_range(c.seq, c.end())) result.out_of_order = SackBlock{c.seq, c.end()};
    }
  }
  return result;
}

bool Reassembler::store(Value seq, std::span<const std::byte> data) {
  // Data past a known FIN is inconsistent; keep only what precedes it.
  if (fin_seq_) {
    if (!seq.less_than(*fin_seq_)) return false;
    data = data.first(std::min<std::size_t>(data.size(), seq.size_to(*fin_seq_)));
  }
  const Value end = seq.add(static_cast<Size>(data.size()));
  Value lo = seq;
  Value hi = end;
  auto first = chunks_.end();
  auto last = chunks_.end();
  std::size_t covered = 0;  // bytes of [seq, end) that are already held
  for (auto it = chunks_.begin(); it != chunks_.end(); ++it) {
    // Overlapping or touching chunks merge into one.
    if (!(it->seq.less_than_eq(end) && seq.less_than_eq(it->end()))) continue;
    if (first == chunks_.end()) first = it;
    last = it + 1;
    lo = seqnum::min(lo, it->seq);
    hi = seqnum::max(hi, it->end());
    const Value a = seqnum::max(seq, it->seq);
    const Value b = seqnum::min(end, it->end());
    if (a.less_than(b)) covered += a.size_to(b);
  }
  if (covered == data.size()) return false;
  Chunk merged{lo, std::vector<std::byte>(lo.size_to(hi))};
  std::memcpy(merged.data.data() + lo.size_to(seq), data.data(), data.size());
  // Bytes already held win over the new copy; a correct peer sends the same bytes anyway.
  for (auto it = first; it != last; ++it) {
    std::memcpy(merged.data.data() + lo.size_to(it->seq), it->data.data(), it->data.size());
  }
  if (first == chunks_.end()) {
    // No neighbour: insert in order relative to rcv_nxt_.
    const auto pos = std::find_if(chunks_.begin(), chunks_.end(), [&](const Chunk& c) {
      return seq.less_than(c.seq);
    });
    chunks_.insert(pos, std::move(merged));
  } else {
    const auto pos = chunks_.erase(first, last);
    chunks_.insert(pos, std::move(merged));
  }
  return true;
}

std::size_t Reassembler::deliver(std::vector<std::byte>& out) {
  if (chunks_.empty() || chunks_.front().seq != rcv_nxt_) return 0;
  const std::vector<std::byte>& data = chunks_.front().data;
  out.insert(out.end(), data.begin(), data.end());
  const std::size_t n = data.size();
  rcv_nxt_.update_forward(static_cast<Size>(n));
  chunks_.erase(chunks_.begin());
  return n;
}

}  // namespace netstack::tcp
