// ARP over channel links: request, reply, cache, expiry with the fake clock, give-up.
#include "netstack/header/arp.h"
#include "netstack/header/ethernet.h"
#include "tests/netstack/stack/two_stacks.h"
#include "tests/netstack/test_util.h"

using namespace netstack;
using namespace netstack::test;

namespace {
// Reads a's next outbound frame and returns its ARP view's opcode and target (0 if not ARP).
std::uint16_t arp_op(const PacketBuffer& f) {
  auto eth = header::EthernetView::parse(f.view());
  if (!eth || eth->ether_type() != header::kEtherTypeArp) return 0;
  auto arp = header::ArpView::parse(eth->payload());
  return arp ? arp->op() : 0;
}
}  // namespace

TEST_CASE("arp: request is broadcast, reply is unicast, both caches learn", "[network][arp]") {
  TwoStacks net;
  auto client = net.udp(net.a, 0);
  auto server = net.udp(net.b, 7);
  REQUIRE(send_string(*client, "x", FullAddress{kAnyNic, kAddrB, 7}));
  auto req = net.link_a.read_outbound();
  REQUIRE(req);
  CHECK(arp_op(*req) == header::kArpRequest);
  CHECK(header::EthernetView::parse(req->view())->dst().is_broadcast());
  CHECK(net.link_a.outbound_size() == 0);  // the datagram waits for the answer
  net.link_b.inject(std::move(*req));
  auto rep = net.link_b.read_outbound();
  REQUIRE(rep);
  CHECK(arp_op(*rep) == header::kArpReply);
  CHECK(header::EthernetView::parse(rep->view())->dst() == kMacA);
  CHECK(net.b.nic(1)->arp()->lookup(kAddrA) == std::optional<LinkAddress>(kMacA));
  net.link_a.inject(std::move(*rep));
  CHECK(net.a.nic(1)->arp()->lookup(kAddrB) == std::optional<LinkAddress>(kMacB));
  // The queued datagram left as soon as the reply came.
  REQUIRE(net.link_a.outbound_size() == 1);
  net.pump();
  CHECK(read_string(*server) == "x");
}

TEST_CASE("arp: entries expire, and the next send asks again", "[network][arp]") {
  TwoStacks net;
  auto client = net.udp(net.a, 0);
  auto server = net.udp(net.b, 7);
  REQUIRE(send_string(*client, "1", FullAddress{kAnyNic, kAddrB, 7}));
  net.pump();
  CHECK(net.a.stats().arp_requests_sent == 1);
  net.clock.advance(std::chrono::seconds(30));
  REQUIRE(send_string(*client, "2", FullAddress{kAnyNic, kAddrB, 7}));
  net.pump();
  CHECK(net.a.stats().arp_requests_sent == 1);  // still cached
  net.clock.advance(std::chrono::seconds(31));   // past the 60 s lifetime
  CHECK_FALSE(net.a.nic(1)->arp()->lookup(kAddrB));
  REQUIRE(send_string(*client, "3", FullAddress{kAnyNic, kAddrB, 7}));
  net.pump();
  CHECK(net.a.stats().arp_requests_sent == 2);
  CHECK(read_string(*server) == "1");
  CHECK(read_string(*server) == "2");
  CHECK(read_string(*server) == "3");
}

TEST_CASE("arp: an unanswered request is retried, then the packets are dropped", "[network][arp]") {
  TwoStacks net;
  auto client = net.udp(net.a, 0);
  const auto nobody = Ipv4Address::from_octets(10, 0, 0, 99);
  REQUIRE(send_string(*client, "x", FullAddress{kAnyNic, nobody, 7}));
  for (int i = 0; i < 5; ++i) {
    net.clock.advance(std::chrono::seconds(1));
    net.a.run_due();
  }
  CHECK(net.a.stats().arp_requests_sent == 3);
  CHECK(net.a.stats().dropped_packets == 1);
  CHECK(net.a.nic(1)->arp()->pending_addresses() == 0);
  std::size_t frames = 0;
  while (auto f = net.link_a.read_outbound()) {
    CHECK(arp_op(*f) == header::kArpRequest);
    ++frames;
  }
  CHECK(frames == 3);
}

TEST_CASE("arp: requests for someone else are not answered; garbage is counted", "[network][arp]") {
  TwoStacks net;
  Bytes req = golden("arp_request");  // who-has 10.0.0.2 tell 10.0.0.1
  req[14 + 27] = std::byte{77};       // ... make it who-has 10.0.0.77
  net.link_b.inject(req);
  CHECK(net.link_b.outbound_size() == 0);
  CHECK(net.b.stats().arp_requests_received == 1);
  CHECK_FALSE(net.b.nic(1)->arp()->lookup(kAddrA));  // not for us: not learned
  Bytes cut = golden("arp_request");
  cut.resize(30);
  net.link_b.inject(cut);
  CHECK(net.b.stats().arp_malformed == 1);
  net.link_b.inject(golden("arp_request"));  // the golden request is for b
  auto rep = net.link_b.read_outbound();
  REQUIRE(rep);
  CHECK(arp_op(*rep) == header::kArpReply);
}
