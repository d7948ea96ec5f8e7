#include "netstack/header/ipv4.h"

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

TEST_CASE("ipv4 view decodes the kernel's UDP packet", "[header][ipv4]") {
  const Bytes p = ip_of("kernel_udp_hello");
  auto ip = Ipv4View::parse(p);
  REQUIRE(ip);
  CHECK(ip->version() == 4);
  CHECK(ip->header_length() == 20);
  CHECK(ip->total_length() == p.size());
  CHECK(ip->protocol() == kProtocolUdp);
  CHECK(ip->ttl() == 64);
  CHECK(ip->dont_fragment());
  CHECK_FALSE(ip->is_fragment());
  CHECK(ip->src() == Ipv4Address::from_octets(10, 9, 0, 1));
  CHECK(ip->dst() == Ipv4Address::from_octets(10, 9, 0, 2));
  CHECK(ip->checksum_valid());
  CHECK(ip->payload().size() == 8 + 14);
}

TEST_CASE("ipv4 view decodes options (RFC 2113 router alert)", "[header][ipv4]") {
  const Bytes p = ip_of("ipv4_options_udp");
  auto ip = Ipv4View::parse(p);
  REQUIRE(ip);
  CHECK(ip->header_length() == 28);
  REQUIRE(ip->options().size() == 8);
  CHECK(static_cast<unsigned>(ip->options()[0]) == 0x94);
  CHECK(ip->id() == 0x1234);
  CHECK(ip->checksum_valid());
  CHECK(ip->payload().size() == 11);
}

TEST_CASE("ipv4 emit reproduces the hand-written header with options", "[header][ipv4]") {
  const Bytes p = ip_of("ipv4_options_udp");
  auto ip = Ipv4View::parse(p);
  REQUIRE(ip);
  Ipv4Fields f;
  f.total_length = ip->total_length();
  f.id = ip->id();
  f.flags_fragment = ip->flags_fragment();
  f.ttl = ip->ttl();
  f.protocol = ip->protocol();
  f.src = ip->src();
  f.dst = ip->dst();
  f.options = ip->options();
  Bytes out(header_size(f));
  emit(f, out);
  CHECK(test::to_hex(out) == test::to_hex(ip->header_bytes()));
}

TEST_CASE("ipv4 view refuses every truncation and inconsistent length", "[header][ipv4]") {
  const Bytes p = ip_of("ipv4_options_udp");
  for (std::size_t n = 0; n < p.size(); ++n)
    CHECK_FALSE(Ipv4View::parse(Bytes(p.begin(), p.begin() + static_cast<long>(n))));
  Bytes bad = p;
  bad[0] = std::byte{0x44};  // IHL 4 < 5
  CHECK_FALSE(Ipv4View::parse(bad));
  bad = p;
  bad[0] = std::byte{0x4f};  // IHL 15: 60 bytes > total length
  CHECK_FALSE(Ipv4View::parse(bad));
  bad = p;
  bad[0] = std::byte{0x67};  // version 6
  CHECK_FALSE(Ipv4View::parse(bad));
  bad = p;
  bad[3] = std::byte{0x10};  // total length 16 < header length
  CHECK_FALSE(Ipv4View::parse(bad));
  bad = p;
  bad[21] = std::byte{0x09};  // router alert length runs past the options area
  CHECK_FALSE(Ipv4View::parse(bad));
  bad = p;
  bad[21] = std::byte{0x01};  // option length 1 < 2
  CHECK_FALSE(Ipv4View::parse(bad));
}

TEST_CASE("ipv4 view excludes link padding from the payload", "[header][ipv4]") {
  Bytes p = ip_of("kernel_udp_hello");
  const std::size_t real = p.size();
  p.resize(real + 6);  // Ethernet minimum-size padding
  auto ip = Ipv4View::parse(p);
  REQUIRE(ip);
  CHECK(ip->payload().size() == real - 20);
}

TEST_CASE("ipv4 checksum_valid catches a flipped bit", "[header][ipv4]") {
  Bytes p = ip_of("kernel_udp_hello");
  p[8] ^= std::byte{0x01};  // TTL
  auto ip = Ipv4View::parse(p);
  REQUIRE(ip);
  CHECK_FALSE(ip->checksum_valid());
}

TEST_CASE("ipv4 fragment fields", "[header][ipv4]") {
  Ipv4Fields f;
  f.total_length = 28;
  f.flags_fragment = Ipv4View::kFlagMoreFragments | (1480 / 8);
  f.protocol = kProtocolUdp;
  Bytes out(28);
  emit(f, out);
  auto ip = Ipv4View::parse(out);
  REQUIRE(ip);
  CHECK(ip->more_fragments());
  CHECK(ip->fragment_offset() == 1480);
  CHECK(ip->is_fragment());
  CHECK(ip->checksum_valid());
}
