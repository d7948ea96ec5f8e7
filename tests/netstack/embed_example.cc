#include <string>

#include "netstack/link/channel.h"
#include "netstack/stack/stack.h"
#include "netstack/transport/udp/udp.h"

// Two stacks joined by a wire of channel links; a sends "hello" to b's UDP port 7.
std::string embed_example() {
  using namespace netstack;
  SteadyClock clock;  // tests pass a FakeClock instead
  link::ChannelEndpoint wire_a(1500, LinkMedium::kEthernet, {{2, 0, 0, 0, 0, 1}});
  link::ChannelEndpoint wire_b(1500, LinkMedium::kEthernet, {{2, 0, 0, 0, 0, 2}});
  Stack a(clock), b(clock);
  auto setup = [](Stack& s, LinkEndpoint& link, const char* addr) {
    (void)s.register_transport_protocol(std::make_unique<udp::UdpProtocol>());
    (void)s.create_nic(1, link);
    (void)s.add_address(1, *Subnet::parse(addr));
    s.add_route({*Subnet::parse("10.0.0.0/24"), Ipv4Address::any(), 1});
  };
  setup(a, wire_a, "10.0.0.1/24");
  setup(b, wire_b, "10.0.0.2/24");
  auto server = std::move(b.new_endpoint(udp::kProtocolNumber).value());
  auto client = std::move(a.new_endpoint(udp::kProtocolNumber).value());
  (void)server->bind({kAnyNic, Ipv4Address::any(), 7});
  const std::string msg = "hello";
  (void)client->write(ByteView(reinterpret_cast<const std::byte*>(msg.data()), msg.size()),
                      WriteOptions{FullAddress{kAnyNic, *Ipv4Address::parse("10.0.0.2"), 7}});
  // The embedder's loop: move frames (ARP, then the datagram), run due timers.
  while (link::pump(wire_a, wire_b) > 0) a.run_due(), b.run_due();
  char buf[64];
  auto r = server->read(std::as_writable_bytes(std::span(buf)));
  return r ? std::string(buf, r->bytes) : std::string(errc_name(r.error()));
}
