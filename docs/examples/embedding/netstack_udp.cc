// An embedder of netstack, built against the installed library only:
//   c++ -std=c++20 netstack_udp.cc $(pkg-config --cflags --libs sockshim-netstack) -o netstack_udp
// Two stacks joined by channel links (the test NIC: frames go where the embedder moves them);
// stack a sends one UDP datagram to stack b's port 7, which reads it.
#include <cstdio>
#include <memory>
#include <span>
#include <string>

#include "netstack/link/channel.h"
#include "netstack/stack/stack.h"
#include "netstack/transport/udp/udp.h"

int main() {
  using namespace netstack;
  SteadyClock clock;
  link::ChannelEndpoint wire_a(1500, LinkMedium::kEthernet, {{2, 0, 0, 0, 0, 1}});
  link::ChannelEndpoint wire_b(1500, LinkMedium::kEthernet, {{2, 0, 0, 0, 0, 2}});
  Stack a(clock), b(clock);
  auto setup = [](Stack& s, LinkEndpoint& link, const char* addr) {
    return s.register_transport_protocol(std::make_unique<udp::UdpProtocol>()) &&
           s.create_nic(1, link) && s.add_address(1, *Subnet::parse(addr)) &&
           (s.add_route({*Subnet::parse("10.0.0.0/24"), Ipv4Address::any(), 1}), true);
  };
  if (!setup(a, wire_a, "10.0.0.1/24") || !setup(b, wire_b, "10.0.0.2/24")) {
    std::fprintf(stderr, "stack setup failed\n");
    return 1;
  }
  auto server = std::move(b.new_endpoint(udp::kProtocolNumber).value());
  auto client = std::move(a.new_endpoint(udp::kProtocolNumber).value());
  if (!server->bind({kAnyNic, Ipv4Address::any(), 7})) {
    std::fprintf(stderr, "bind failed\n");
    return 1;
  }
  const std::string msg = "hello over a channel link";
  const auto sent = client->write(
      ByteView(reinterpret_cast<const std::byte*>(msg.data()), msg.size()),
      WriteOptions{FullAddress{kAnyNic, *Ipv4Address::parse("10.0.0.2"), 7}});
  if (!sent) {
    std::fprintf(stderr, "write: %s\n", std::string(errc_name(sent.error())).c_str());
    return 1;
  }
  // The embedder's loop: move frames between the links (ARP, then the datagram), run timers.
  while (link::pump(wire_a, wire_b) > 0) a.run_due(), b.run_due();
  char buf[64];
  const auto got = server->read(std::as_writable_bytes(std::span(buf)));
  if (!got) {
    std::fprintf(stderr, "read: %s\n", std::string(errc_name(got.error())).c_str());
    return 1;
  }
  const std::string received(buf, got->bytes);
  std::printf("b received \"%s\"\n", received.c_str());
  return received == msg ? 0 : 1;
}
