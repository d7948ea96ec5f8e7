// Through the chaos link: a request/response protocol with its own retries survives 10 % loss;
// each impairment does what it says, reproducibly from the seed.
#include "netstack/link/chaos.h"
#include "tests/netstack/stack/two_stacks.h"
#include "tests/netstack/test_util.h"

using namespace netstack;
using namespace netstack::test;

namespace {
struct ChaosPair {
  explicit ChaosPair(link::ChaosSettings s, std::uint64_t seed)
      : raw_a(1500, LinkMedium::kEthernet, kMacA),
        link_b(1500, LinkMedium::kEthernet, kMacB),
        chaos_timers(clock),
        chaos_a(raw_a, chaos_timers, seed, s, s),
        a(clock),
        b(clock) {
    configure(a, chaos_a, kAddrA);
    configure(b, link_b, kAddrB);
  }
  void pump() {
    chaos_timers.run_due();
    a.run_due();
    b.run_due();
    link::pump(raw_a, link_b);
  }
  // Declared in the order they are built and torn down (either order works; this one keeps the
  // chaos link's delays on a queue of its own): a link endpoint here outlives the
  // stack whose NIC sits on it (the stacks are destroyed first, then chaos_a, then raw_a).
  FakeClock clock;
  link::ChannelEndpoint raw_a, link_b;
  TimerQueue chaos_timers;      // the chaos link's own delays, serviced by pump()
  link::ChaosEndpoint chaos_a;  // a's NIC sits on chaos_a, which sits on raw_a
  Stack a, b;
};
}  // namespace

TEST_CASE("udp request/response with retries completes through 10 % loss", "[link][chaos][udp]") {
  link::ChaosSettings s;
  s.loss = 0.10;
  ChaosPair net(s, 42);
  auto server = net.b.new_endpoint(udp::kProtocolNumber).value();
  REQUIRE(server->bind(FullAddress{kAnyNic, Ipv4Address{}, 7}));
  auto client = net.a.new_endpoint(udp::kProtocolNumber).value();
  REQUIRE(client->connect(FullAddress{kAnyNic, kAddrB, 7}));

  int retries = 0;
  for (int i = 0; i < 100; ++i) {
    const std::string req = "request " + std::to_string(i);
    bool answered = false;
    for (int attempt = 0; attempt < 20 && !answered; ++attempt) {
      if (attempt > 0) ++retries;
      REQUIRE(send_string(*client, req, FullAddress{kAnyNic, kAddrB, 7}));
      net.pump();
      // Server: echo whatever arrived (duplicates from earlier attempts included).
      FullAddress from;
      for (std::string got; (got = read_string(*server, &from))[0] != '<';)
        REQUIRE(send_string(*server, got, from));
      net.pump();
      for (std::string got; (got = read_string(*client))[0] != '<';)
        if (got == req) answered = true;
      net.clock.advance(std::chrono::milliseconds(200));  // the retry timeout
    }
    REQUIRE(answered);
  }
  const auto& out = net.chaos_a.outbound_counters();
  const auto& in = net.chaos_a.inbound_counters();
  INFO("lost out " << out.lost << " in " << in.lost << ", retries " << retries);
  CHECK(out.lost + in.lost > 0);
  CHECK(retries > 0);
}

TEST_CASE("chaos: duplication, corruption and reordering are counted and seen", "[link][chaos]") {
  FakeClock clock;
  TimerQueue timers(clock);
  link::ChannelEndpoint inner(1500, LinkMedium::kRawIp);
  link::ChaosSettings s;
  s.duplicate = 1.0;
  link::ChaosEndpoint dup(inner, timers, 1, s, {});
  REQUIRE(dup.write_frame(PacketBuffer(bytes_of("abc"))));
  CHECK(inner.outbound_size() == 2);
  CHECK(dup.outbound_counters().duplicated == 1);
}

TEST_CASE("chaos: one flipped bit per corrupted frame; delay waits for the clock", "[link][chaos]") {
  FakeClock clock;
  TimerQueue timers(clock);
  link::ChannelEndpoint inner(1500, LinkMedium::kRawIp);
  link::ChaosSettings s;
  s.corrupt = 1.0;
  s.delay = std::chrono::milliseconds(50);
  link::ChaosEndpoint chaos(inner, timers, 9, s, {});
  const Bytes original(64, std::byte{0});
  REQUIRE(chaos.write_frame(PacketBuffer(original)));
  CHECK(inner.outbound_size() == 0);
  clock.advance(std::chrono::milliseconds(50));
  timers.run_due();
  auto f = inner.read_outbound();
  REQUIRE(f);
  int bits = 0;
  for (std::byte b : f->view()) bits += __builtin_popcount(static_cast<unsigned>(b));
  CHECK(bits == 1);
}

TEST_CASE("chaos: reordering swaps a held frame with the next one", "[link][chaos]") {
  FakeClock clock;
  TimerQueue timers(clock);
  link::ChannelEndpoint inner(1500, LinkMedium::kRawIp);
  link::ChaosSettings s;
  s.reorder = 1.0;
  link::ChaosEndpoint chaos(inner, timers, 5, s, {});
  REQUIRE(chaos.write_frame(PacketBuffer(bytes_of("first"))));
  REQUIRE(chaos.write_frame(PacketBuffer(bytes_of("second"))));
  REQUIRE(inner.outbound_size() == 2);
  CHECK(to_hex(inner.read_outbound()->view()) == to_hex(bytes_of("second")));
  CHECK(to_hex(inner.read_outbound()->view()) == to_hex(bytes_of("first")));
}

TEST_CASE("chaos: the same seed loses the same frames", "[link][chaos]") {
  auto run = [](std::uint64_t seed) {
    FakeClock clock;
    TimerQueue timers(clock);
    link::ChannelEndpoint inner(1500, LinkMedium::kRawIp);
    link::ChaosSettings s;
    s.loss = 0.5;
    link::ChaosEndpoint chaos(inner, timers, seed, s, {});
    std::string kept;
    for (char c = 'a'; c <= 'z'; ++c) (void)chaos.write_frame(PacketBuffer(bytes_of(std::string(1, c))));
    while (auto f = inner.read_outbound()) kept += static_cast<char>(f->view()[0]);
    return kept;
  };
  CHECK(run(3) == run(3));
  CHECK(run(3) != run(4));
}
