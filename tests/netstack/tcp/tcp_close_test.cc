// Closing connections: half-close, FIN in both orders, simultaneous close, TIME-WAIT and its
// timer, connections that outlive their Endpoint, RST (exact vs in window: RFC 5961), abort.
#include "tests/netstack/tcp/tcp_net.h"

using namespace netstack;
using namespace netstack::tcp;
using namespace netstack::tcp::test;
using namespace std::chrono_literals;

namespace {
bool port_free(Stack& s, std::uint16_t port) {
  auto ep = new_tcp(s);
  return static_cast<bool>(ep->bind(FullAddress{kAnyNic, Ipv4Address{}, port}));
}
}  // namespace

TEST_CASE("half-close: the peer keeps sending after our FIN; read gives 0 at EOF", "[tcp][close]") {
  TcpNet net;
  auto p = connect_pair(net);
  REQUIRE(p.client->write(bytes_of("request"), {}));
  REQUIRE(p.client->shutdown(kShutdownWrite));
  CHECK(p.client->write(bytes_of("more"), {}).error() == Errc::kClosedForSend);
  net.settle();
  CHECK(state_of(*p.client) == State::kFinWait2);
  CHECK(state_of(*p.server) == State::kCloseWait);
  CHECK(read_some(*p.server) == "request");
  CHECK(p.server->readiness(kEventIn) == kEventIn);
  CHECK(read_some(*p.server) == "");  // EOF
  CHECK(read_some(*p.server) == "");
  // The other direction still works.
  for (int i = 0; i < 3; ++i) REQUIRE(p.server->write(bytes_of("reply " + std::to_string(i)), {}));
  std::string got;
  REQUIRE(net.run_until([&] {
    const std::string r = read_some(*p.client);
    if (r[0] != '<') got += r;
    return got.size() >= 21;
  }, 1s));
  CHECK(got == "reply 0reply 1reply 2");  // Nagle held the last two until the delayed ACK
  CHECK(read_some(*p.client) == "<operation would block>");
  p.server->close();
  net.settle();
  CHECK(read_some(*p.client) == "");
  CHECK(state_of(*p.client) == State::kTimeWait);
  CHECK(p.client->readiness(kEventHup) == kEventHup);
}

TEST_CASE("FIN in both orders: who closes first waits in TIME-WAIT", "[tcp][close]") {
  TcpNet net;
  auto p = connect_pair(net);
  const bool client_first = GENERATE(true, false);
  Endpoint& first = client_first ? *p.client : *p.server;
  Endpoint& second = client_first ? *p.server : *p.client;
  REQUIRE(first.shutdown(kShutdownWrite));
  net.settle();
  CHECK(state_of(first) == State::kFinWait2);
  CHECK(state_of(second) == State::kCloseWait);
  REQUIRE(second.shutdown(kShutdownWrite));
  CHECK(state_of(second) == State::kLastAck);
  net.settle();
  CHECK(state_of(first) == State::kTimeWait);
  CHECK(state_of(second) == State::kClosed);
  CHECK(read_some(first) == "");
  CHECK(read_some(second) == "");
}

TEST_CASE("simultaneous close: FINs cross, both go through CLOSING to TIME-WAIT", "[tcp][close]") {
  TcpNet net;
  auto p = connect_pair(net);
  REQUIRE(p.client->shutdown(kShutdownWrite));
  REQUIRE(p.server->shutdown(kShutdownWrite));
  CHECK(state_of(*p.client) == State::kFinWait1);
  CHECK(state_of(*p.server) == State::kFinWait1);
  net.deliver_once();  // the FINs cross
  CHECK(state_of(*p.client) == State::kClosing);
  CHECK(state_of(*p.server) == State::kClosing);
  net.settle();
  CHECK(state_of(*p.client) == State::kTimeWait);
  CHECK(state_of(*p.server) == State::kTimeWait);
}

TEST_CASE("TIME-WAIT lasts 2*MSL (60 s), then the connection and its port go", "[tcp][close]") {
  TcpNet net;
  auto p = connect_pair(net);
  const std::uint16_t port = p.client->get_local_address()->port;
  p.client->close();  // the handle is closed: the connection finishes without it
  net.settle();
  p.server->close();
  net.settle();
  const Instant entered = net.clock.now();
  CHECK(!port_free(net.a, port));  // still held by the TIME-WAIT connection
  // A retransmitted FIN in TIME-WAIT is ACKed (and restarts the timer).
  net.run_for(59s);
  CHECK(!port_free(net.a, port));
  net.run_for(999ms);
  CHECK(!port_free(net.a, port));
  net.run_for(1ms);
  CHECK(net.clock.now() - entered == 60s);
  CHECK(port_free(net.a, port));
}

TEST_CASE("a closed Endpoint's connection still delivers its data and FIN through loss",
          "[tcp][close]") {
  TcpNet net;
  auto p = connect_pair(net);
  int dropped = 0;
  net.drop = [&](const WireSegment& s) { return s.from_a && s.has(header::kTcpFlagFin) && dropped++ < 2; };
  REQUIRE(p.client->write(bytes_of("last words"), {}));
  p.client.reset();  // destroyed: the protocol keeps the connection
  REQUIRE(net.run_until([&] { return read_some(*p.server) == "last words"; }, 10s));
  REQUIRE(net.run_until([&] { return state_of(*p.server) == State::kCloseWait; }, 10s));
  CHECK(dropped == 3);  // two FINs lost, the third (retransmitted by the orphan) arrived
  CHECK(read_some(*p.server) == "");
  REQUIRE(p.server->shutdown(kShutdownWrite));
  // The orphan, in FIN-WAIT-2, ACKs our FIN and goes to TIME-WAIT; we reach CLOSED.
  REQUIRE(net.run_until([&] { return state_of(*p.server) == State::kClosed; }, 10s));
}

TEST_CASE("close with unread data sends RST; the peer gets kConnectionReset", "[tcp][close][rst]") {
  TcpNet net;
  auto p = connect_pair(net);
  REQUIRE(p.client->write(bytes_of("never read"), {}));
  net.settle();
  net.wire.clear();
  p.server->close();
  net.settle();
  REQUIRE(net.wire.size() == 1);
  CHECK(net.wire[0].has(header::kTcpFlagRst));
  CHECK(!net.wire[0].has(header::kTcpFlagFin));
  CHECK(state_of(*p.client) == State::kClosed);
  CHECK(p.client->readiness(kEventErr | kEventHup) == (kEventErr | kEventHup));
  CHECK(read_some(*p.client) == "<connection reset by peer>");
  CHECK(read_some(*p.client) == "");
  CHECK(p.client->write(bytes_of("x"), {}).error() == Errc::kClosedForSend);
}

TEST_CASE("RST: in the window gets a challenge ACK, exact resets (RFC 5961 §3)", "[tcp][rst]") {
  TcpNet net;
  auto p = connect_pair(net);
  const WireSegment last_b = net.last_from(false);
  const std::uint32_t rcv_nxt = last_b.ack;  // b's RCV.NXT
  header::TcpFields rst;
  rst.src_port = p.client->get_local_address()->port;
  rst.dst_port = 80;
  rst.flags = header::kTcpFlagRst;
  net.wire.clear();

  SECTION("out of the window: dropped silently") {
    rst.seq_number = rcv_nxt + 10'000'000;
    net.inject_into_b(rst);
    net.settle();
    CHECK(net.wire.empty());
    CHECK(state_of(*p.server) == State::kEstablished);
  }
  SECTION("in the window but not exact: challenge ACK, then the true peer's exact RST") {
    rst.seq_number = rcv_nxt + 1000;
    net.inject_into_b(rst);
    net.settle();
    CHECK(state_of(*p.server) == State::kEstablished);
    REQUIRE(net.wire.size() == 1);
    CHECK(net.wire[0].flags == header::kTcpFlagAck);
    CHECK(net.wire[0].ack == rcv_nxt);
    CHECK(net.b.stats().tcp_challenge_acks == 1);
    rst.seq_number = rcv_nxt;
    net.inject_into_b(rst);
    net.settle();
    CHECK(state_of(*p.server) == State::kClosed);
    CHECK(p.server->get_sock_opt(SockOpt::kError).value() == to_errno(Errc::kConnectionReset));
  }
  SECTION("a SYN on an established connection gets a challenge ACK (RFC 5961 §4)") {
    header::TcpFields syn = rst;
    syn.flags = header::kTcpFlagSyn;
    syn.seq_number = rcv_nxt + 5;
    net.inject_into_b(syn);
    net.settle();
    CHECK(state_of(*p.server) == State::kEstablished);
    REQUIRE(!net.wire.empty());
    CHECK(net.wire[0].flags == header::kTcpFlagAck);
    CHECK(net.b.stats().tcp_challenge_acks == 1);
  }
  SECTION("an ACK of data never sent gets an ACK and is dropped (RFC 5961 §5)") {
    header::TcpFields bad = rst;
    bad.flags = header::kTcpFlagAck;
    bad.seq_number = rcv_nxt;
    bad.ack_number = last_b.seq + 1'000'000;
    bad.window = 1000;
    net.inject_into_b(bad, "data");
    net.settle();
    CHECK(read_some(*p.server) == "<operation would block>");
    CHECK(state_of(*p.server) == State::kEstablished);
  }
}
