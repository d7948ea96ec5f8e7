// Two stacks over channel links exchanging UDP, with the endpoint API's error paths.
#include "tests/netstack/stack/two_stacks.h"
#include "tests/netstack/test_util.h"

using namespace netstack;
using namespace netstack::test;

TEST_CASE("udp datagram from a to b and the answer back, ARP resolving on the way", "[stack][udp]") {
  TwoStacks net;
  auto server = net.udp(net.b, 7);
  auto client = net.udp(net.a, 0);
  const auto local = client->get_local_address();
  REQUIRE(local);
  CHECK(local->port >= PortManager::kEphemeralFirst);

  REQUIRE(send_string(*client, "ping", FullAddress{kAnyNic, kAddrB, 7}));
  net.pump();
  CHECK(server->readiness(kEventIn) == kEventIn);
  FullAddress from;
  CHECK(read_string(*server, &from) == "ping");
  CHECK(from.addr == kAddrA);
  CHECK(from.port == local->port);
  REQUIRE(send_string(*server, "pong", from));
  net.pump();
  CHECK(read_string(*client) == "pong");
  CHECK(read_string(*client) == "<operation would block>");
  CHECK(net.a.stats().arp_requests_sent == 1);
  CHECK(net.b.stats().arp_replies_sent == 1);
  CHECK(net.b.stats().udp_datagrams_received == 1);
  CHECK(net.a.stats().malformed_received == 0);
}

TEST_CASE("connected udp endpoint: remote address, filtering, refused port", "[stack][udp]") {
  TwoStacks net;
  auto server = net.udp(net.b, 7);
  auto client = net.a.new_endpoint(udp::kProtocolNumber).value();
  REQUIRE(client->connect(FullAddress{kAnyNic, kAddrB, 7}));
  CHECK(client->get_remote_address()->port == 7);
  CHECK(client->get_local_address()->addr == kAddrA);
  const std::string msg = "hello";
  REQUIRE(client->write(ByteView(reinterpret_cast<const std::byte*>(msg.data()), msg.size()), {}));
  net.pump();
  CHECK(read_string(*server) == "hello");

  // Nobody listens on port 9: b answers ICMP port unreachable; the connected client sees it.
  REQUIRE(client->connect(FullAddress{kAnyNic, kAddrB, 9}));
  REQUIRE(client->write(ByteView(reinterpret_cast<const std::byte*>(msg.data()), msg.size()), {}));
  net.pump();
  CHECK(net.b.stats().udp_unknown_port == 1);
  CHECK(net.b.stats().icmp_dest_unreachable_sent == 1);
  CHECK(net.a.stats().icmp_dest_unreachable_received == 1);
  CHECK(client->readiness(kEventErr) == kEventErr);
  CHECK(client->get_sock_opt(SockOpt::kError).value() == ECONNREFUSED);
  CHECK(client->get_sock_opt(SockOpt::kError).value() == 0);
}

TEST_CASE("endpoint API error space", "[stack][udp][errors]") {
  TwoStacks net;
  auto a1 = net.udp(net.a, 5000);
  auto a2 = net.a.new_endpoint(udp::kProtocolNumber).value();
  CHECK(a2->bind(FullAddress{kAnyNic, Ipv4Address{}, 5000}) == Errc::kPortInUse);
  CHECK(a2->bind(FullAddress{kAnyNic, kAddrB, 5001}) == Errc::kBadLocalAddress);
  CHECK(a1->bind(FullAddress{kAnyNic, Ipv4Address{}, 5002}) == Errc::kAlreadyBound);
  CHECK(send_string(*a2, "x", FullAddress{kAnyNic, Ipv4Address::from_octets(192, 168, 1, 1), 7})
            .error() == Errc::kNoRoute);
  std::byte buf[4];
  CHECK(a1->read(buf).error() == Errc::kWouldBlock);
  CHECK(a1->write(ByteView(buf, 4), {}).error() == Errc::kDestinationRequired);
  CHECK(a1->listen(1) == Errc::kNotSupported);
  CHECK(a1->accept().error() == Errc::kNotSupported);
  CHECK(a1->get_remote_address().error() == Errc::kNotConnected);
  CHECK(a1->shutdown(kShutdownWrite) == Errc::kNotConnected);
  CHECK(net.a.new_endpoint(99).error() == Errc::kUnknownProtocol);
  CHECK(a1->set_sock_opt(SockOpt::kTtl, 0) == Errc::kInvalidOptionValue);
  REQUIRE(a1->set_sock_opt(SockOpt::kTtl, 3));
  CHECK(a1->get_sock_opt(SockOpt::kTtl).value() == 3);
  // TCP's options are not UDP's: both directions say so, and change nothing.
  for (SockOpt tcp_opt : {SockOpt::kNoDelay, SockOpt::kKeepAlive, SockOpt::kKeepIdle, SockOpt::kKeepInterval,
                          SockOpt::kKeepCount, SockOpt::kMaxSegment, SockOpt::kState}) {
    CHECK(tcp_only(tcp_opt));
    CHECK(a1->set_sock_opt(tcp_opt, 1) == Errc::kUnknownProtocolOption);
    CHECK(a1->get_sock_opt(tcp_opt).error() == Errc::kUnknownProtocolOption);
  }
  CHECK_FALSE(tcp_only(SockOpt::kError));
  CHECK(a1->get_sock_opt(SockOpt::kTtl).value() == 3);
  std::vector<std::byte> huge(70000);
  CHECK(a1->write(huge, WriteOptions{FullAddress{kAnyNic, kAddrB, 7}}).error() == Errc::kMessageTooLong);
  a1->close();
  CHECK(a1->read(buf).error() == Errc::kInvalidEndpointState);
  // The port is free again once closed. (a2 is bound already: sendto bound it, as Linux's
  // inet_autobind does, even though the route lookup then failed.)
  CHECK(a2->bind(FullAddress{kAnyNic, Ipv4Address{}, 5000}) == Errc::kAlreadyBound);
  auto a3 = net.a.new_endpoint(udp::kProtocolNumber).value();
  CHECK(a3->bind(FullAddress{kAnyNic, Ipv4Address{}, 5000}));
}

TEST_CASE("peek leaves the datagram; short reads truncate like recvfrom", "[stack][udp]") {
  TwoStacks net;
  auto server = net.udp(net.b, 7);
  auto client = net.udp(net.a, 0);
  REQUIRE(send_string(*client, "abcdef", FullAddress{kAnyNic, kAddrB, 7}));
  net.pump();
  CHECK(server->get_sock_opt(SockOpt::kReceiveQueueSize).value() == 6);
  std::byte buf[3];
  auto p = server->peek(buf);
  REQUIRE(p);
  CHECK(p->bytes == 3);
  CHECK(p->available == 6);
  auto r = server->read(buf);
  REQUIRE(r);
  CHECK(r->available == 6);
  CHECK(server->read(buf).error() == Errc::kWouldBlock);
}

TEST_CASE("waiter queue hears of readable data", "[stack][udp][waiter]") {
  TwoStacks net;
  auto server = net.udp(net.b, 7);
  auto client = net.udp(net.a, 0);
  int woken = 0;
  EventMask seen = 0;
  const auto h = server->waiter_queue().subscribe(kEventIn, [&](EventMask m) { ++woken, seen = m; });
  REQUIRE(send_string(*client, "x", FullAddress{kAnyNic, kAddrB, 7}));
  net.pump();
  CHECK(woken == 1);
  CHECK(seen == kEventIn);
  server->waiter_queue().unsubscribe(h);
  REQUIRE(send_string(*client, "y", FullAddress{kAnyNic, kAddrB, 7}));
  net.pump();
  CHECK(woken == 1);
}

TEST_CASE("large datagrams are fragmented by the sender and reassembled by the receiver", "[stack][udp][ipv4]") {
  TwoStacks net;
  auto server = net.udp(net.b, 7);
  auto client = net.udp(net.a, 0);
  std::string big(4000, 'x');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  REQUIRE(send_string(*client, big, FullAddress{kAnyNic, kAddrB, 7}));
  net.pump();
  CHECK(net.a.stats().ip_fragments_sent == 3);
  CHECK(net.b.stats().ip_reassembled == 1);
  CHECK(read_string(*server) == big);
}

TEST_CASE("route table: longest prefix wins, gateway becomes the next hop", "[stack][route]") {
  RouteTable t;
  t.add({*Subnet::parse("0.0.0.0/0"), *Ipv4Address::parse("10.0.0.254"), 1});
  t.add({*Subnet::parse("10.0.0.0/8"), Ipv4Address{}, 2});
  t.add({*Subnet::parse("10.1.0.0/16"), Ipv4Address{}, 3});
  CHECK(t.lookup(*Ipv4Address::parse("10.1.2.3"))->nic == 3);
  CHECK(t.lookup(*Ipv4Address::parse("10.2.2.3"))->nic == 2);
  CHECK(t.lookup(*Ipv4Address::parse("8.8.8.8"))->nic == 1);
  CHECK(t.lookup(*Ipv4Address::parse("10.1.2.3"), 1)->nic == 1);
  CHECK(t.remove({*Subnet::parse("0.0.0.0/0"), *Ipv4Address::parse("10.0.0.254"), 1}) == 1);
  CHECK_FALSE(t.lookup(*Ipv4Address::parse("8.8.8.8")));

  TwoStacks net;
  net.a.add_route({*Subnet::parse("0.0.0.0/0"), kAddrB, 1});
  auto r = net.a.find_route(kAnyNic, Ipv4Address{}, *Ipv4Address::parse("192.0.2.1"));
  REQUIRE(r);
  CHECK(r->next_hop == kAddrB);
  CHECK(r->local == kAddrA);
  CHECK(r->mtu == 1500);
}

TEST_CASE("ports manager refuses duplicates and hands out ephemeral ports", "[ports]") {
  PortManager pm(7);
  const auto any = Ipv4Address{};
  const auto a = kAddrA;
  CHECK(pm.reserve(17, a, 80).value() == 80);
  CHECK(pm.reserve(17, any, 80).error() == Errc::kPortInUse);  // any overlaps every address
  CHECK(pm.reserve(17, kAddrB, 80).value() == 80);             // another address is fine
  CHECK(pm.reserve(6, a, 80).value() == 80);                   // another protocol is fine
  auto e1 = pm.reserve(17, any, 0), e2 = pm.reserve(17, any, 0);
  REQUIRE(e1);
  REQUIRE(e2);
  CHECK(*e1 != *e2);
  CHECK(*e1 >= PortManager::kEphemeralFirst);
  CHECK(*e1 <= PortManager::kEphemeralLast);
  pm.release(17, a, 80);
  CHECK(pm.is_available(17, a, 80));
  CHECK_FALSE(pm.is_available(17, any, 80));  // kAddrB still holds it
  CHECK(pm.reserved_count() == 4);
}
