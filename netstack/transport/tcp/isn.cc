#include "netstack/transport/tcp/isn.h"

#include <bit>

namespace netstack::tcp {
namespace {

std::uint64_t load_le64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

struct SipState {
  std::uint64_t v0, v1, v2, v3;
  void round() {
    v0 += v1; v1 = std::rotl(v1, 13); v1 ^= v0; v0 = std::rotl(v0, 32);
    v2 += v3; v3 = std::rotl(v3, 16); v3 ^= v2;
    v0 += v3; v3 = std::rotl(v3, 21); v3 ^= v0;
    v2 += v1; v1 = std::rotl(v1, 17); v1 ^= v2; v2 = std::rotl(v2, 32);
  }
  void compress(std::uint64_t m) {
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
};

}  // namespace

std::uint64_t siphash24(const SipKey& key, std::span<const std::uint8_t> data) {
  const std::uint64_t k0 = load_le64(key.data());
  const std::uint64_t k1 = load_le64(key.data() + 8);
  SipState s{k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL, k0 ^ 0x6c7967656e657261ULL,
             k1 ^ 0x7465646279746573ULL};
  const std::size_t whole = data.size() / 8 * 8;
  for (std::size_t i = 0; i < whole; i += 8) s.compress(load_le64(data.data() + i));
  // The last block: the remaining bytes, and the length's low byte on top.
  std::uint64_t last = static_cast<std::uint64_t>(data.size() & 0xff) << 56;
  for (std::size_t i = whole; i < data.size(); ++i) {
    last |= static_cast<std::uint64_t>(data[i]) << (8 * (i - whole));
  }
  s.compress(last);
  s.v2 ^= 0xff;
  for (int i = 0; i < 4; ++i) s.round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

seqnum::Value IsnGenerator::generate(const FourTuple& t, Instant now) const {
  std::array<std::uint8_t, 12> msg{};
  for (int i = 0; i < 4; ++i) {
    msg[i] = t.local_addr[i];
    msg[4 + i] = t.remote_addr[i];
  }
  msg[8] = static_cast<std::uint8_t>(t.local_port >> 8);
  msg[9] = static_cast<std::uint8_t>(t.local_port);
  msg[10] = static_cast<std::uint8_t>(t.remote_port >> 8);
  msg[11] = static_cast<std::uint8_t>(t.remote_port);
  const auto f = static_cast<std::uint32_t>(siphash24(key_, msg));
  // M: RFC 6528 §3 (after RFC 793) ticks every 4 microseconds; it wraps every ~4.77 hours.
  const auto ticks = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch());
  const auto m = static_cast<std::uint32_t>(ticks.count() / 4);
  return seqnum::Value(m + f);
}

}  // namespace netstack::tcp
