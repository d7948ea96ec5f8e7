#include "netstack/header/arp.h"
#include "netstack/header/ethernet.h"

#include "tests/catch.h"
#include "tests/netstack/test_util.h"

using namespace netstack;
using namespace netstack::header;
using netstack::test::Bytes;
using netstack::test::golden;

namespace {
constexpr LinkAddress kMacA{{0x02, 0, 0, 0, 0, 0x0a}};
constexpr LinkAddress kMacB{{0x02, 0, 0, 0, 0, 0x0b}};
const Ipv4Address kIpA = Ipv4Address::from_octets(10, 0, 0, 1);
const Ipv4Address kIpB = Ipv4Address::from_octets(10, 0, 0, 2);
}  // namespace

TEST_CASE("ethernet view decodes the ARP reply frame", "[header][ethernet]") {
  const Bytes f = golden("arp_reply");
  auto eth = EthernetView::parse(f);
  REQUIRE(eth);
  CHECK(eth->dst() == kMacA);
  CHECK(eth->src() == kMacB);
  CHECK(eth->ether_type() == kEtherTypeArp);
  CHECK(eth->payload().size() == f.size() - 14);
}

TEST_CASE("ethernet view refuses short frames and 802.3 lengths", "[header][ethernet]") {
  const Bytes f = golden("arp_request");
  for (std::size_t n = 0; n < EthernetView::kSize; ++n) {
    const Bytes cut(f.begin(), f.begin() + static_cast<long>(n));
    CHECK_FALSE(EthernetView::parse(cut));
  }
  Bytes llc = f;
  llc[12] = std::byte{0x00};
  llc[13] = std::byte{0x40};  // 802.3 length 64, not an EtherType
  CHECK_FALSE(EthernetView::parse(llc));
}

TEST_CASE("ethernet emit writes what the view reads", "[header][ethernet]") {
  Bytes out(14);
  emit(EthernetFields{kMacA, kMacB, kEtherTypeArp}, out);
  auto eth = EthernetView::parse(out);
  REQUIRE(eth);
  CHECK(eth->dst() == kMacA);
  CHECK(eth->src() == kMacB);
  CHECK(eth->ether_type() == kEtherTypeArp);
}

TEST_CASE("arp request decodes from the RFC 826 layout and re-emits byte for byte", "[header][arp]") {
  const Bytes f = golden("arp_request");
  auto eth = EthernetView::parse(f);
  REQUIRE(eth);
  CHECK(eth->dst().is_broadcast());
  auto arp = ArpView::parse(eth->payload());
  REQUIRE(arp);
  CHECK(arp->op() == kArpRequest);
  CHECK(arp->sender_hw() == kMacA);
  CHECK(arp->sender_ip() == kIpA);
  CHECK(arp->target_hw().is_zero());
  CHECK(arp->target_ip() == kIpB);
  Bytes out(ArpView::kSize);
  emit(ArpFields{kArpRequest, kMacA, kIpA, LinkAddress{}, kIpB}, out);
  CHECK(test::to_hex(out) == test::to_hex(eth->payload()));
}

TEST_CASE("arp reply decodes", "[header][arp]") {
  const Bytes f = golden("arp_reply");
  auto arp = ArpView::parse(std::span(f).subspan(14));
  REQUIRE(arp);
  CHECK(arp->op() == kArpReply);
  CHECK(arp->sender_hw() == kMacB);
  CHECK(arp->sender_ip() == kIpB);
  CHECK(arp->target_hw() == kMacA);
}

TEST_CASE("arp view refuses truncated and foreign flavours", "[header][arp]") {
  const Bytes f = golden("arp_request");
  const Bytes arp(f.begin() + 14, f.end());
  for (std::size_t n = 0; n < arp.size(); ++n)
    CHECK_FALSE(ArpView::parse(Bytes(arp.begin(), arp.begin() + static_cast<long>(n))));
  for (std::size_t field : {1u, 3u, 4u, 5u, 7u}) {  // htype, ptype, hlen, plen, op
    Bytes bad = arp;
    bad[field] = std::byte{0x09};
    CHECK_FALSE(ArpView::parse(bad));
  }
}
