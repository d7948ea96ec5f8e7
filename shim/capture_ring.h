// The capture ring: shared memory that every process of a `sockshim run --pcap` run appends
// capture records to and that the run's own process drains into the pcap file (docs/capture.md).
//
// A bounded multi-producer queue of fixed-size slots (Dmitry Vyukov's bounded MPMC queue, with
// one consumer): each slot has a sequence word; a producer claims slot `pos` with a CAS on
// `head` once the slot's sequence says the consumer freed it, copies its record in and publishes
// it by storing pos + 1 into the sequence. No locks, no allocation, no waiting: a producer that
// finds the ring full (or loses the CAS race kMaxTries times) counts the record as lost and the
// program goes on. Processes of one run append at once without damaging each other's records:
// a slot belongs to the one producer whose CAS won it. Works across fork (nothing is held) and
// in signal handlers (a handler that interrupts an append claims a slot of its own).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace shim::capture {

inline constexpr std::uint64_t kRingMagic = 0x676e697270637373ull;   // "sscpring", little-endian
inline constexpr std::uint32_t kRingVersion = 2;   // 2: records name their socket (sock, skip)
inline constexpr std::size_t kSlotSize = 4096;
inline constexpr std::size_t kDefaultSlots = 4096;   // 16 MiB of shared memory
inline constexpr int kMaxTries = 64;                  // CAS attempts before a record counts as lost

// What a record says happened on a socket. kData carries bytes (dir says which way); the others
// are the connection's events, from which the writer builds the synthetic handshake and teardown.
enum class Kind : std::uint8_t {
  kData = 1,
  kConnect = 2,   // the socket (local) connected to peer: the writer emits the handshake
  kAccept = 3,    // the socket (local) was accepted from peer: the handshake too
  kFin = 4,       // dir kOut: the program shut down its side; kIn: it read end of file
  kRst = 5,       // dir kOut: a `reset` rule reset the connection; kIn: the peer reset it
  kClose = 6,     // dir kOut: a number of the socket went away (close, close_range, dup2 over
                  // it): a FIN once the kernel's last reference to the socket is gone (kFlagLast)
};
// RecordHead::flags of a kClose: this process is sure the close dropped the socket's last
// reference (it made the socket, held no other number of it and has not forked since), so the
// writer writes the FIN at once. Without it the writer asks the kernel (sock_diag) whether some
// process still holds the socket, and writes the FIN when none does.
inline constexpr std::uint8_t kFlagLast = 1;
enum class Dir : std::uint8_t { kOut = 0, kIn = 1 };

// One record: which socket, its addresses as the program's socket has them, and what moved.
// Addresses are 16 bytes in network order: IPv4 ones as IPv4-mapped IPv6 (::ffff:a.b.c.d), which
// the writer turns back into IPv4 headers.
// A TCP record carries no stream offset: the writer counts each socket's bytes itself, in the
// order the records reach the ring, so that every descriptor number and every process that
// writes one socket (dup, fork) continues the same count (docs/capture.md, "Streams").
struct RecordHead {
  std::int64_t t_ns;                // CLOCK_REALTIME when the call returned
  std::uint64_t sock;               // the socket's identity: its SO_COOKIE, the same in every process
  std::uint32_t len;                // payload bytes that follow the head
  // TCP: bytes this number lost in its direction before this record (the ring was full): the
  // writer leaves them as a gap in the sequence numbers instead of numbering later bytes wrong.
  std::uint32_t skip;
  Kind kind;
  Dir dir;
  std::uint8_t protocol;            // 6 TCP, 17 UDP
  std::uint8_t flags;               // kFlagLast
  std::uint16_t local_port, peer_port;
  std::uint8_t local[16], peer[16];
};
// A slot: the queue's sequence word (not a TCP sequence number), the head, then the payload.
struct Slot {
  std::atomic<std::uint64_t> seq;
  RecordHead head;
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
inline constexpr std::size_t kSlotPayload = kSlotSize - sizeof(Slot);
static_assert(sizeof(RecordHead) == 64 && kSlotPayload == 4024, "docs/capture.md states the payload per slot");
// A record longer than kSlotPayload (a large datagram) goes on in the slots after its first:
// each a sequence word and kContinuedPayload bytes. A continuation is published with kContinued
// in its sequence word, so that it is never taken for a record of its own.
inline constexpr std::size_t kContinuedPayload = kSlotSize - sizeof(std::atomic<std::uint64_t>);
inline constexpr std::uint64_t kContinued = std::uint64_t{1} << 63;
inline constexpr std::size_t kMaxRecord = 65535;   // a UDP datagram's payload is less
// The slots a record of len payload bytes takes.
constexpr std::uint64_t slots_for(std::size_t len) {
  return len <= kSlotPayload ? 1 : 1 + (len - kSlotPayload + kContinuedPayload - 1) / kContinuedPayload;
}
inline std::byte* continued_payload(Slot& s) {
  return reinterpret_cast<std::byte*>(&s) + sizeof(std::atomic<std::uint64_t>);
}

struct RingHeader {
  std::uint64_t magic;
  std::uint32_t version;
  std::uint32_t slot_size;
  std::uint64_t slots;                       // a power of two
  std::uint32_t owner_uid;
  std::uint32_t pad0;
  alignas(64) std::atomic<std::uint64_t> head;   // next slot a producer claims
  alignas(64) std::atomic<std::uint64_t> tail;   // next slot the consumer reads
  alignas(64) std::atomic<std::uint64_t> lost_records;
  std::atomic<std::uint64_t> lost_bytes;
};
inline constexpr std::size_t kHeaderBytes = 4096;
static_assert(sizeof(RingHeader) <= kHeaderBytes);

inline std::size_t ring_bytes(std::uint64_t slots) { return kHeaderBytes + slots * kSlotSize; }

struct Ring {
  RingHeader* header = nullptr;
  std::byte* slots = nullptr;
  explicit operator bool() const { return header != nullptr; }
  Slot& slot(std::uint64_t pos) const {
    return *reinterpret_cast<Slot*>(slots + (pos & (header->slots - 1)) * kSlotSize);
  }
};

// Writes a fresh ring into `mem` (ring_bytes(slots) bytes, zeroed). slots: a power of two.
Ring format_ring(void* mem, std::uint64_t slots, std::uint32_t uid) noexcept;
// The ring in `mem` of `size` bytes, or an empty Ring when it is not one this code can use
// (magic, version, slot size, a size that does not hold its slots).
Ring attach_ring(void* mem, std::size_t size) noexcept;

// Appends one record: head and the payload, gathered from `parts` (len bytes in all, at most
// kMaxRecord: slots_for(len) consecutive slots, claimed with one CAS). False, counted as lost,
// when the ring has not that many free slots.
struct Part {
  const void* data;
  std::size_t len;
};
bool append(const Ring& r, const RecordHead& head, const Part* parts, std::size_t nparts) noexcept;

// Hands every published record from tail on to fn(const RecordHead&, const std::byte* payload)
// and frees its slot; stops at the first slot not yet published, or after `max` records.
// final: the producers are gone; a claimed slot never published (its producer died between the
// claim and the publication) is skipped and counted as lost instead of stopping the drain.
// A record over several slots is handed over in one piece (gathered into a buffer of drain's).
// Returns the number of records handed over. One consumer only. The producers are programs: a
// record's len is checked against the continuations really published after it (else it is cut
// to its first slot: fn never reads past what was written), a continuation whose record is gone
// is freed, and one call looks at no more than `slots` slots whatever head says.
template <class Fn>
std::size_t drain(const Ring& r, Fn&& fn, bool final = false, std::size_t max = SIZE_MAX) {
  std::size_t n = 0;
  std::uint64_t tail = r.header->tail.load(std::memory_order_relaxed);
  const std::uint64_t slots = r.header->slots;
  std::vector<std::byte> whole;
  for (std::uint64_t looked = 0; n < max && looked < slots;) {
    const std::uint64_t head = r.header->head.load(std::memory_order_acquire);
    if (tail == head) break;
    Slot& s = r.slot(tail);
    const std::uint64_t seq = s.seq.load(std::memory_order_acquire);
    std::uint64_t used = 1;
    if (seq == ((tail + 1) | kContinued)) {
      // The continuation of a record that was cut or lost: nothing to hand over.
    } else if (seq != tail + 1) {
      if (!final) break;
      r.header->lost_records.fetch_add(1, std::memory_order_relaxed);
    } else {
      RecordHead h = s.head;   // a copy: the producer's len is checked, not trusted
      const std::byte* payload = reinterpret_cast<const std::byte*>(&s + 1);
      used = h.len <= kMaxRecord ? slots_for(h.len) : slots + 1;
      if (used > slots || head - tail < used) used = 1;
      for (std::uint64_t i = 1; i < used; ++i)
        if (r.slot(tail + i).seq.load(std::memory_order_acquire) != ((tail + i + 1) | kContinued)) used = 1;
      if (used == 1) {
        if (h.len > kSlotPayload) h.len = kSlotPayload;
      } else {
        whole.resize(h.len);
        std::memcpy(whole.data(), payload, kSlotPayload);
        for (std::size_t i = 1, at = kSlotPayload; at < h.len; ++i, at += kContinuedPayload)
          std::memcpy(whole.data() + at, continued_payload(r.slot(tail + i)),
                      h.len - at < kContinuedPayload ? h.len - at : kContinuedPayload);
        payload = whole.data();
      }
      fn(static_cast<const RecordHead&>(h), payload);
      ++n;
    }
    for (std::uint64_t i = 0; i < used; ++i) r.slot(tail + i).seq.store(tail + i + slots, std::memory_order_release);
    tail += used;
    looked += used;
    r.header->tail.store(tail, std::memory_order_release);
  }
  return n;
}

}  // namespace shim::capture
