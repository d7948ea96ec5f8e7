// The send buffer: bytes the application wrote, from SND.UNA on, kept until acknowledged so that
// any of them can be (re)sent. A fixed-capacity ring (SO_SNDBUF), so the steady state allocates
// nothing; segments are built from at most two spans.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "netstack/seqnum/seqnum.h"

namespace netstack::tcp {

// Up to two pieces, because the ring may wrap inside a segment.
struct ByteSpans {
  std::span<const std::byte> first;
  std::span<const std::byte> second;
  std::size_t size() const { return first.size() + second.size(); }
};

class SendBuffer {
 public:
  // `snd_una`: the sequence number of the first byte that will be written (ISS + 1).
  SendBuffer(std::size_t capacity, seqnum::Value snd_una);

  // Appends as much of `data` as fits; returns how much (0: the write would block).
  std::size_t write(std::span<const std::byte> data);
  // The peer acknowledged everything before `ack`; those bytes are freed. `ack` must lie within
  // [SND.UNA, SND.UNA + size()] (check_ack guarantees it; a FIN's sequence number is not data).
  // Returns the number of bytes freed.
  std::size_t acknowledge(seqnum::Value ack);
  // The bytes [seq, seq + length), clipped to what the buffer holds; `seq` in [SND.UNA, end).
  ByteSpans peek(seqnum::Value seq, std::size_t length) const;

  seqnum::Value snd_una() const { return snd_una_; }
  // The sequence number after the last byte written.
  seqnum::Value end() const { return snd_una_.add(static_cast<seqnum::Size>(size_)); }
  std::size_t size() const { return size_; }
  std::size_t capacity() const { return ring_.size(); }
  std::size_t free_space() const { return ring_.size() - size_; }
  // Bytes not yet sent, given SND.NXT.
  std::size_t unsent(seqnum::Value snd_nxt) const { return snd_nxt.size_to(end()); }
  // Like Linux's sk_stream_is_writeable: writable (EPOLLOUT) once free space is at least half of
  // what is queued, so a writer is woken for a sizeable write, not for every freed byte.
  bool writable() const { return free_space() > 0 && free_space() >= size_ / 2; }

 private:
  std::vector<std::byte> ring_;
  std::size_t head_ = 0;  // index of SND.UNA's byte
  std::size_t size_ = 0;
  seqnum::Value snd_una_;
};

}  // namespace netstack::tcp
