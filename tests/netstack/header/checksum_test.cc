#include "netstack/header/checksum.h"

#include "tests/catch.h"
#include "tests/netstack/test_util.h"

using namespace netstack;
using netstack::test::hex;

TEST_CASE("checksum matches the RFC 1071 worked example", "[header][checksum]") {
  // RFC 1071 section 3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2 (before complement).
  const auto b = hex("00 01 f2 03 f4 f5 f6 f7");
  CHECK(header::checksum(b) == 0xddf2);
  CHECK(header::finish(header::checksum(b)) == 0x220d);
}

TEST_CASE("checksum pads an odd trailing byte with zero", "[header][checksum]") {
  CHECK(header::checksum(hex("01")) == 0x0100);
  CHECK(header::checksum(hex("ab cd ef")) == header::checksum(hex("ab cd ef 00")));
  CHECK(header::checksum({}) == 0);
}

TEST_CASE("checksum folds carries across many words", "[header][checksum]") {
  // 40 words of 0xffff: the one's-complement sum of all-ones is all-ones.
  std::vector<std::byte> b(80, std::byte{0xff});
  CHECK(header::checksum(b) == 0xffff);
  // Splitting at an even offset and chaining gives the same sum.
  const auto c = hex("45 00 00 3c 97 51 40 00 40 06 00 00 7f 00 00 01 7f 00 00 01");
  const auto whole = header::checksum(c);
  const auto chained = header::checksum(std::span(c).subspan(8), header::checksum(std::span(c).first(8)));
  CHECK(whole == chained);
  CHECK(header::checksum_combine(0xffff, 0x0001) == 0x0001);
}

TEST_CASE("pseudo-header sum covers addresses, protocol and length", "[header][checksum]") {
  const auto src = Ipv4Address::from_octets(10, 0, 0, 1), dst = Ipv4Address::from_octets(10, 0, 0, 2);
  // 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 17 + 11
  CHECK(header::pseudo_header_checksum(17, src, dst, 11) == 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 17 + 11);
}
