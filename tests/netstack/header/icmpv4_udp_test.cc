#include "netstack/header/icmpv4.h"
#include "netstack/header/ipv4.h"
#include "netstack/header/udp.h"

#include "tests/catch.h"
#include "tests/netstack/test_util.h"

using namespace netstack;
using namespace netstack::header;
using netstack::test::Bytes;
using netstack::test::golden;

namespace {
Bytes ip_of(const std::string& name) {
  return golden(name);  // raw IPv4, as read from a TUN device
}
}  // namespace

TEST_CASE("icmp echo request and reply from the kernel decode and verify", "[header][icmp]") {
  const Bytes req = ip_of("kernel_icmp_echo_request");
  const Bytes rep = ip_of("kernel_icmp_echo_reply");
  auto ipq = Ipv4View::parse(req);
  auto ipr = Ipv4View::parse(rep);
  REQUIRE(ipq);
  REQUIRE(ipr);
  auto q = Icmpv4View::parse(ipq->payload());
  auto r = Icmpv4View::parse(ipr->payload());
  REQUIRE(q);
  REQUIRE(r);
  CHECK(q->type() == kIcmpEchoRequest);
  CHECK(r->type() == kIcmpEchoReply);
  CHECK(q->checksum_valid());
  CHECK(r->checksum_valid());
  CHECK(q->ident() == r->ident());
  CHECK(q->sequence() == 1);
  CHECK(q->payload().size() == 24);
  // Our emit of the reply fields over the request's data gives the kernel's reply bytes.
  Bytes out(8 + q->payload().size());
  std::copy(q->payload().begin(), q->payload().end(), out.begin() + 8);
  emit(Icmpv4Fields{kIcmpEchoReply, 0, q->rest_of_header()}, std::span(out).subspan(8), out);
  CHECK(test::to_hex(out) == test::to_hex(ipr->payload()));
}

TEST_CASE("icmp port unreachable from the kernel quotes the UDP datagram", "[header][icmp]") {
  const Bytes p = ip_of("kernel_icmp_port_unreachable");
  auto ip = Ipv4View::parse(p);
  REQUIRE(ip);
  auto icmp = Icmpv4View::parse(ip->payload());
  REQUIRE(icmp);
  CHECK(icmp->type() == kIcmpDestUnreachable);
  CHECK(icmp->code() == kIcmpPortUnreachable);
  CHECK(icmp->checksum_valid());
  auto inner = Ipv4View::parse(icmp->payload());
  REQUIRE(inner);
  CHECK(inner->protocol() == kProtocolUdp);
}

TEST_CASE("icmp view refuses fewer than 8 bytes and notices corruption", "[header][icmp]") {
  const Bytes p = ip_of("kernel_icmp_echo_request");
  const Bytes icmp(p.begin() + 20, p.end());
  for (std::size_t n = 0; n < Icmpv4View::kSize; ++n)
    CHECK_FALSE(Icmpv4View::parse(Bytes(icmp.begin(), icmp.begin() + static_cast<long>(n))));
  Bytes bad = icmp;
  bad.back() ^= std::byte{0x80};
  auto v = Icmpv4View::parse(bad);
  REQUIRE(v);
  CHECK_FALSE(v->checksum_valid());
}

TEST_CASE("udp view decodes the kernel's datagram and verifies its checksum", "[header][udp]") {
  const Bytes p = ip_of("kernel_udp_hello");
  auto ip = Ipv4View::parse(p);
  REQUIRE(ip);
  auto udp = UdpView::parse(ip->payload());
  REQUIRE(udp);
  CHECK(udp->dst_port() == 9999);
  CHECK(udp->length() == 22);
  CHECK(test::to_hex(udp->payload()) == test::to_hex(test::bytes_of("hello netstack")));
  CHECK(udp->checksum_valid(ip->src(), ip->dst()));
  // Emitting the same fields computes the same checksum as the kernel did.
  Bytes out(8);
  emit(UdpFields{udp->src_port(), udp->dst_port(), udp->length()}, ip->src(), ip->dst(),
       udp->payload(), out);
  CHECK(test::to_hex(out) == test::to_hex(ip->payload().first(8)));
}

TEST_CASE("udp view: truncation, bad length, zero checksum", "[header][udp]") {
  const Bytes p = ip_of("ipv4_options_udp");
  const Bytes udp(p.begin() + 28, p.end());
  const auto src = Ipv4Address::from_octets(10, 0, 0, 1), dst = Ipv4Address::from_octets(10, 0, 0, 2);
  for (std::size_t n = 0; n < udp.size(); ++n)
    CHECK_FALSE(UdpView::parse(Bytes(udp.begin(), udp.begin() + static_cast<long>(n))));
  Bytes bad = udp;
  bad[5] = std::byte{7};  // length 7 < 8
  CHECK_FALSE(UdpView::parse(bad));
  bad = udp;
  bad[5] = std::byte{200};  // length beyond the buffer
  CHECK_FALSE(UdpView::parse(bad));
  bad = udp;
  bad[8] ^= std::byte{1};
  CHECK_FALSE(UdpView::parse(bad)->checksum_valid(src, dst));
  bad[6] = bad[7] = std::byte{0};  // RFC 768: zero means "not computed"
  CHECK(UdpView::parse(bad)->checksum_valid(src, dst));
}
