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

bool append(const Ring& r, const RecordHead& head, const Part* parts, std::size_t nparts) noexcept {
  RingHeader& h = *r.header;
  if (head.len > kSlotPayload) {
    h.lost_records.fetch_add(1, std::memory_order_relaxed);
    h.lost_bytes.fetch_add(head.len, std::memory_order_relaxed);
    return false;
  }
  std::uint64_t pos = h.head.load(std::memory_order_relaxed);
  Slot* s = nullptr;
  for (int tries = 0; tries < kMaxTries; ++tries) {
    Slot& cand = r.slot(pos);
    const std::uint64_t seq = cand.seq.load(std::memory_order_acquire);
    const auto dif = static_cast<std::int64_t>(seq - pos);
    if (dif == 0) {
      if (h.head.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
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
  s->head = head;   // then the payload; seq publishes the slot last
  auto* out = reinterpret_cast<unsigned char*>(s + 1);
  std::size_t at = 0;
  for (std::size_t i = 0; i < nparts && at < head.len; ++i) {
    const std::size_t k = parts[i].len < head.len - at ? parts[i].len : head.len - at;
    std::memcpy(out + at, parts[i].data, k);
    at += k;
  }
  s->seq.store(pos + 1, std::memory_order_release);
  return true;
}

}  // namespace shim::capture
