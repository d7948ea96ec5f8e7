#include "netstack/header/checksum.h"

#include <algorithm>
#include <vector>

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

// The byte-at-a-time definition, to check the word-at-a-time implementation against.
static std::uint16_t reference_checksum(const std::vector<std::byte>& b, std::uint16_t initial) {
  std::uint32_t sum = initial;
  for (std::size_t i = 0; i < b.size(); i += 2) {
    const auto hi = static_cast<std::uint32_t>(b[i]);
    const auto lo = i + 1 < b.size() ? static_cast<std::uint32_t>(b[i + 1]) : 0u;
    sum += (hi << 8) | lo;
    sum = (sum & 0xffff) + (sum >> 16);
  }
  return static_cast<std::uint16_t>(sum);
}

TEST_CASE("checksum equals the byte-at-a-time sum for every length and offset", "[header][checksum]") {
  std::uint64_t x = 0x9e3779b97f4a7c15ull;   // a fixed xorshift stream: reproducible
  auto next = [&x] { x ^= x << 13; x ^= x >> 7; x ^= x << 17; return x; };
  std::vector<std::byte> buf(300);
  for (int round = 0; round < 400; ++round) {
    for (auto& v : buf) v = static_cast<std::byte>(next());
    if (round % 7 == 0) std::fill(buf.begin(), buf.end(), std::byte{0xff});   // carries everywhere
    const std::size_t off = next() % 9, len = next() % 290;
    const auto initial = static_cast<std::uint16_t>(next());
    const std::vector<std::byte> b(buf.begin() + static_cast<long>(off), buf.begin() + static_cast<long>(off + len));
    INFO("round " << round << " offset " << off << " length " << len);
    // 0x0000 and 0xffff are the same number in one's complement; compare as numbers.
    const auto got = header::checksum(std::span(buf).subspan(off, len), initial);
    const auto want = reference_checksum(b, initial);
    CHECK((got == want || (got % 0xffff) == (want % 0xffff)));
  }
}

TEST_CASE("pseudo-header sum covers addresses, protocol and length", "[header][checksum]") {
  const auto src = Ipv4Address::from_octets(10, 0, 0, 1), dst = Ipv4Address::from_octets(10, 0, 0, 2);
  // 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 17 + 11
  CHECK(header::pseudo_header_checksum(17, src, dst, 11) == 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 17 + 11);
}
