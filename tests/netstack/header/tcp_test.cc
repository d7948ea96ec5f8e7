#include "netstack/header/tcp.h"

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

TEST_CASE("tcp SYN from the kernel: every option decoded", "[header][tcp]") {
  const Bytes p = ip_of("kernel_tcp_syn");
  auto ip = Ipv4View::parse(p);
  REQUIRE(ip);
  auto tcp = TcpView::parse(ip->payload());
  REQUIRE(tcp);
  CHECK(tcp->dst_port() == 9998);
  CHECK(tcp->flags() == kTcpFlagSyn);
  CHECK(tcp->data_offset() == 40);
  CHECK(tcp->ack_number() == 0);
  CHECK(tcp->window() == 64240);
  const TcpOptions& o = tcp->options();
  CHECK(o.mss == std::optional<std::uint16_t>(1460));
  CHECK(o.sack_permitted);
  CHECK(o.window_scale == std::optional<std::uint8_t>(10));
  REQUIRE(o.timestamps);
  CHECK(o.timestamps->tsval == 0x3f53fd04);
  CHECK(o.timestamps->tsecr == 0);
  CHECK(o.sack_block_count == 0);
  CHECK(tcp->payload().empty());
  CHECK(tcp->checksum_valid(ip->src(), ip->dst()));
}

TEST_CASE("tcp RST+ACK from the kernel", "[header][tcp]") {
  const Bytes p = ip_of("kernel_tcp_rst");
  auto ip = Ipv4View::parse(p);
  REQUIRE(ip);
  auto tcp = TcpView::parse(ip->payload());
  REQUIRE(tcp);
  CHECK(tcp->flags() == (kTcpFlagRst | kTcpFlagAck));
  CHECK(tcp->src_port() == 9998);
  CHECK(tcp->options() == TcpOptions{});
  CHECK(tcp->checksum_valid(ip->src(), ip->dst()));
}

TEST_CASE("tcp SACK blocks and timestamps (RFC 2018, RFC 7323)", "[header][tcp]") {
  const Bytes p = ip_of("tcp_sack_ack");
  auto ip = Ipv4View::parse(p);
  REQUIRE(ip);
  REQUIRE(ip->checksum_valid());
  auto tcp = TcpView::parse(ip->payload());
  REQUIRE(tcp);
  CHECK(tcp->seq_number() == 0x01020304);
  CHECK(tcp->ack_number() == 0x0a0b0c0d);
  const TcpOptions& o = tcp->options();
  REQUIRE(o.sack_block_count == 2);
  CHECK(o.sack_blocks[0] == SackBlock{5000, 6000});
  CHECK(o.sack_blocks[1] == SackBlock{7000, 8000});
  CHECK(o.timestamps == std::optional<TcpTimestamps>(TcpTimestamps{1000, 2000}));
  CHECK(tcp->checksum_valid(ip->src(), ip->dst()));
}

TEST_CASE("tcp emit then parse keeps every field and option", "[header][tcp]") {
  TcpFields f;
  f.src_port = 40000;
  f.dst_port = 80;
  f.seq_number = 0xfffffff0;
  f.ack_number = 17;
  f.flags = kTcpFlagSyn | kTcpFlagAck;
  f.window = 29200;
  f.options.mss = 1460;
  f.options.window_scale = 7;
  f.options.sack_permitted = true;
  f.options.timestamps = TcpTimestamps{1, 2};
  f.options.sack_block_count = 1;
  f.options.sack_blocks[0] = {100, 200};
  const auto src = Ipv4Address::from_octets(10, 0, 0, 1), dst = Ipv4Address::from_octets(10, 0, 0, 2);
  const Bytes payload = test::bytes_of("data");
  Bytes out(header_size(f) + payload.size());
  CHECK(header_size(f) == 20 + 32);  // 4 + 3 + 2 + 10 + 10 = 29, padded to 32
  std::copy(payload.begin(), payload.end(), out.begin() + static_cast<long>(header_size(f)));
  emit(f, src, dst, payload, out);
  auto tcp = TcpView::parse(out);
  REQUIRE(tcp);
  CHECK(tcp->seq_number() == f.seq_number);
  CHECK(tcp->flags() == f.flags);
  CHECK(tcp->options() == f.options);
  CHECK(tcp->payload().size() == 4);
  CHECK(tcp->checksum_valid(src, dst));
}

TEST_CASE("tcp view refuses truncation and malformed options", "[header][tcp]") {
  const Bytes p = ip_of("tcp_sack_ack");
  const Bytes seg(p.begin() + 20, p.end());
  for (std::size_t n = 0; n < seg.size(); ++n)
    CHECK_FALSE(TcpView::parse(Bytes(seg.begin(), seg.begin() + static_cast<long>(n))));
  Bytes bad = seg;
  bad[12] = std::byte{0x40};  // data offset 16 < 20
  CHECK_FALSE(TcpView::parse(bad));
  // Option-level checks on the raw options area.
  CHECK_FALSE(parse_tcp_options(test::hex("02 04 05")));        // MSS cut short
  CHECK_FALSE(parse_tcp_options(test::hex("02 03 05 00")));     // MSS with length 3
  CHECK_FALSE(parse_tcp_options(test::hex("03 02 00 00")));     // window scale with length 2
  CHECK_FALSE(parse_tcp_options(test::hex("04 03 00 00")));     // SACK-permitted with a body
  CHECK_FALSE(parse_tcp_options(test::hex("05 06 00 00 00 00")));  // SACK not a multiple of 8
  CHECK_FALSE(parse_tcp_options(test::hex("08 0a 00 00")));     // timestamps past the end
  CHECK_FALSE(parse_tcp_options(test::hex("fe 00")));           // length 0 < 2
  auto unknown = parse_tcp_options(test::hex("fe 04 aa bb 01 00"));  // unknown kind: skipped
  REQUIRE(unknown);
  CHECK(*unknown == TcpOptions{});
}

// One's complement has two zeros: a segment whose checksum computes to 0x0000 may carry it as
// 0xffff (RFC 1624 section 3), and Linux sometimes sends it so (seen in a lossy run's capture).
// Both must be accepted.
TEST_CASE("tcp checksum 0x0000 carried as 0xffff is valid (RFC 1624)", "[header][tcp]") {
  TcpFields f;
  f.src_port = 41452;
  f.dst_port = 7;
  f.seq_number = 8952777;
  f.ack_number = 8542837;
  f.flags = kTcpFlagAck;
  f.window = 2217;
  const auto src = Ipv4Address::from_octets(10, 78, 0, 1), dst = Ipv4Address::from_octets(10, 78, 0, 2);
  Bytes payload = test::bytes_of("echo!!xx");
  payload[6] = payload[7] = std::byte{0};
  Bytes out(header_size(f) + payload.size());
  const auto place = [&] {
    std::copy(payload.begin(), payload.end(), out.begin() + static_cast<long>(header_size(f)));
    emit(f, src, dst, payload, out);
  };
  place();
  // The last payload word (at an even offset) set to the checksum adds ~sum to the sum, which
  // makes the sum 0xffff and the checksum 0x0000.
  payload[6] = out[16];
  payload[7] = out[17];
  place();
  auto tcp = TcpView::parse(out);
  REQUIRE(tcp);
  REQUIRE(tcp->checksum() == 0x0000);
  CHECK(tcp->checksum_valid(src, dst));
  out[16] = out[17] = std::byte{0xff};
  tcp = TcpView::parse(out);
  REQUIRE(tcp);
  REQUIRE(tcp->checksum() == 0xffff);
  CHECK(tcp->checksum_valid(src, dst));
  out[17] = std::byte{0xfe};  // 0xfffe is a different value: rejected
  tcp = TcpView::parse(out);
  REQUIRE(tcp);
  CHECK_FALSE(tcp->checksum_valid(src, dst));
}
