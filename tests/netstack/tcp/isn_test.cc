#include "netstack/transport/tcp/isn.h"

#include <array>
#include <set>

#include "tests/catch.h"

using namespace std::chrono_literals;
using netstack::seqnum::Value;
using namespace netstack::tcp;

namespace {

SipKey sequential_key() {
  SipKey k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(i);
  return k;
}

}  // namespace

TEST_CASE("SipHash-2-4 matches the reference test vectors", "[tcp][isn]") {
  // From the SipHash paper (Appendix A) and its reference vectors.h: key 00..0f, message 00..n-1.
  const SipKey key = sequential_key();
  std::array<std::uint8_t, 64> msg{};
  for (std::size_t i = 0; i < msg.size(); ++i) msg[i] = static_cast<std::uint8_t>(i);
  CHECK(siphash24(key, std::span(msg).first(0)) == 0x726fdb47dd0e0e31ULL);
  CHECK(siphash24(key, std::span(msg).first(1)) == 0x74f839c593dc67fdULL);
  CHECK(siphash24(key, std::span(msg).first(8)) == 0x93f5f5799a932462ULL);
  CHECK(siphash24(key, std::span(msg).first(15)) == 0xa129ca6149be45e5ULL);
}

TEST_CASE("ISNs differ per 4-tuple and advance with the clock (RFC 6528)", "[tcp][isn]") {
  FakeClock clock;
  const IsnGenerator gen(sequential_key());
  FourTuple t{{10, 0, 0, 1}, 40000, {10, 0, 0, 2}, 80};
  const Value a = gen.generate(t, clock.now());
  CHECK(gen.generate(t, clock.now()) == a);  // deterministic for a key, tuple and time
  // The same tuple later: M advanced by 1 per 4 us.
  clock.advance(4ms);
  CHECK(a.size_to(gen.generate(t, clock.now())) == 1000u);
  // Other tuples give unrelated values.
  std::set<std::uint32_t> seen;
  for (std::uint16_t port = 40000; port < 40100; ++port) {
    t.local_port = port;
    seen.insert(gen.generate(t, clock.now()).raw());
  }
  CHECK(seen.size() == 100u);
  // Another key, another sequence.
  SipKey other = sequential_key();
  other[0] ^= 1;
  CHECK(IsnGenerator(other).generate(t, clock.now()) != gen.generate(t, clock.now()));
}

TEST_CASE("ISN clock wraps modulo 2^32", "[tcp][isn][wrap]") {
  const IsnGenerator gen(sequential_key());
  const FourTuple t{{127, 0, 0, 1}, 1, {127, 0, 0, 1}, 2};
  FakeClock clock;
  const Value a = gen.generate(t, clock.now());
  clock.advance(std::chrono::microseconds(4ULL << 32));  // one full turn of M (~4.77 hours)
  CHECK(gen.generate(t, clock.now()) == a);
}
