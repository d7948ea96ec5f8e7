// Triggers: which hits of a matched rule act, and the seeded draws behind probability, jitter
// and corruption. Pure functions of their arguments, so a seed replays a run's faults exactly
// (as long as the program makes its calls in the same order).
#include "filters/table.h"

namespace filters {
namespace {

// splitmix64's finaliser (Steele, Lea, Flood 2014): every input bit flips about half the output
// bits, so consecutive hit numbers give independent-looking draws.
constexpr std::uint64_t mix(std::uint64_t z) noexcept {
  z += 0x9e3779b97f4a7c15u;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

}  // namespace

std::uint64_t random64(std::uint64_t seed, std::uint32_t rule, std::uint64_t n,
                       std::uint32_t what) noexcept {
  // Mixing after each input keeps (seed, rule, n, what) from colliding with a shifted neighbour.
  const std::uint64_t stream = (std::uint64_t{rule} << 32) | what;
  return mix(mix(mix(seed) ^ stream) ^ n);
}

double chance(std::uint64_t seed, std::uint32_t rule, std::uint64_t n) noexcept {
  // The top 53 bits, so every value is an exact double in [0, 1).
  return static_cast<double>(random64(seed, rule, n, kDrawProbability) >> 11) * 0x1.0p-53;
}

bool When::selects(const Hit& h, std::uint64_t seed, std::uint32_t rule) const noexcept {
  if (h.n <= after) return false;
  if (nth > 1 && (h.n - after) % nth != 0) return false;
  if (from_ms && h.elapsed_ms < *from_ms) return false;
  if (until_ms && h.elapsed_ms >= *until_ms) return false;
  if (after_bytes && h.socket_bytes < *after_bytes) return false;
  if (after_connected_ms &&
      (h.connected_ms < 0 || static_cast<std::uint64_t>(h.connected_ms) < *after_connected_ms))
    return false;
  if (probability >= 1.0) return true;
  return chance(seed, rule, h.draw_n != 0 ? h.draw_n : h.n) < probability;
}

}  // namespace filters
