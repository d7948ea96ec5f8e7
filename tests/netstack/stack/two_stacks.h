// Two stacks joined by channel links, the scenario most stack tests start from.
//   a: 10.0.0.1/24 on NIC 1 (02:00:00:00:00:0a)  <—wire—>  b: 10.0.0.2/24 (02:00:00:00:00:0b)
#pragma once

#include <memory>

#include "netstack/link/channel.h"
#include "netstack/stack/stack.h"
#include "netstack/transport/udp/udp.h"
#include "tests/catch.h"

namespace netstack::test {

inline const Ipv4Address kAddrA = Ipv4Address::from_octets(10, 0, 0, 1);
inline const Ipv4Address kAddrB = Ipv4Address::from_octets(10, 0, 0, 2);
inline constexpr LinkAddress kMacA{{0x02, 0, 0, 0, 0, 0x0a}};
inline constexpr LinkAddress kMacB{{0x02, 0, 0, 0, 0, 0x0b}};

// One stack with UDP registered, a NIC 1 on `link` holding addr/24 and its on-link route.
inline void configure(Stack& s, LinkEndpoint& link, Ipv4Address addr) {
  REQUIRE(s.register_transport_protocol(std::make_unique<udp::UdpProtocol>()));
  REQUIRE(s.create_nic(1, link));
  REQUIRE(s.add_address(1, Subnet{addr, 24}));
  s.add_route(RouteEntry{Subnet{addr, 24}, Ipv4Address{}, 1});
}

struct TwoStacks {
  explicit TwoStacks(LinkMedium medium = LinkMedium::kEthernet, std::uint32_t mtu = 1500)
      : link_a(mtu, medium, kMacA), link_b(mtu, medium, kMacB), a(clock), b(clock) {
    configure(a, link_a, kAddrA);
    configure(b, link_b, kAddrB);
  }
  // Carries frames both ways until the wire is quiet; runs due timers on both sides.
  std::size_t pump() {
    a.run_due();
    b.run_due();
    return link::pump(link_a, link_b);
  }
  std::unique_ptr<Endpoint> udp(Stack& s, std::uint16_t port) {
    auto ep = s.new_endpoint(udp::kProtocolNumber);
    REQUIRE(ep);
    REQUIRE(ep.value()->bind(FullAddress{kAnyNic, Ipv4Address{}, port}));
    return std::move(ep.value());
  }

  FakeClock clock;
  link::ChannelEndpoint link_a, link_b;
  Stack a, b;
};

inline std::string read_string(Endpoint& ep, FullAddress* from = nullptr) {
  std::byte buf[70000];
  auto r = ep.read(buf);
  if (!r) return std::string("<") + errc_name(r.error()) + ">";
  if (from != nullptr) *from = r->from;
  return std::string(reinterpret_cast<const char*>(buf), r->bytes);
}

inline Expected<std::size_t> send_string(Endpoint& ep, const std::string& s, FullAddress to) {
  return ep.write(ByteView(reinterpret_cast<const std::byte*>(s.data()), s.size()),
                  WriteOptions{to});
}

}  // namespace netstack::test
