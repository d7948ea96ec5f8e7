// Opening connections between two stacks: the three-way handshake and its options on the wire,
// simultaneous open, refused connections, the listen backlog and the accept queue.
#include "tests/netstack/tcp/tcp_net.h"

using namespace netstack;
using namespace netstack::tcp;
using namespace netstack::tcp::test;
using namespace std::chrono_literals;

TEST_CASE("handshake negotiates MSS, window scale, SACK and timestamps on the wire", "[tcp][open]") {
  TcpNet net;
  auto lst = listener(net.b, 80);
  int listener_events = 0;
  lst->waiter_queue().subscribe(kEventIn, [&](EventMask) { ++listener_events; });
  auto client = start_connect(net.a, kAddrB, 80);
  EventMask client_events = 0;
  client->waiter_queue().subscribe(kEventOut | kEventErr, [&](EventMask e) { client_events |= e; });
  CHECK(state_of(*client) == State::kSynSent);
  CHECK(client->readiness(kEventOut | kEventIn) == 0);
  CHECK(client->write(bytes_of("early"), {}).error() == Errc::kWouldBlock);
  CHECK(client->connect(FullAddress{kAnyNic, kAddrB, 80}) == Errc::kAlreadyConnecting);
  CHECK(client->accept().error() == Errc::kInvalidEndpointState);
  CHECK(lst->accept().error() == Errc::kWouldBlock);
  net.settle();

  REQUIRE(net.wire.size() >= 3);
  const WireSegment& syn = net.wire[0];
  const WireSegment& synack = net.wire[1];
  const WireSegment& ack = net.wire[2];
  CHECK(syn.from_a);
  CHECK(syn.flags == header::kTcpFlagSyn);
  CHECK(syn.options.mss == 1460);  // route MTU 1500 - 40
  REQUIRE(syn.options.window_scale);
  CHECK(*syn.options.window_scale == 2);  // a 128 KiB receive buffer needs a shift of 2
  CHECK(syn.options.sack_permitted);
  REQUIRE(syn.options.timestamps);
  CHECK(syn.options.timestamps->tsecr == 0);
  CHECK(!synack.from_a);
  CHECK(synack.flags == (header::kTcpFlagSyn | header::kTcpFlagAck));
  CHECK(synack.ack == syn.seq + 1);
  CHECK(synack.options.mss == 1460);
  CHECK(synack.options.window_scale);
  CHECK(synack.options.sack_permitted);
  REQUIRE(synack.options.timestamps);
  CHECK(synack.options.timestamps->tsecr == syn.options.timestamps->tsval);
  CHECK(ack.from_a);
  CHECK(ack.flags == header::kTcpFlagAck);
  CHECK(ack.seq == syn.seq + 1);
  CHECK(ack.ack == synack.seq + 1);
  REQUIRE(ack.options.timestamps);  // negotiated: on every segment from now on
  CHECK(ack.options.timestamps->tsecr == synack.options.timestamps->tsval);

  CHECK(listener_events == 1);
  CHECK(lst->readiness(kEventIn) == kEventIn);
  auto server = lst->accept();
  REQUIRE(server);
  CHECK(state_of(*client) == State::kEstablished);
  CHECK(state_of(**server) == State::kEstablished);
  CHECK(client->readiness(kEventOut | kEventErr) == kEventOut);
  CHECK(client->get_sock_opt(SockOpt::kError).value() == 0);
  CHECK(client->get_sock_opt(SockOpt::kMaxSegment).value() == 1448);  // 1460 - 12 (timestamps)
  auto remote = (*server)->get_remote_address();
  REQUIRE(remote);
  CHECK(remote->addr == kAddrA);
  CHECK(remote->port == client->get_local_address()->port);
  CHECK(lst->accept().error() == Errc::kWouldBlock);
  CHECK(client_events == kEventOut);  // connect completed: writable, no error
  CHECK(client->connect(FullAddress{kAnyNic, kAddrB, 80}) == Errc::kAlreadyConnected);
  // The accepted endpoint has its own waiter queue.
  int server_in = 0;
  (*server)->waiter_queue().subscribe(kEventIn, [&](EventMask) { ++server_in; });
  REQUIRE(client->write(bytes_of("hi"), {}).value() == 2);
  net.settle();
  CHECK(server_in == 1);
  CHECK((*server)->readiness(kEventIn | kEventOut) == (kEventIn | kEventOut));
  CHECK(read_some(**server) == "hi");
  CHECK((*server)->readiness(kEventIn) == 0);
}

TEST_CASE("a SYN with only MSS gets a SYN-ACK without the other options; its MSS is honoured",
          "[tcp][open]") {
  TcpNet net;
  auto lst = listener(net.b, 80);
  std::vector<WireSegment> to_a;  // b's answers, kept from a (which has no such connection)
  net.drop = [&](const WireSegment& s) {
    if (s.from_a) return false;
    to_a.push_back(s);
    return true;
  };
  header::TcpFields syn;
  syn.src_port = 40000;
  syn.dst_port = 80;
  syn.seq_number = 1000;
  syn.flags = header::kTcpFlagSyn;
  syn.window = 8192;
  syn.options.mss = 1000;
  net.inject_into_b(syn);
  net.settle();
  REQUIRE(to_a.size() == 1);
  const WireSegment synack = to_a[0];
  CHECK(synack.flags == (header::kTcpFlagSyn | header::kTcpFlagAck));
  CHECK(synack.ack == 1001);
  CHECK(synack.options.mss == 1460);
  CHECK(!synack.options.window_scale);
  CHECK(!synack.options.sack_permitted);
  CHECK(!synack.options.timestamps);
  header::TcpFields ack;
  ack.src_port = 40000;
  ack.dst_port = 80;
  ack.seq_number = 1001;
  ack.ack_number = synack.seq + 1;
  ack.flags = header::kTcpFlagAck;
  ack.window = 8192;  // unscaled: 8192 bytes
  net.inject_into_b(ack);
  net.settle();
  auto server = lst->accept();
  REQUIRE(server);
  CHECK((*server)->get_sock_opt(SockOpt::kMaxSegment).value() == 1000);
  REQUIRE((*server)->set_sock_opt(SockOpt::kNoDelay, 1));
  const std::string data(5000, 'd');
  REQUIRE((*server)->write(bytes_of(data), {}).value() == data.size());
  net.settle();
  std::size_t bytes = 0;
  for (std::size_t i = 1; i < to_a.size(); ++i) {
    CHECK(to_a[i].payload <= 1000);
    CHECK(!to_a[i].options.timestamps);
    bytes += to_a[i].payload;
  }
  CHECK(bytes == 5000);  // within the peer's 8192-byte window, in segments of its MSS
}

TEST_CASE("simultaneous open: SYNs cross, both sides reach ESTABLISHED", "[tcp][open]") {
  TcpNet net;
  auto ea = new_tcp(net.a);
  auto eb = new_tcp(net.b);
  REQUIRE(ea->bind(FullAddress{kAnyNic, Ipv4Address{}, 5000}));
  REQUIRE(eb->bind(FullAddress{kAnyNic, Ipv4Address{}, 6000}));
  REQUIRE(ea->connect(FullAddress{kAnyNic, kAddrB, 6000}) == Errc::kConnectStarted);
  REQUIRE(eb->connect(FullAddress{kAnyNic, kAddrA, 5000}) == Errc::kConnectStarted);
  REQUIRE(net.run_until([&] {
    return state_of(*ea) == State::kEstablished && state_of(*eb) == State::kEstablished;
  }, 10s));
  // Both SYNs went out before either arrived; each side then answered with a SYN-ACK.
  REQUIRE(net.wire.size() >= 4);
  CHECK(net.wire[0].flags == header::kTcpFlagSyn);
  CHECK(net.wire[1].flags == header::kTcpFlagSyn);
  CHECK(net.wire[2].flags == (header::kTcpFlagSyn | header::kTcpFlagAck));
  CHECK(net.wire[3].flags == (header::kTcpFlagSyn | header::kTcpFlagAck));
  REQUIRE(ea->write(bytes_of("ping"), {}));
  REQUIRE(eb->write(bytes_of("pong"), {}));
  net.settle();
  CHECK(read_some(*eb) == "ping");
  CHECK(read_some(*ea) == "pong");
}

TEST_CASE("connect to a closed port: RST, kConnectionRefused through kError", "[tcp][open][rst]") {
  TcpNet net;
  auto client = start_connect(net.a, kAddrB, 9);
  EventMask seen = 0;
  client->waiter_queue().subscribe(kEventErr | kEventOut, [&](EventMask e) { seen |= e; });
  net.settle();
  REQUIRE(net.wire.size() == 2);
  const WireSegment& rst = net.wire[1];
  CHECK(rst.flags == (header::kTcpFlagRst | header::kTcpFlagAck));
  CHECK(rst.seq == 0);
  CHECK(rst.ack == net.wire[0].seq + 1);
  CHECK((seen & kEventErr) != 0);
  CHECK(client->readiness(kEventErr) == kEventErr);
  CHECK(client->get_sock_opt(SockOpt::kError).value() == to_errno(Errc::kConnectionRefused));
  CHECK(client->get_sock_opt(SockOpt::kError).value() == 0);  // read and cleared
  CHECK(state_of(*client) == State::kClosed);
  CHECK(net.b.stats().tcp_resets_sent == 1);
}

TEST_CASE("data for a connection its user closed is answered with RST", "[tcp][rst]") {
  TcpNet net;
  auto p = connect_pair(net);
  p.server.reset();  // closes: no unread data, so this is a FIN, not an abort
  net.settle();
  CHECK(state_of(*p.client) == State::kCloseWait);
  net.wire.clear();
  REQUIRE(p.client->write(bytes_of("late"), {}));
  net.settle();
  // b is in FIN-WAIT-2 without a user: the data is answered with RST (nobody will read it).
  bool saw_rst = false;
  for (const auto& s : net.wire) saw_rst |= !s.from_a && s.has(header::kTcpFlagRst);
  CHECK(saw_rst);
  CHECK(p.client->get_sock_opt(SockOpt::kError).value() == to_errno(Errc::kConnectionReset));
}

TEST_CASE("listen backlog full: the extra SYN is dropped until accept makes room", "[tcp][open]") {
  TcpNet net;
  auto lst = listener(net.b, 80, 1);
  auto c1 = start_connect(net.a, kAddrB, 80);
  net.settle();
  CHECK(state_of(*c1) == State::kEstablished);
  auto c2 = start_connect(net.a, kAddrB, 80);
  net.settle();
  CHECK(state_of(*c2) == State::kSynSent);
  CHECK(net.b.stats().tcp_listen_overflows == 1);
  auto first = lst->accept();
  REQUIRE(first);
  // c2's SYN is retransmitted after 1 s and now finds room.
  std::unique_ptr<Endpoint> second;
  REQUIRE(net.run_until([&] {
    if (auto r = lst->accept()) second = std::move(r.value());
    return second != nullptr;
  }, 5s));
  CHECK(net.clock.now() - net.wire.front().at >= 1s);
  CHECK(state_of(*c2) == State::kEstablished);
  CHECK(lst->accept().error() == Errc::kWouldBlock);
}

TEST_CASE("closing a listener resets connections nobody accepted", "[tcp][open][rst]") {
  TcpNet net;
  auto lst = listener(net.b, 80);
  auto c = start_connect(net.a, kAddrB, 80);
  net.settle();
  CHECK(state_of(*c) == State::kEstablished);
  lst->close();
  net.settle();
  CHECK(state_of(*c) == State::kClosed);
  CHECK(c->get_sock_opt(SockOpt::kError).value() == to_errno(Errc::kConnectionReset));
  // The port is free again.
  auto again = listener(net.b, 80);
  CHECK(state_of(*again) == State::kListen);
}
