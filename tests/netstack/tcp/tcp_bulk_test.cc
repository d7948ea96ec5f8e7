// Bulk transfers between two stacks (suite 'bulk': too long for the -O0 sanitizer stage): 100 MB
// over a clean wire, and 16 MB through the chaos link (1 % loss, 1 % reordering, 0.1 %
// duplication), every byte checked against a seeded pattern.
#include "tests/netstack/tcp/tcp_net.h"

using namespace netstack;
using namespace netstack::tcp;
using namespace netstack::tcp::test;
using namespace std::chrono_literals;

namespace {

// Byte i of the stream: a seeded pattern that does not repeat with any segment-sized period.
std::byte pattern(std::uint64_t seed, std::uint64_t i) {
  std::uint64_t x = (i >> 3) * 0x9e3779b97f4a7c15ULL + seed;
  x ^= x >> 29;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 32;
  return static_cast<std::byte>(x >> ((i & 7) * 8));
}

struct Transfer {
  std::uint64_t seed;
  std::size_t total;
  std::size_t written = 0, received = 0, mismatches = 0;
  bool eof = false, shut = false;
  std::vector<std::byte> out = std::vector<std::byte>(64 * 1024);
  std::vector<std::byte> in = std::vector<std::byte>(256 * 1024);

  // One round of the applications on both ends; true once the receiver saw EOF after all bytes.
  bool step(Endpoint& sender, Endpoint& receiver) {
    for (int i = 0; i < 64 && written < total; ++i) {
      const std::size_t n = std::min(out.size(), total - written);
      for (std::size_t k = 0; k < n; ++k) out[k] = pattern(seed, written + k);
      auto w = sender.write(std::span(out.data(), n), {});
      if (!w) break;
      written += *w;
    }
    if (written == total && !shut) {
      REQUIRE(sender.shutdown(kShutdownWrite));
      shut = true;
    }
    for (int i = 0; i < 64; ++i) {
      auto r = receiver.read(in);
      if (!r) break;
      if (r->bytes == 0) {
        eof = true;
        break;
      }
      for (std::size_t k = 0; k < r->bytes; ++k)
        if (in[k] != pattern(seed, received + k)) ++mismatches;
      received += r->bytes;
    }
    return eof;
  }
};

}  // namespace

TEST_CASE("100 MB bulk transfer between two stacks arrives exact", "[tcp][bulk]") {
  TcpNet net;
  net.record = false;
  auto p = connect_pair(net);
  Transfer t{7, 100u << 20};
  REQUIRE(net.run_until([&] { return t.step(*p.client, *p.server); }, 3600s, 100'000'000));
  CHECK(t.received == t.total);
  CHECK(t.mismatches == 0u);
  CHECK(net.a.stats().tcp_retransmits == 0u);
}

TEST_CASE("16 MB through 1 % loss, 1 % reordering, 0.1 % duplication arrives exact",
          "[tcp][bulk][chaos]") {
  link::ChaosSettings chaos;
  chaos.loss = 0.01;
  chaos.reorder = 0.01;
  chaos.duplicate = 0.001;
  for (std::uint64_t seed : {1u, 2u}) {
    DYNAMIC_SECTION("seed " << seed) {
      TcpNet net(test_options(), chaos, seed);
      net.record = false;
      auto p = connect_pair(net);
      Transfer t{seed, 16u << 20};
      REQUIRE(net.run_until([&] { return t.step(*p.client, *p.server); }, 3600s, 100'000'000));
      CHECK(t.received == t.total);
      CHECK(t.mismatches == 0u);
      INFO("retransmits " << net.a.stats().tcp_retransmits << ", fast "
                          << net.a.stats().tcp_fast_retransmits << ", timeouts "
                          << net.a.stats().tcp_timeouts);
      CHECK(net.a.stats().tcp_retransmits > 0u);
      CHECK(net.chaos_a->outbound_counters().lost > 0u);
      // Data flows the other way too: b echoes a little, through the same impairments.
      Transfer back{seed + 100, 1u << 20};
      REQUIRE(net.run_until([&] { return back.step(*p.server, *p.client); }, 3600s, 100'000'000));
      CHECK(back.received == back.total);
      CHECK(back.mismatches == 0u);
    }
  }
}
