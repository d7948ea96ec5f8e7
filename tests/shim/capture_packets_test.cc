// shim/cmd/capture_packets.cc: capture records into packets. Each case feeds records as the
// preload object writes them and reads the packets back with netstack's header views.
#include "shim/cmd/capture_packets.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <string>

#include "netstack/header/checksum.h"
#include "netstack/header/ipv4.h"
#include "netstack/header/ipv6.h"
#include "netstack/header/tcp.h"
#include "netstack/header/udp.h"

namespace {

namespace h = netstack::header;
using shim::capture::Dir;
using shim::capture::Kind;
using shim::capture::RecordHead;
using shim::cmd::Packet;
using shim::cmd::PacketBuilder;

void v4(std::uint8_t out[16], std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  std::memset(out, 0, 16);
  out[10] = out[11] = 0xff;
  out[12] = a, out[13] = b, out[14] = c, out[15] = d;
}

// The client 10.0.0.1:40000 (socket 1) and the server 10.0.0.2:80 (socket 2), as `side` sees them.
RecordHead rec(Kind kind, Dir dir, bool client_side, std::uint8_t protocol = 6) {
  RecordHead r{};
  r.kind = kind;
  r.dir = dir;
  r.protocol = protocol;
  r.sock = client_side ? 1 : 2;
  v4(client_side ? r.local : r.peer, 10, 0, 0, 1);
  v4(client_side ? r.peer : r.local, 10, 0, 0, 2);
  (client_side ? r.local_port : r.peer_port) = 40000;
  (client_side ? r.peer_port : r.local_port) = 80;
  return r;
}

std::span<const std::byte> bytes(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }

struct Seg {
  std::uint16_t src_port = 0, dst_port = 0;
  std::uint32_t seq = 0, ack = 0;
  std::uint8_t flags = 0;
  std::string payload;
};

// An IPv4 TCP packet, parsed; fails the test when a header or checksum is wrong.
Seg tcp4(const Packet& p) {
  const auto ip = h::Ipv4View::parse(p.bytes);
  REQUIRE(ip);
  CHECK(ip->checksum_valid());
  REQUIRE(ip->protocol() == h::kProtocolTcp);
  CHECK(ip->total_length() == p.bytes.size());
  const auto t = h::TcpView::parse(ip->payload());
  REQUIRE(t);
  CHECK(t->checksum_valid(ip->src(), ip->dst()));
  const auto pl = t->payload();
  return {t->src_port(), t->dst_port(), t->seq_number(), t->ack_number(), t->flags(),
          std::string(reinterpret_cast<const char*>(pl.data()), pl.size())};
}

TEST_CASE("a connection: handshake, data both ways, FINs, with consistent numbers", "[capture][packets]") {
  PacketBuilder b;
  std::vector<Packet> out;
  b.add(rec(Kind::kConnect, Dir::kOut, true), {}, out);
  b.add(rec(Kind::kData, Dir::kOut, true), bytes("GET / HTTP/1.0\r\n\r\n"), out);
  b.add(rec(Kind::kData, Dir::kIn, true), bytes("HTTP/1.0 200 OK\r\n\r\nhi"), out);
  b.add(rec(Kind::kFin, Dir::kIn, true), {}, out);
  b.add(rec(Kind::kFin, Dir::kOut, true), {}, out);
  REQUIRE(out.size() == 9);
  std::vector<Seg> s;
  for (const Packet& p : out) s.push_back(tcp4(p));
  const std::uint32_t c = s[0].seq, sv = s[1].seq;
  CHECK(s[0].flags == h::kTcpFlagSyn);
  CHECK(s[0].src_port == 40000);
  CHECK(s[1].flags == (h::kTcpFlagSyn | h::kTcpFlagAck));
  CHECK(s[1].ack == c + 1);
  CHECK((s[2].flags == h::kTcpFlagAck && s[2].seq == c + 1 && s[2].ack == sv + 1));
  CHECK((s[3].seq == c + 1 && s[3].ack == sv + 1 && s[3].payload == "GET / HTTP/1.0\r\n\r\n"));
  CHECK((s[4].src_port == 80 && s[4].seq == sv + 1 && s[4].ack == c + 1 + 18));
  CHECK(s[4].payload == "HTTP/1.0 200 OK\r\n\r\nhi");
  // The server's FIN after its 21 bytes, acknowledged by the client; then the client's.
  CHECK((s[5].flags == (h::kTcpFlagFin | h::kTcpFlagAck) && s[5].src_port == 80 && s[5].seq == sv + 1 + 21));
  CHECK((s[6].src_port == 40000 && s[6].ack == sv + 1 + 22));
  CHECK((s[7].flags == (h::kTcpFlagFin | h::kTcpFlagAck) && s[7].seq == c + 1 + 18 && s[7].ack == sv + 1 + 22));
  CHECK((s[8].src_port == 80 && s[8].ack == c + 1 + 19 && s[8].seq == sv + 1 + 22));
}

TEST_CASE("bytes recorded by both ends go out once; a short read first stays short", "[capture][packets]") {
  PacketBuilder b;
  std::vector<Packet> out;
  b.add(rec(Kind::kConnect, Dir::kOut, true), {}, out);
  b.add(rec(Kind::kAccept, Dir::kIn, false), {}, out);    // the server's side: no second handshake
  REQUIRE(out.size() == 3);
  const std::string req(100, 'q');
  b.add(rec(Kind::kData, Dir::kIn, false), bytes(req.substr(0, 10)), out);   // server's short read
  b.add(rec(Kind::kData, Dir::kOut, true), bytes(req), out);                 // client's send
  b.add(rec(Kind::kData, Dir::kIn, false), bytes(req.substr(10)), out);     // server's next read
  REQUIRE(out.size() == 5);
  const Seg a = tcp4(out[3]), c = tcp4(out[4]);
  CHECK(a.payload.size() == 10);
  CHECK(c.payload.size() == 90);
  CHECK(c.seq == a.seq + 10);
  CHECK(b.duplicate_bytes() == 100);
  b.add(rec(Kind::kFin, Dir::kOut, true), {}, out);
  b.add(rec(Kind::kFin, Dir::kIn, false), {}, out);   // the server read the same FIN
  CHECK(out.size() == 7);
}

TEST_CASE("a reset is an RST after what was sent; ends that never connected make nothing", "[capture][packets]") {
  PacketBuilder b;
  std::vector<Packet> out;
  b.add(rec(Kind::kRst, Dir::kOut, true), {}, out);
  b.add(rec(Kind::kFin, Dir::kOut, true), {}, out);
  CHECK(out.empty());
  b.add(rec(Kind::kConnect, Dir::kOut, true), {}, out);
  b.add(rec(Kind::kData, Dir::kOut, true), bytes("abc"), out);
  b.add(rec(Kind::kRst, Dir::kOut, true), {}, out);
  b.add(rec(Kind::kFin, Dir::kOut, true), {}, out);   // the close after the reset: nothing more
  REQUIRE(out.size() == 5);
  const Seg r = tcp4(out[4]);
  CHECK(r.flags == (h::kTcpFlagRst | h::kTcpFlagAck));
  CHECK(r.seq == tcp4(out[3]).seq + 3);
}

TEST_CASE("a socket's bytes are numbered in the order its records come, whoever wrote them", "[capture][packets]") {
  // Records of one socket (one sock) made by two descriptor numbers or two processes carry no
  // offsets of their own: the builder's count per socket continues across them.
  PacketBuilder b;
  std::vector<Packet> out;
  b.add(rec(Kind::kConnect, Dir::kOut, true), {}, out);
  b.add(rec(Kind::kData, Dir::kOut, true), bytes("parent "), out);
  b.add(rec(Kind::kData, Dir::kOut, true), bytes("child "), out);
  RecordHead lost = rec(Kind::kData, Dir::kOut, true);
  lost.skip = 5;   // the number that wrote this lost 5 bytes before it (the ring was full)
  b.add(lost, bytes("after"), out);
  RecordHead last = rec(Kind::kClose, Dir::kOut, true);
  last.flags = shim::capture::kFlagLast;   // the socket's last number closed: a FIN
  b.add(last, {}, out);
  b.add(last, {}, out);   // a second one changes nothing
  REQUIRE(out.size() == 8);
  const std::uint32_t c = tcp4(out[0]).seq;
  CHECK(tcp4(out[3]).seq == c + 1);
  CHECK((tcp4(out[4]).seq == c + 1 + 7 && tcp4(out[4]).payload == "child "));
  CHECK(tcp4(out[5]).seq == c + 1 + 13 + 5);   // after the gap
  const Seg fin = tcp4(out[6]);
  CHECK((fin.flags == (h::kTcpFlagFin | h::kTcpFlagAck) && fin.seq == c + 1 + 23));
  CHECK(tcp4(out[7]).ack == c + 1 + 24);
}

TEST_CASE("a close not known to be the last waits until no process holds the socket", "[capture][packets]") {
  shim::cmd::Held answer = shim::cmd::Held::kYes;
  int asked = 0;
  PacketBuilder b([&](const RecordHead& r) {
    ++asked;
    CHECK(r.sock == 1);
    return answer;
  });
  std::vector<Packet> out;
  b.add(rec(Kind::kConnect, Dir::kOut, true), {}, out);
  b.add(rec(Kind::kData, Dir::kOut, true), bytes("from the parent"), out);
  RecordHead close = rec(Kind::kClose, Dir::kOut, true);   // the parent's close: a child holds it
  close.t_ns = 100;
  b.add(close, {}, out);
  REQUIRE(out.size() == 4);
  CHECK(asked == 0);   // asked later: the real close had not run when the record was made
  CHECK(b.rechecks_pending());
  b.probe_pending(200);   // still held
  CHECK(asked == 1);
  b.probe_pending(5'000'200);   // not asked again before 10 ms, then less and less often
  CHECK(asked == 1);
  b.probe_pending(10'000'200);
  CHECK(asked == 2);
  b.probe_pending(20'000'200);
  CHECK(asked == 2);
  answer = shim::cmd::Held::kNo;   // the child exits without closing it ...
  b.probe_pending(30'000'200);
  CHECK(asked == 3);
  RecordHead child = rec(Kind::kData, Dir::kOut, true);   // ... after its bytes, which come later
  child.t_ns = 10'000'250;
  b.add(child, bytes("from the child"), out);
  CHECK(out.size() == 5);
  b.close_released(out);
  REQUIRE(out.size() == 7);
  CHECK(!b.rechecks_pending());
  const Seg fin = tcp4(out[5]);
  CHECK((fin.flags == (h::kTcpFlagFin | h::kTcpFlagAck) && fin.seq == tcp4(out[3]).seq + 29));
  CHECK(out[5].t_ns == 10'000'250);   // after the last record of it, not before the last time seen held
  b.finish(400, out);
  CHECK(out.size() == 7);
}

TEST_CASE("at the end of the run, sockets no process holds get their FIN", "[capture][packets]") {
  shim::cmd::Held answer = shim::cmd::Held::kYes;
  PacketBuilder b([&](const RecordHead&) { return answer; });
  std::vector<Packet> out;
  b.add(rec(Kind::kConnect, Dir::kOut, true), {}, out);
  b.add(rec(Kind::kData, Dir::kOut, true), bytes("never closed"), out);
  b.finish(500, out);   // held by a process outside the run: no FIN
  CHECK(out.size() == 4);
  answer = shim::cmd::Held::kNo;   // its last holder exited
  b.finish(600, out);
  REQUIRE(out.size() == 6);
  CHECK(tcp4(out[4]).flags == (h::kTcpFlagFin | h::kTcpFlagAck));
  CHECK(out[4].t_ns == 600);
}

TEST_CASE("a socket connected again after a reset counts its new connection from 0", "[capture][packets]") {
  PacketBuilder b;
  std::vector<Packet> out;
  b.add(rec(Kind::kConnect, Dir::kOut, true), {}, out);
  b.add(rec(Kind::kData, Dir::kOut, true), bytes("first"), out);
  b.add(rec(Kind::kRst, Dir::kOut, true), {}, out);
  b.add(rec(Kind::kConnect, Dir::kOut, true), {}, out);   // connect(AF_UNSPEC), then connect again
  b.add(rec(Kind::kData, Dir::kOut, true), bytes("second"), out);
  REQUIRE(out.size() == 9);
  CHECK(tcp4(out[8]).seq == tcp4(out[5]).seq + 1);   // right after the new SYN
  CHECK(tcp4(out[8]).payload == "second");
}

TEST_CASE("IPv6 connections get IPv6 headers with a valid TCP checksum", "[capture][packets]") {
  PacketBuilder b;
  std::vector<Packet> out;
  RecordHead r = rec(Kind::kConnect, Dir::kOut, true);
  std::memset(r.local, 0, 16);
  std::memset(r.peer, 0, 16);
  r.local[15] = 1, r.peer[15] = 1;   // ::1 to ::1
  b.add(r, {}, out);
  r.kind = Kind::kData;
  b.add(r, bytes("ping"), out);
  REQUIRE(out.size() == 4);
  const auto ip = h::Ipv6View::parse(out[3].bytes);
  REQUIRE(ip);
  CHECK(ip->next_header() == h::kProtocolTcp);
  CHECK(ip->dst() == netstack::Ipv6Address::loopback());
  const auto seg = ip->payload();
  CHECK(seg.size() == 24);
  const std::uint16_t pseudo = h::pseudo_header_checksum(h::kProtocolTcp, ip->src(), ip->dst(),
                                                         static_cast<std::uint32_t>(seg.size()));
  CHECK(h::checksum(seg, pseudo) == 0xffff);
}

TEST_CASE("a datagram seen by sender and receiver goes out once; a wildcard source becomes loopback",
          "[capture][packets]") {
  PacketBuilder b;
  std::vector<Packet> out;
  RecordHead s = rec(Kind::kData, Dir::kOut, true, 17);
  v4(s.local, 0, 0, 0, 0);   // an unbound socket's getsockname
  v4(s.peer, 127, 0, 0, 1);
  b.add(s, bytes("one"), out);
  RecordHead r = rec(Kind::kData, Dir::kIn, false, 17);
  v4(r.local, 127, 0, 0, 1);
  v4(r.peer, 127, 0, 0, 1);
  b.add(r, bytes("one"), out);   // the receiver's record of the same datagram
  b.add(r, bytes("two"), out);   // one the sender's side did not record
  REQUIRE(out.size() == 2);
  const auto ip = h::Ipv4View::parse(out[0].bytes);
  REQUIRE(ip);
  CHECK(ip->src() == netstack::Ipv4Address::from_octets(127, 0, 0, 1));
  const auto u = h::UdpView::parse(ip->payload());
  REQUIRE(u);
  CHECK(u->checksum_valid(ip->src(), ip->dst()));
  CHECK(u->dst_port() == 80);
  CHECK(u->payload().size() == 3);
  CHECK(b.duplicate_bytes() == 3);
}

}  // namespace
