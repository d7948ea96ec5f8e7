#include "netstack/header/ipv6.h"

#include "netstack/header/checksum.h"
#include "netstack/header/ipv4.h"   // kProtocolUdp: IPv6's next header numbers are IPv4's protocols
#include "netstack/header/udp.h"
#include "tests/catch.h"
#include "tests/netstack/test_util.h"

using namespace netstack;
using namespace netstack::header;
using netstack::test::Bytes;
using netstack::test::hex;

namespace {
// A UDP datagram [::1]:1234 → [::1]:5678 carrying "hello", traffic class 0x2e, flow label
// 0x12345, hop limit 64; the UDP checksum (0xa100) was computed apart from this code, by the
// RFC 8200 section 8.1 pseudo-header sum.
const Bytes kUdpHello = hex(
    "62e12345000d1140"
    "00000000000000000000000000000001"
    "00000000000000000000000000000001"
    "04d2162e000da100"
    "68656c6c6f");
}  // namespace

TEST_CASE("ipv6 view decodes the fixed header", "[header][ipv6]") {
  auto ip = Ipv6View::parse(kUdpHello);
  REQUIRE(ip);
  CHECK(ip->version() == 6);
  CHECK(ip->traffic_class() == 0x2e);
  CHECK(ip->flow_label() == 0x12345);
  CHECK(ip->payload_length() == 13);
  CHECK(ip->next_header() == kProtocolUdp);
  CHECK(ip->hop_limit() == 64);
  CHECK(ip->src() == Ipv6Address::loopback());
  CHECK(ip->dst() == *Ipv6Address::parse("::1"));
  CHECK(ip->payload().size() == 13);
  auto udp = UdpView::parse(ip->payload());
  REQUIRE(udp);
  CHECK(udp->src_port() == 1234);
  CHECK(udp->dst_port() == 5678);
}

TEST_CASE("ipv6 emit reproduces the header; the pseudo-header sum checks the UDP checksum", "[header][ipv6]") {
  Ipv6Fields f;
  f.traffic_class = 0x2e;
  f.flow_label = 0x12345;
  f.payload_length = 13;
  f.next_header = kProtocolUdp;
  f.src = f.dst = Ipv6Address::loopback();
  Bytes out(Ipv6View::kSize);
  emit(f, out);
  CHECK(test::to_hex(out) == test::to_hex(std::span(kUdpHello).first(Ipv6View::kSize)));
  // The pseudo-header of ::1 → ::1, 13 bytes of UDP: 1 + 1 + 13 + 17.
  const std::uint16_t pseudo = pseudo_header_checksum(kProtocolUdp, f.src, f.dst, 13);
  CHECK(pseudo == 0x0020);
  // A received datagram checks out when the sum over pseudo-header and datagram is all ones.
  auto ip = Ipv6View::parse(kUdpHello);
  REQUIRE(ip);
  CHECK(checksum(ip->payload(), pseudo) == 0xffff);
  Bytes flipped = kUdpHello;
  flipped[Ipv6View::kSize + 9] ^= std::byte{0x04};   // a payload bit
  CHECK(checksum(Ipv6View::parse(flipped)->payload(), pseudo) != 0xffff);
}

TEST_CASE("ipv6 view refuses truncations and other versions; padding is not payload", "[header][ipv6]") {
  for (std::size_t n = 0; n < kUdpHello.size(); ++n)
    CHECK_FALSE(Ipv6View::parse(Bytes(kUdpHello.begin(), kUdpHello.begin() + static_cast<long>(n))));
  Bytes bad = kUdpHello;
  bad[0] = std::byte{0x42};   // version 4
  CHECK_FALSE(Ipv6View::parse(bad));
  Bytes padded = kUdpHello;
  padded.resize(padded.size() + 7);
  auto ip = Ipv6View::parse(padded);
  REQUIRE(ip);
  CHECK(ip->payload().size() == 13);
}

TEST_CASE("ipv6 emit keeps the flow label to 20 bits", "[header][ipv6]") {
  Ipv6Fields f;
  f.flow_label = 0xfff12345;
  f.traffic_class = 0xff;
  Bytes out(Ipv6View::kSize);
  emit(f, out);
  auto ip = Ipv6View::parse(out);
  REQUIRE(ip);
  CHECK(ip->version() == 6);
  CHECK(ip->flow_label() == 0x12345);
  CHECK(ip->traffic_class() == 0xff);
  CHECK(ip->payload().empty());
}

TEST_CASE("ipv6 addresses parse and print in RFC 5952 form", "[header][ipv6]") {
  auto a = Ipv6Address::parse("2001:0db8:0000:0000:0000:0000:0000:0007");
  REQUIRE(a);
  CHECK(a->octets[0] == 0x20);
  CHECK(a->octets[15] == 0x07);
  CHECK(a->to_string() == "2001:db8::7");
  CHECK(Ipv6Address::loopback().to_string() == "::1");
  CHECK_FALSE(Ipv6Address::parse("10.0.0.1"));
  CHECK_FALSE(Ipv6Address::parse("2001:db8::g"));
  CHECK_FALSE(Ipv6Address::parse(""));
}
