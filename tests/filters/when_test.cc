// Triggers: When::selects (after, nth, window, bytes, connected time, probability) and the seeded
// draws behind it. `times` is the caller's counter; acting() below counts it the way the shim does.
#include <algorithm>
#include <set>
#include <vector>

#include "filters/table.h"
#include "tests/catch.h"

namespace filters {
namespace {

Hit hit(std::uint64_t n) {
  Hit h;
  h.n = n;
  return h;
}

// The hit numbers in 1..last that act, counting `times` as the shim does: a hit that selects
// acts only while fewer than `times` have acted.
std::vector<std::uint64_t> acting(const When& w, std::uint64_t last, std::uint64_t seed = 0) {
  std::vector<std::uint64_t> out;
  for (std::uint64_t n = 1; n <= last; ++n) {
    if (!w.selects(hit(n), seed, 0)) continue;
    if (w.times != 0 && out.size() >= w.times) continue;
    out.push_back(n);
  }
  return out;
}

using V = std::vector<std::uint64_t>;

TEST_CASE("no trigger keys: every hit acts", "[filters][when]") {
  CHECK(acting(When{}, 4) == V{1, 2, 3, 4});
}

TEST_CASE("nth counts every nth hit from the first", "[filters][when]") {
  When w;
  w.nth = 3;
  CHECK(acting(w, 10) == V{3, 6, 9});
  w.nth = 1;
  CHECK(acting(w, 3) == V{1, 2, 3});
  w.nth = 2;
  w.times = 1;
  CHECK(acting(w, 10) == V{2});   // "nth": 2, "times": 1 fails exactly the second
}

TEST_CASE("after skips the first hits, then nth counts from after+1", "[filters][when]") {
  When w;
  w.after = 2;
  CHECK(acting(w, 5) == V{3, 4, 5});
  w.nth = 3;
  CHECK(acting(w, 12) == V{5, 8, 11});
  w.times = 2;
  CHECK(acting(w, 12) == V{5, 8});
}

TEST_CASE("the time window is [from_ms, until_ms)", "[filters][when]") {
  When w;
  w.from_ms = 100;
  w.until_ms = 200;
  Hit h;
  for (const auto& [ms, want] : std::vector<std::pair<std::uint64_t, bool>>{
           {0, false}, {99, false}, {100, true}, {199, true}, {200, false}}) {
    h.elapsed_ms = ms;
    INFO("elapsed " << ms);
    CHECK(w.selects(h, 0, 0) == want);
  }
  When open_end;
  open_end.from_ms = 5;
  h.elapsed_ms = 1'000'000;
  CHECK(open_end.selects(h, 0, 0));
}

TEST_CASE("after_bytes and after_connected_ms are per socket", "[filters][when]") {
  When bytes;
  bytes.after_bytes = 65536;
  Hit h;
  h.socket_bytes = 65535;
  CHECK_FALSE(bytes.selects(h, 0, 0));
  h.socket_bytes = 65536;
  CHECK(bytes.selects(h, 0, 0));
  CHECK(bytes.needs_socket_bytes());
  CHECK_FALSE(bytes.needs_connect_time());

  When connected;
  connected.after_connected_ms = 100;
  h.connected_ms = -1;   // never connected: never acts
  CHECK_FALSE(connected.selects(h, 0, 0));
  h.connected_ms = 99;
  CHECK_FALSE(connected.selects(h, 0, 0));
  h.connected_ms = 100;
  CHECK(connected.selects(h, 0, 0));
  CHECK(connected.needs_connect_time());
}

TEST_CASE("probability 0 never acts, 1 always", "[filters][when]") {
  When never;
  never.probability = 0.0;
  When always;
  always.probability = 1.0;
  for (std::uint64_t n = 1; n <= 1000; ++n) {
    CHECK_FALSE(never.selects(hit(n), 7, 3));
    CHECK(always.selects(hit(n), 7, 3));
  }
}

TEST_CASE("probability: the same seed gives the same hits; another seed, other hits", "[filters][when]") {
  When w;
  w.probability = 0.3;
  const V a = acting(w, 10000, 7);
  CHECK(acting(w, 10000, 7) == a);
  // 10000 draws at 0.3: far outside 2800..3200 would mean a broken mix (binomial sd ~46).
  CHECK(a.size() > 2800);
  CHECK(a.size() < 3200);
  const V b = acting(w, 10000, 8);
  CHECK(b != a);
  // Independent-looking: two seeds share about 0.3 * 0.3 of the hits, not 0.3.
  std::set<std::uint64_t> in_a(a.begin(), a.end());
  std::size_t both = 0;
  for (const auto n : b) both += in_a.count(n);
  CHECK(both > 700);
  CHECK(both < 1100);
  // Another rule of the same file draws differently.
  std::size_t same = 0;
  for (std::uint64_t n = 1; n <= 1000; ++n) same += w.selects(hit(n), 7, 0) == w.selects(hit(n), 7, 1);
  CHECK(same < 700);
}

TEST_CASE("probability is drawn last, after nth", "[filters][when]") {
  When w;
  w.nth = 2;
  w.probability = 0.5;
  const V got = acting(w, 1000, 1);
  for (const auto n : got) CHECK(n % 2 == 0);
  CHECK(got.size() > 200);
  CHECK(got.size() < 300);
}

TEST_CASE("draw_n, when given, is what the probability draws on", "[filters][when]") {
  When w;
  w.probability = 0.5;
  Hit h;
  h.n = 1;   // per-socket count restarts at 1 on every socket
  std::size_t acted = 0;
  for (std::uint64_t run_n = 1; run_n <= 1000; ++run_n) {
    h.draw_n = run_n;
    const bool got = w.selects(h, 3, 0);
    Hit same = hit(run_n);
    CHECK(got == w.selects(same, 3, 0));
    acted += got;
  }
  CHECK(acted > 400);
  CHECK(acted < 600);
}

TEST_CASE("chance is in [0, 1) and random64 streams differ", "[filters][when]") {
  double lo = 1, hi = 0;
  for (std::uint64_t n = 0; n < 10000; ++n) {
    const double c = chance(42, 1, n);
    lo = std::min(lo, c);
    hi = std::max(hi, c);
    REQUIRE(c >= 0.0);
    REQUIRE(c < 1.0);
  }
  CHECK(lo < 0.01);
  CHECK(hi > 0.99);
  CHECK(random64(1, 2, 3, kDrawJitter) == random64(1, 2, 3, kDrawJitter));
  CHECK(random64(1, 2, 3, kDrawJitter) != random64(1, 2, 3, kDrawCorrupt));
  CHECK(random64(1, 2, 3, kDrawJitter) != random64(1, 2, 4, kDrawJitter));
  CHECK(random64(1, 2, 3, kDrawJitter) != random64(1, 3, 3, kDrawJitter));
  CHECK(random64(1, 2, 3, kDrawJitter) != random64(2, 2, 3, kDrawJitter));
  // chance is the probability stream, scaled.
  CHECK(chance(9, 4, 5) ==
        static_cast<double>(random64(9, 4, 5, kDrawProbability) >> 11) * 0x1.0p-53);
}

}  // namespace
}  // namespace filters
