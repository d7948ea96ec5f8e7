// Loopback delivery, and the sniffer's pcap under a FakeClock compared byte for byte with a
// checked-in golden capture (STYLE.md: netstack goldens are sniffer pcaps under a fake clock).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>

#include "netstack/link/chaos.h"
#include "netstack/link/loopback.h"
#include "netstack/link/sniffer.h"
#include "tests/netstack/stack/two_stacks.h"
#include "tests/netstack/test_util.h"

using namespace netstack;
using namespace netstack::test;

namespace {
std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// NIC 1 on lo, holding 127.0.0.1/8 and routing it.
void loopback_nic(Stack& s, link::LoopbackEndpoint& lo) {
  REQUIRE(s.create_nic(1, lo));
  REQUIRE(s.add_address(1, *Subnet::parse("127.0.0.1/8")));
  s.add_route({*Subnet::parse("127.0.0.0/8"), {}, 1});
}
}  // namespace

TEST_CASE("loopback: a datagram to 127.0.0.1 arrives once the timers run", "[link][loopback]") {
  FakeClock clock;
  // Built before the stack, on timers of its own (the other order, on the stack's timers, is
  // the lifetime test below).
  TimerQueue link_timers(clock);
  link::LoopbackEndpoint lo(link_timers);
  Stack s(clock);
  REQUIRE(s.register_transport_protocol(std::make_unique<udp::UdpProtocol>()));
  loopback_nic(s, lo);
  auto server = std::move(s.new_endpoint(udp::kProtocolNumber).value());
  auto client = std::move(s.new_endpoint(udp::kProtocolNumber).value());
  REQUIRE(server->bind({kAnyNic, {}, 53}));
  REQUIRE(send_string(*client, "self", {kAnyNic, *Ipv4Address::parse("127.0.0.1"), 53}));
  CHECK(read_string(*server) == "<operation would block>");  // deferred, never re-entrant
  link_timers.run_due();
  CHECK(read_string(*server) == "self");
}

TEST_CASE("sniffer writes the exchange as the golden pcap, byte for byte", "[link][sniffer]") {
  const std::string path = "netstack-sniffer-test-" + std::to_string(::getpid()) + ".pcap";
  {
    TwoStacks net;
    // A sniffer between b's NIC and its channel: built before the stacks' NICs would be nicer,
    // so this test uses a third stack c on its own sniffed link facing a.
    link::ChannelEndpoint wire_c(1500, LinkMedium::kEthernet, LinkAddress{{2, 0, 0, 0, 0, 0x0c}});
    link::SnifferEndpoint sniff(wire_c, path, net.clock);
    REQUIRE(sniff.ok());
    Stack c(net.clock);
    configure(c, sniff, Ipv4Address::from_octets(10, 0, 0, 3));
    auto server = std::move(c.new_endpoint(udp::kProtocolNumber).value());
    REQUIRE(server->bind({kAnyNic, {}, 7}));
    auto client = net.udp(net.a, 4000);
    REQUIRE(send_string(*client, "sniffed", {kAnyNic, Ipv4Address::from_octets(10, 0, 0, 3), 7}));
    net.clock.advance(std::chrono::milliseconds(1));
    link::pump(net.link_a, wire_c);
    CHECK(read_string(*server) == "sniffed");
    CHECK(sniff.frames_written() == 3);  // ARP request in, ARP reply out, the datagram in
  }
  const std::string got = slurp(path);
  std::remove(path.c_str());
  const std::string golden_path = std::string(NETSTACK_TEST_DATA) + "/sniffer_udp_exchange.pcap";
  // NETSTACK_UPDATE_GOLDEN=1 rewrites the golden after an intended change (then review it
  // with tshark -r and commit it).
  if (std::getenv("NETSTACK_UPDATE_GOLDEN") != nullptr) std::ofstream(golden_path, std::ios::binary) << got;
  const std::string want = slurp(golden_path);
  REQUIRE_FALSE(want.empty());
  CHECK(to_hex(ByteView(reinterpret_cast<const std::byte*>(got.data()), got.size())) ==
        to_hex(ByteView(reinterpret_cast<const std::byte*>(want.data()), want.size())));
}

// Links and the NICs on them may die in either order. The natural embedding builds the stack
// first and its links after it, on the stack's own timers; the links then die first, and must
// tell their NIC (and a wrapper its inner link) so that nothing calls into a dead link. The
// sanitizer build of the unit suite catches any such call.
TEST_CASE("links built after the stack, on its timers, may be destroyed before it", "[link][lifetime]") {
  FakeClock clock;
  Stack s(clock);
  REQUIRE(s.register_transport_protocol(std::make_unique<udp::UdpProtocol>()));
  {
    link::LoopbackEndpoint lo(s.timers());
    loopback_nic(s, lo);
    auto server = std::move(s.new_endpoint(udp::kProtocolNumber).value());
    auto client = std::move(s.new_endpoint(udp::kProtocolNumber).value());
    REQUIRE(server->bind({kAnyNic, {}, 53}));
    REQUIRE(send_string(*client, "first", {kAnyNic, *Ipv4Address::parse("127.0.0.1"), 53}));
    s.run_due();
    CHECK(read_string(*server) == "first");
    // A datagram still in flight when the link dies: its delivery is cancelled with the link.
    REQUIRE(send_string(*client, "lost", {kAnyNic, *Ipv4Address::parse("127.0.0.1"), 53}));
  }
  s.run_due();  // nothing left to deliver, nothing dangling
  REQUIRE(s.nic(1) != nullptr);
  CHECK(s.nic(1)->link() == nullptr);
  // Sending through a NIC whose link is gone is refused, not a crash.
  auto again = std::move(s.new_endpoint(udp::kProtocolNumber).value());
  const auto sent = again->write(ByteView(reinterpret_cast<const std::byte*>("x"), 1),
                                 WriteOptions{FullAddress{kAnyNic, *Ipv4Address::parse("127.0.0.1"), 53}});
  REQUIRE_FALSE(sent);
  CHECK(sent.error() == Errc::kClosedForSend);
}

TEST_CASE("a wrapper outlives the link it wraps, and a NIC outlives the wrapper", "[link][lifetime]") {
  FakeClock clock;
  Stack s(clock);
  auto inner = std::make_unique<link::ChannelEndpoint>(1500, LinkMedium::kRawIp);
  auto chaos = std::make_unique<link::ChaosEndpoint>(*inner, s.timers(), 7, link::ChaosSettings{},
                                                     link::ChaosSettings{});
  REQUIRE(s.create_nic(1, *chaos));
  const std::uint32_t mtu = chaos->mtu();
  inner.reset();  // the wrapped link dies first: the wrapper stops sending, keeps what it knew
  CHECK(chaos->mtu() == mtu);
  // The chaos link never reports its inner link's refusals (they are just more loss); what
  // matters is that the dead link is not called.
  CHECK(chaos->write_frame(PacketBuffer{}));
  chaos.reset();  // then the wrapper: the NIC learns it is gone
  CHECK(s.nic(1)->link() == nullptr);
}
