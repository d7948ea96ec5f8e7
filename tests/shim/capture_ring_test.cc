// shim/capture_ring.cc: the capture ring under one and many producers (threads and processes),
// full rings that lose records without blocking, and a producer that died mid-append.
#include "shim/capture_ring.h"

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <map>
#include <thread>
#include <vector>

namespace {

using namespace shim::capture;

// A ring in anonymous shared memory: forked children append to the same one.
struct SharedRing {
  explicit SharedRing(std::uint64_t slots) : size(ring_bytes(slots)) {
    mem = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE(mem != MAP_FAILED);
    ring = format_ring(mem, slots, 0);
  }
  ~SharedRing() { munmap(mem, size); }
  std::size_t size;
  void* mem;
  Ring ring;
};

// Producers whose number is 3 mod 4 make every 7th record larger than a slot (up to 5 slots).
std::size_t length_of(std::uint32_t producer, std::uint32_t index) {
  return 8 + index % 150 + (producer % 4 == 3 && index % 7 == 3 ? 5000 + (index * 131) % 12000 : 0);
}

// Record `index` of `producer`: its payload is the producer, the index and a pattern of both, so
// a torn or mixed record shows.
bool put(const Ring& r, std::uint32_t producer, std::uint32_t index) {
  RecordHead h{};
  h.kind = Kind::kData;
  h.sock = index;
  h.local_port = static_cast<std::uint16_t>(producer);
  unsigned char body[20000];
  const std::size_t len = length_of(producer, index);
  std::memcpy(body, &producer, 4);
  std::memcpy(body + 4, &index, 4);
  for (std::size_t i = 8; i < len; ++i) body[i] = static_cast<unsigned char>(producer * 31 + index + i);
  h.len = static_cast<std::uint32_t>(len);
  const Part parts[2] = {{body, 5}, {body + 5, len - 5}};   // gathered from two pieces
  return append(r, h, parts, 2);
}

bool intact(const RecordHead& h, const std::byte* payload) {
  std::uint32_t producer = 0, index = 0;
  if (h.len < 8) return false;
  std::memcpy(&producer, payload, 4);
  std::memcpy(&index, payload + 4, 4);
  if (producer != h.local_port || index != h.sock || h.len != length_of(producer, index)) return false;
  for (std::size_t i = 8; i < h.len; ++i)
    if (static_cast<unsigned char>(payload[i]) != static_cast<unsigned char>(producer * 31 + index + i)) return false;
  return true;
}

TEST_CASE("a record goes in and comes out whole", "[capture][ring]") {
  SharedRing s(16);
  REQUIRE(attach_ring(s.mem, s.size));
  REQUIRE(put(s.ring, 7, 42));
  int seen = 0;
  drain(s.ring, [&](const RecordHead& h, const std::byte* p) {
    CHECK(intact(h, p));
    CHECK(h.kind == Kind::kData);
    ++seen;
  });
  CHECK(seen == 1);
  CHECK(drain(s.ring, [](const RecordHead&, const std::byte*) {}) == 0);
}

TEST_CASE("attach refuses what is not a ring of this version", "[capture][ring]") {
  SharedRing s(16);
  CHECK_FALSE(attach_ring(s.mem, kHeaderBytes + 8 * kSlotSize));   // too small for 16 slots
  static_cast<RingHeader*>(s.mem)->version = kRingVersion + 1;
  CHECK_FALSE(attach_ring(s.mem, s.size));
  static_cast<RingHeader*>(s.mem)->version = kRingVersion;
  static_cast<RingHeader*>(s.mem)->magic = 1;
  CHECK_FALSE(attach_ring(s.mem, s.size));
}

TEST_CASE("a full ring loses records, counts them, and never blocks", "[capture][ring]") {
  SharedRing s(16);
  int ok = 0;
  const auto start = std::chrono::steady_clock::now();
  for (std::uint32_t i = 0; i < 20; ++i) ok += put(s.ring, 1, i);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(1));
  CHECK(ok == 16);
  CHECK(s.ring.header->lost_records.load() == 4);
  CHECK(s.ring.header->lost_bytes.load() == (8 + 16) + (8 + 17) + (8 + 18) + (8 + 19));
  std::vector<std::uint64_t> order;
  drain(s.ring, [&](const RecordHead& h, const std::byte*) { order.push_back(h.sock); });
  REQUIRE(order.size() == 16);
  for (std::uint64_t i = 0; i < 16; ++i) CHECK(order[i] == i);
  CHECK(put(s.ring, 1, 99));   // room again
}

TEST_CASE("a record larger than a slot spans several, also across the ring's end", "[capture][ring]") {
  SharedRing s(16);
  for (std::uint32_t i = 0; i < 14; ++i) REQUIRE(put(s.ring, 1, i));   // the next record starts at slot 14
  CHECK(drain(s.ring, [](const RecordHead&, const std::byte*) {}) == 14);
  REQUIRE(put(s.ring, 7, 24));   // 3 slots: 14, 15, 0
  REQUIRE(put(s.ring, 7, 11));
  CHECK(s.ring.header->head.load() == 14 + 3 + 1);
  std::vector<std::size_t> lens;
  drain(s.ring, [&](const RecordHead& h, const std::byte* p) {
    CHECK(intact(h, p));
    lens.push_back(h.len);
  });
  CHECK(lens == std::vector<std::size_t>{length_of(7, 24), length_of(7, 11)});
  CHECK(slots_for(kSlotPayload) == 1);
  CHECK(slots_for(kSlotPayload + 1) == 2);
  CHECK(slots_for(kMaxRecord) == 17);
}

TEST_CASE("a large record needs all its slots free; one larger than the ring or kMaxRecord is lost",
          "[capture][ring]") {
  SharedRing s(16);
  for (std::uint32_t i = 0; i < 14; ++i) REQUIRE(put(s.ring, 1, i));
  CHECK_FALSE(put(s.ring, 7, 24));   // 3 slots, 2 free
  CHECK(s.ring.header->lost_records.load() == 1);
  RecordHead h{};
  h.len = kMaxRecord + 1;
  CHECK_FALSE(append(s.ring, h, nullptr, 0));
  drain(s.ring, [](const RecordHead&, const std::byte*) {});
  h.len = kMaxRecord;   // 17 slots: more than this ring has
  std::vector<unsigned char> big(kMaxRecord);
  const Part part{big.data(), big.size()};
  CHECK_FALSE(append(s.ring, h, &part, 1));
  CHECK(s.ring.header->lost_records.load() == 3);
  SharedRing t(32);
  REQUIRE(append(t.ring, h, &part, 1));
  std::size_t got = 0;
  drain(t.ring, [&](const RecordHead& r, const std::byte*) { got = r.len; });
  CHECK(got == kMaxRecord);
}

TEST_CASE("threads and processes append at once; every record arrives whole, once, in each producer's order",
          "[capture][ring]") {
  SharedRing s(256);   // small: producers outrun the consumer and some records are lost
  constexpr std::uint32_t kThreads = 3, kProcs = 2, kEach = 20000;
  std::vector<pid_t> kids;
  for (std::uint32_t p = 0; p < kProcs; ++p) {
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      for (std::uint32_t i = 0; i < kEach; ++i) put(s.ring, 100 + p, i);
      _exit(0);
    }
    kids.push_back(pid);
  }
  std::vector<std::thread> threads;
  for (std::uint32_t t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (std::uint32_t i = 0; i < kEach; ++i) put(s.ring, t * 3, i);   // thread 1: large ones too
    });
  std::map<std::uint32_t, std::int64_t> last;
  std::uint64_t received = 0, torn = 0, out_of_order = 0;
  auto take = [&](const RecordHead& h, const std::byte* p) {
    ++received;
    if (!intact(h, p)) {
      ++torn;
      return;
    }
    auto [it, fresh] = last.emplace(h.local_port, -1);
    if (static_cast<std::int64_t>(h.sock) <= it->second) ++out_of_order;
    it->second = static_cast<std::int64_t>(h.sock);
  };
  bool done = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!done && std::chrono::steady_clock::now() < deadline) {
    drain(s.ring, take);
    done = true;
    for (pid_t k : kids) {
      int st = 0;
      if (k > 0 && waitpid(k, &st, WNOHANG) == 0) done = false;
    }
    if (done) {
      for (auto& t : threads) t.join();
      threads.clear();
    }
  }
  REQUIRE(done);
  drain(s.ring, take, true);
  CHECK(torn == 0);
  CHECK(out_of_order == 0);
  CHECK(received + s.ring.header->lost_records.load() == std::uint64_t{kThreads + kProcs} * kEach);
  CHECK(received > 0);
}

TEST_CASE("a slot claimed and never published holds the drain until the final one skips it", "[capture][ring]") {
  SharedRing s(16);
  REQUIRE(put(s.ring, 1, 0));
  s.ring.header->head.fetch_add(1);   // a producer that died between its claim and its publication
  REQUIRE(put(s.ring, 1, 2));
  std::vector<std::uint64_t> seen;
  auto take = [&](const RecordHead& h, const std::byte*) { seen.push_back(h.sock); };
  drain(s.ring, take);
  CHECK(seen == std::vector<std::uint64_t>{0});
  drain(s.ring, take, true);
  CHECK(seen == std::vector<std::uint64_t>{0, 2});
  CHECK(s.ring.header->lost_records.load() == 1);
}

}  // namespace

namespace {

TEST_CASE("a damaged record or head cannot make the consumer read past a slot or loop on", "[capture][ring]") {
  SharedRing s(16);
  REQUIRE(put(s.ring, 1, 0));
  s.ring.slot(0).head.len = 1u << 30;   // a program wrote garbage into its slot
  std::uint32_t len = 0;
  drain(s.ring, [&](const RecordHead& h, const std::byte*) { len = h.len; });
  CHECK(len == kSlotPayload);
  s.ring.header->head.store(s.ring.header->tail.load() + (1ull << 40));   // and into the head
  const std::size_t n = drain(s.ring, [](const RecordHead&, const std::byte*) {}, true);
  CHECK(n == 0);
  CHECK(s.ring.header->lost_records.load() == 16);   // one pass over the slots, each counted
}

}  // namespace
