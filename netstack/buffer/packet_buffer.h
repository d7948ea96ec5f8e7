// A packet's bytes with room in front for headers (gVisor buffer.Prependable + View).
// Sending: reserve headroom once, then each layer prepend()s its header without moving the
// payload. Receiving: each layer consume()s its header; the payload is never copied.
#pragma once

#include <cstddef>
#include <cstring>
#include <span>
#include <vector>

namespace netstack {

// A borrowed, read-only view over bytes someone else owns.
using ByteView = std::span<const std::byte>;

class PacketBuffer {
 public:
  // Room for Ethernet + IPv4 with options + TCP with options.
  static constexpr std::size_t kDefaultHeadroom = 14 + 60 + 60;

  PacketBuffer() = default;
  // Copies payload into a new buffer with `headroom` bytes free in front.
  explicit PacketBuffer(ByteView payload, std::size_t headroom = kDefaultHeadroom)
      : storage_(headroom + payload.size()), head_(headroom) {
    if (!payload.empty()) std::memcpy(storage_.data() + head_, payload.data(), payload.size());
  }
  // A zero-filled buffer of `size` bytes with `headroom` free in front (for reading into).
  static PacketBuffer zeroed(std::size_t size, std::size_t headroom = kDefaultHeadroom) {
    PacketBuffer b;
    b.storage_.assign(headroom + size, std::byte{0});
    b.head_ = headroom;
    return b;
  }

  std::size_t size() const { return storage_.size() - head_; }
  bool empty() const { return size() == 0; }
  std::size_t headroom() const { return head_; }
  ByteView view() const { return {storage_.data() + head_, size()}; }
  std::span<std::byte> mutable_view() { return {storage_.data() + head_, size()}; }

  // Makes n bytes in front part of the packet and returns them for the caller to fill.
  // Grows (one copy) only when the headroom reserved was too small.
  std::span<std::byte> prepend(std::size_t n);
  // Drops n bytes from the front (a parsed header). Precondition: n <= size().
  void consume(std::size_t n) { head_ += n; }
  // Keeps only the first n bytes (drops link padding beyond the IP total length).
  void truncate(std::size_t n) {
    if (n < size()) storage_.resize(head_ + n);
  }
  void append(ByteView bytes);

 private:
  std::vector<std::byte> storage_;
  std::size_t head_ = 0;
};

inline std::span<std::byte> PacketBuffer::prepend(std::size_t n) {
  if (n > head_) {
    const std::size_t extra = n - head_ + kDefaultHeadroom;
    storage_.insert(storage_.begin(), extra, std::byte{0});
    head_ += extra;
  }
  head_ -= n;
  return {storage_.data() + head_, n};
}

inline void PacketBuffer::append(ByteView bytes) {
  storage_.insert(storage_.end(), bytes.begin(), bytes.end());
}

}  // namespace netstack
