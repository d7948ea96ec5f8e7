// The receive path on one stack over a raw-IP channel (as on TUN): reassembly out of order,
// limits and timeouts, malformed packets counted and dropped, ICMP echo and unreachable.
#include "netstack/header/icmpv4.h"
#include "netstack/header/ipv4.h"
#include "netstack/header/udp.h"
#include "netstack/network/ipv4.h"
#include "tests/netstack/stack/two_stacks.h"
#include "tests/netstack/test_util.h"

#include <algorithm>

using namespace netstack;
using namespace netstack::test;

namespace {
const Ipv4Address kStack = Ipv4Address::from_octets(10, 9, 0, 2);  // the goldens' peer side
const Ipv4Address kKernel = Ipv4Address::from_octets(10, 9, 0, 1);

struct OneStack {
  OneStack() : link(1500, LinkMedium::kRawIp), s(clock) {
    configure(s, link, kStack);
  }
  FakeClock clock;
  link::ChannelEndpoint link;
  Stack s;
};

// The kernel's golden echo request and UDP datagram are addressed to 10.9.0.1; turn them
// around so they target the stack at 10.9.0.2 (addresses swapped, sums unchanged).
Bytes swap_addresses(Bytes p) {
  std::swap_ranges(p.begin() + 12, p.begin() + 16, p.begin() + 16);
  return p;
}

// Fragments of a UDP datagram of `size` bytes from kKernel:4000 to kStack:7, MTU 576.
std::vector<Bytes> fragments(std::size_t size, std::uint16_t id_seed = 1) {
  Bytes payload(size);
  for (std::size_t i = 0; i < size; ++i) payload[i] = static_cast<std::byte>(i * 7);
  PacketBuffer udp(payload);
  header::emit(header::UdpFields{4000, 7, static_cast<std::uint16_t>(size + 8)}, kKernel, kStack,
               payload, udp.prepend(8));
  FakeClock clock;
  TimerQueue timers(clock);
  Stats stats;
  network::Ipv4 ip(timers, stats, {});
  for (std::uint16_t i = 1; i < id_seed; ++i) (void)ip.build({}, PacketBuffer(), 1500);
  auto pkts = ip.build({kKernel, kStack, 17, 64, 0}, std::move(udp), 576);
  REQUIRE(pkts);
  std::vector<Bytes> out;
  for (auto& p : *pkts) out.push_back(copy(p.view()));
  return out;
}
}  // namespace

TEST_CASE("fragments arriving out of order are reassembled", "[network][ipv4][reassembly]") {
  OneStack n;
  auto ep = n.s.new_endpoint(udp::kProtocolNumber).value();
  REQUIRE(ep->bind(FullAddress{kAnyNic, Ipv4Address{}, 7}));
  auto frags = fragments(2000);
  REQUIRE(frags.size() == 4);
  for (int i : {2, 0, 3, 1, 0}) n.link.inject(frags[static_cast<std::size_t>(i)]);  // one duplicate too
  CHECK(n.s.stats().ip_reassembled == 1);
  CHECK(n.s.stats().ip_reassembly_dropped == 0);
  std::vector<std::byte> buf(3000);
  auto r = ep->read(buf);
  REQUIRE(r);
  REQUIRE(r->bytes == 2000);
  for (std::size_t i = 0; i < 2000; ++i) REQUIRE(buf[i] == static_cast<std::byte>(i * 7));
  CHECK(r->from == FullAddress{1, kKernel, 4000});
}

TEST_CASE("incomplete datagrams time out; limits drop rather than grow", "[network][ipv4][reassembly]") {
  OneStack n;
  auto frags = fragments(2000);
  n.link.inject(frags[0]);
  n.link.inject(frags[3]);
  CHECK(n.s.stats().ip_reassembled == 0);
  n.clock.advance(std::chrono::seconds(31));
  n.s.run_due();
  CHECK(n.s.stats().ip_reassembly_timeouts == 1);
  // A late fragment starts a new (again incomplete) datagram rather than completing the old one.
  n.link.inject(frags[1]);
  n.link.inject(frags[2]);
  CHECK(n.s.stats().ip_reassembled == 0);

  // 64 incomplete datagrams at most (the default); the 65th first fragment is dropped.
  OneStack m;
  for (std::uint16_t id = 1; id <= 65; ++id) m.link.inject(fragments(1000, id)[0]);
  CHECK(m.s.stats().ip_reassembly_dropped == 1);
}

TEST_CASE("overlapping fragments that disagree drop the datagram", "[network][ipv4][reassembly]") {
  OneStack n;
  auto frags = fragments(2000);
  Bytes evil = frags[1];
  evil[30] ^= std::byte{0xff};  // same offset, different data
  // Keep the header checksum valid so that reassembly, not IP validation, sees it.
  n.link.inject(frags[1]);
  n.link.inject(evil);
  CHECK(n.s.stats().ip_reassembly_dropped == 1);
  for (auto& f : frags) n.link.inject(f);
  CHECK(n.s.stats().ip_reassembled == 1);  // the honest copy still goes through afterwards
}

TEST_CASE("echo request from the kernel is answered with the kernel's own reply bytes", "[network][icmp]") {
  OneStack n;
  n.s.add_route(RouteEntry{*Subnet::parse("0.0.0.0/0"), Ipv4Address{}, 1});
  // Golden request 10.9.0.2 -> 10.9.0.1; we stand in for 10.9.0.1 by swapping.
  Bytes req = swap_addresses(golden("kernel_icmp_echo_request"));
  n.link.inject(req);
  auto out = n.link.read_outbound();
  REQUIRE(out);
  auto ip = header::Ipv4View::parse(out->view());
  REQUIRE(ip);
  CHECK(ip->checksum_valid());
  CHECK(ip->src() == kStack);
  CHECK(ip->dst() == kKernel);
  const Bytes kernel_reply = golden("kernel_icmp_echo_reply");
  CHECK(to_hex(ip->payload()) == to_hex(header::Ipv4View::parse(kernel_reply)->payload()));
  CHECK(n.s.stats().icmp_echo_replies_sent == 1);
}

TEST_CASE("udp to a closed port is answered with port unreachable", "[network][icmp][udp]") {
  OneStack n;
  Bytes pkt = golden("kernel_udp_hello");  // 10.9.0.1 -> 10.9.0.2:9999, nobody bound
  n.link.inject(pkt);
  auto out = n.link.read_outbound();
  REQUIRE(out);
  auto ip = header::Ipv4View::parse(out->view());
  REQUIRE(ip);
  auto icmp = header::Icmpv4View::parse(ip->payload());
  REQUIRE(icmp);
  CHECK(icmp->type() == header::kIcmpDestUnreachable);
  CHECK(icmp->code() == header::kIcmpPortUnreachable);
  CHECK(icmp->checksum_valid());
  CHECK(to_hex(icmp->payload()) == to_hex(std::span(pkt).first(28)));  // IP header + 8 bytes
}

TEST_CASE("every truncation and corruption is counted as malformed, never delivered", "[network][malformed]") {
  for (const char* name : {"kernel_udp_hello", "kernel_icmp_echo_request", "kernel_tcp_syn"}) {
    OneStack n;
    auto ep = n.s.new_endpoint(udp::kProtocolNumber).value();
    REQUIRE(ep->bind(FullAddress{kAnyNic, Ipv4Address{}, 9999}));
    const Bytes whole = golden(name);
    std::uint64_t sent = 0;
    for (std::size_t len = 1; len < whole.size(); ++len) {
      n.link.inject(Bytes(whole.begin(), whole.begin() + static_cast<long>(len)));
      ++sent;
    }
    // A flipped bit anywhere in the IP or transport header is caught by a checksum or a check.
    for (std::size_t bit = 0; bit < 8 * 28; ++bit) {
      Bytes bad = whole;
      bad[bit / 8] ^= static_cast<std::byte>(1u << (bit % 8));
      n.link.inject(bad);
    }
    INFO(name);
    CHECK(n.s.stats().malformed_received + n.s.stats().unknown_protocol_received +
              n.s.stats().ip_invalid_destination + n.s.stats().dropped_packets >= sent);
    CHECK(n.s.stats().udp_datagrams_received == 0);
    CHECK(ep->readiness(kEventIn) == 0);
  }
}

TEST_CASE("ethernet frames that are short or of unknown type are counted", "[network][malformed]") {
  TwoStacks net;
  net.link_b.inject(hex("ff ff ff ff ff ff 02 00 00 00 00 0a 08"));
  CHECK(net.b.stats().link_malformed == 1);
  net.link_b.inject(hex("ff ff ff ff ff ff 02 00 00 00 00 0a 86 dd 60 00"));  // IPv6
  CHECK(net.b.stats().unknown_protocol_received == 1);
}
