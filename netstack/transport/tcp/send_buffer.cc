#include "netstack/transport/tcp/send_buffer.h"

#include <algorithm>
#include <cstring>

namespace netstack::tcp {

SendBuffer::SendBuffer(std::size_t capacity, seqnum::Value snd_una)
    : ring_(capacity), snd_una_(snd_una) {}

std::size_t SendBuffer::write(std::span<const std::byte> data) {
  const std::size_t n = std::min(data.size(), free_space());
  if (n == 0) return 0;
  const std::size_t tail = (head_ + size_) % ring_.size();
  const std::size_t first = std::min(n, ring_.size() - tail);
  std::memcpy(ring_.data() + tail, data.data(), first);
  std::memcpy(ring_.data(), data.data() + first, n - first);
  size_ += n;
  return n;
}

std::size_t SendBuffer::acknowledge(seqnum::Value ack) {
  if (!snd_una_.less_than(ack)) return 0;
  const std::size_t n = std::min<std::size_t>(snd_una_.size_to(ack), size_);
  if (ring_.empty()) return 0;
  head_ = (head_ + n) % ring_.size();
  size_ -= n;
  snd_una_ = snd_una_.add(static_cast<seqnum::Size>(n));
  return n;
}

ByteSpans SendBuffer::peek(seqnum::Value seq, std::size_t length) const {
  if (!seq.in_range(snd_una_, end())) return {};
  const std::size_t offset = snd_una_.size_to(seq);
  length = std::min(length, size_ - offset);
  const std::size_t start = (head_ + offset) % ring_.size();
  const std::size_t first = std::min(length, ring_.size() - start);
  const std::span<const std::byte> ring(ring_);
  return {ring.subspan(start, first), ring.first(length - first)};
}

}  // namespace netstack::tcp
