#include "netstack/buffer/packet_buffer.h"
#include "netstack/tcpip/address.h"
#include "netstack/tcpip/error.h"
#include "netstack/tcpip/timer_queue.h"

#include <set>

#include "tests/catch.h"
#include "tests/netstack/test_util.h"

using namespace netstack;

TEST_CASE("packet buffer prepends into headroom without moving the payload", "[buffer]") {
  PacketBuffer b(test::bytes_of("payload"), 16);
  const std::byte* payload_at = b.view().data();
  auto h = b.prepend(8);
  CHECK(h.size() == 8);
  CHECK(b.size() == 15);
  CHECK(b.view().data() + 8 == payload_at);
  b.consume(8);
  CHECK(b.view().data() == payload_at);
  // More than the headroom: grows once, content kept.
  b.prepend(40)[0] = std::byte{0x42};
  CHECK(b.size() == 47);
  CHECK(static_cast<int>(b.view()[0]) == 0x42);
  CHECK(static_cast<char>(b.view()[40]) == 'p');
  b.truncate(41);
  CHECK(b.size() == 41);
}

TEST_CASE("addresses parse, print and match subnets", "[tcpip][address]") {
  CHECK(Ipv4Address::parse("10.1.2.3") == Ipv4Address::from_octets(10, 1, 2, 3));
  CHECK(Ipv4Address::parse("10.1.2.3")->to_string() == "10.1.2.3");
  for (const char* bad : {"", "10.1.2", "10.1.2.256", "10.1.2.3.", "a.b.c.d", "10..2.3", "1.2.3.4x"})
    CHECK_FALSE(Ipv4Address::parse(bad));
  auto s = Subnet::parse("192.168.7.9/24");
  REQUIRE(s);
  CHECK(s->contains(*Ipv4Address::parse("192.168.7.200")));
  CHECK_FALSE(s->contains(*Ipv4Address::parse("192.168.8.1")));
  CHECK(s->directed_broadcast() == *Ipv4Address::parse("192.168.7.255"));
  CHECK(Subnet::parse("0.0.0.0/0")->contains(*Ipv4Address::parse("8.8.8.8")));
  CHECK_FALSE(Subnet::parse("10.0.0.0/33"));
  CHECK(LinkAddress{{2, 0, 0, 0, 0, 0xab}}.to_string() == "02:00:00:00:00:ab");
}

TEST_CASE("every error has a name and an errno", "[tcpip][errors]") {
  std::set<std::string> names;
  for (int i = 0; i < kErrcCount; ++i) {
    const auto e = static_cast<Errc>(i);
    CHECK(to_errno(e) > 0);
    names.insert(errc_name(e));
  }
  CHECK(names.size() == static_cast<std::size_t>(kErrcCount));
  CHECK(names.count("unknown error") == 0);
}

TEST_CASE("timer queue fires in deadline order under a fake clock", "[tcpip][timer]") {
  FakeClock clock;
  TimerQueue q(clock);
  std::vector<int> fired;
  q.schedule_after(std::chrono::seconds(2), [&] { fired.push_back(2); });
  const auto id = q.schedule_after(std::chrono::seconds(1), [&] { fired.push_back(1); });
  q.schedule_after(std::chrono::seconds(3), [&] { fired.push_back(3); });
  CHECK(q.run_due() == 0);
  q.cancel(id);
  clock.advance(std::chrono::seconds(2));
  CHECK(q.run_due() == 1);
  CHECK(fired == std::vector<int>{2});
  CHECK(q.next_deadline() == clock.now() + std::chrono::seconds(1));
  clock.advance(std::chrono::seconds(5));
  q.run_due();
  CHECK(fired == std::vector<int>{2, 3});
  CHECK(q.pending() == 0);
}
