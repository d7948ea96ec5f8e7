#include "shim/capture_ring.h"

#include <cstring>
#include <new>

namespace shim::capture {

Ring format_ring(void* mem, std::uint64_t slots, std::uint32_t uid) noexcept {
  auto* h = new (mem) RingHeader{};
  h->magic = kRingMagic;
  h->version = kRingVersion;
  h->slot_size = kSlotSize;
  h->slots = slots;
  h->owner_uid = uid;
  Ring r{h, static_cast<std::byte*>(mem) + kHeaderBytes};
  for (std::uint64_t i = 0; i < slots; ++i) new (&r.slot(i)) Slot{}, r.slot(i).seq.store(i, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  return r;
}

Ring attach_ring(void* mem, std::size_t size) noexcept {
  if (!mem || size < kHeaderBytes) return {};
  auto* h = static_cast<RingHeader*>(mem);
  if (h->magic != kRingMagic || h->version != kRingVersion || h->slot_size != kSlotSize) return {};
  if (h->slots == 0 || (h->slots & (h->slots - 1)) != 0 || h->slots > (size - kHeaderBytes) / kSlotSize) return {};
  return Ring{h, static_cast<std::byte*>(mem) + kHeaderBytes};
}

namespace {

// The next bytes of a record's payload, gathered from its parts.
struct Gather {
  const Part* parts;
  std::size_t nparts;
  std::size_t part = 0, at = 0;
  void copy(unsigned char* out, std::size_t n) noexcept {
    while (n && part < nparts) {
      const std::size_t k = parts[part].len - at < n ? parts[part].len - at : n;
      std::memcpy(out, static_cast<const unsigned char*>(parts[part].data) + at, k);
      out += k, n -= k, at += k;
      if (at == parts[part].len) ++part, at = 0;
    }
  }
};

}  // namespace

bool append(const Ring& r, const RecordHead& head, const Part* parts, std::size_t nparts) noexcept {
  RingHeader& h = *r.header;
  const std::uint64_t need = head.len <= kMaxRecord ? slots_for(head.len) : h.slots + 1;
  std::uint64_t pos = h.head.load(std::memory_order_relaxed);
  Slot* s = nullptr;
  for (int tries = 0; need <= h.slots && tries < kMaxTries; ++tries) {
    Slot& cand = r.slot(pos);
    const std::uint64_t seq = cand.seq.load(std::memory_order_acquire);
    auto dif = static_cast<std::int64_t>(seq - pos);
    // A record over several slots needs its last free too: the consumer frees slots in order,
    // so then every slot between is free as well.
    if (dif == 0 && need > 1) {
      const std::uint64_t last = pos + need - 1;
      dif = static_cast<std::int64_t>(r.slot(last).seq.load(std::memory_order_acquire) - last);
    }
    if (dif == 0) {
      if (h.head.compare_exchange_weak(pos, pos + need, std::memory_order_relaxed)) {
        s = &cand;
        break;
      }
    } else if (dif < 0) {
      break;   // full: the consumer has not freed this slot yet
    } else {
      pos = h.head.load(std::memory_order_relaxed);   // another producer took it
    }
  }
  if (!s) {
    h.lost_records.fetch_add(1, std::memory_order_relaxed);
    h.lost_bytes.fetch_add(head.len, std::memory_order_relaxed);
    return false;
  }
  Gather g{parts, nparts};
  s->head = head;   // then the payload; seq publishes the slot last
  const std::size_t first = head.len < kSlotPayload ? head.len : kSlotPayload;
  g.copy(reinterpret_cast<unsigned char*>(s + 1), first);
  std::size_t at = first;
  for (std::uint64_t i = 1; i < need; ++i, at += kContinuedPayload) {
    Slot& c = r.slot(pos + i);
    g.copy(reinterpret_cast<unsigned char*>(continued_payload(c)),
           head.len - at < kContinuedPayload ? head.len - at : kContinuedPayload);
  }
  // The continuations first: a consumer that sees the first slot published finds them all.
  for (std::uint64_t i = 1; i < need; ++i) r.slot(pos + i).seq.store((pos + i + 1) | kContinued, std::memory_order_release);
  s->seq.store(pos + 1, std::memory_order_release);
  return true;
}

}  // namespace shim::capture
