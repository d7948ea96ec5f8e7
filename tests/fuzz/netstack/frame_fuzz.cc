// libFuzzer target: arbitrary bytes as frames into a stack (an Ethernet NIC and a raw-IP NIC,
// a bound UDP endpoint that echoes), plus every header view's parse on the same bytes. Any
// out-of-bounds read, UB or crash is a finding; counters must add up afterwards.
//
// Input: byte 0 picks the NIC (even: Ethernet, odd: raw IP) and whether the fake clock jumps
// (bit 1, to reach ARP and reassembly timeouts); the rest is split into frames at every
// occurrence of the 4-byte separator "FRAG" so one input can carry several fragments.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>

#include "netstack/header/arp.h"
#include "netstack/header/ethernet.h"
#include "netstack/header/icmpv4.h"
#include "netstack/header/ipv4.h"
#include "netstack/header/tcp.h"
#include "netstack/header/udp.h"
#include "netstack/link/channel.h"
#include "netstack/stack/stack.h"
#include "netstack/transport/udp/udp.h"

using namespace netstack;

namespace {

void parse_all(ByteView b) {
  const Ipv4Address src = Ipv4Address::from_octets(10, 0, 0, 1), dst = Ipv4Address::from_octets(10, 0, 0, 2);
  if (auto e = header::EthernetView::parse(b)) (void)e->ether_type();
  if (auto a = header::ArpView::parse(b)) (void)a->target_ip();
  if (auto ip = header::Ipv4View::parse(b)) {
    (void)ip->checksum_valid();
    (void)ip->payload();
  }
  if (auto i = header::Icmpv4View::parse(b)) (void)i->checksum_valid();
  if (auto u = header::UdpView::parse(b)) (void)u->checksum_valid(src, dst);
  if (auto t = header::TcpView::parse(b)) {
    (void)t->checksum_valid(src, dst);
    // Emitting the parsed options must give an area that parses back to the same options.
    const header::TcpOptions& o = t->options();
    std::byte out[64];
    if (header::tcp_options_size(o) <= sizeof out) {
      header::emit_tcp_options(o, std::span(out, header::tcp_options_size(o)));
      auto again = header::parse_tcp_options(std::span(out, header::tcp_options_size(o)));
      if (!again || !(*again == o)) __builtin_trap();
    }
  }
}

struct World {
  FakeClock clock;
  link::ChannelEndpoint eth{1500, LinkMedium::kEthernet, LinkAddress{{2, 0, 0, 0, 0, 2}}};
  link::ChannelEndpoint raw{1500, LinkMedium::kRawIp};
  Stack stack{clock};
  std::unique_ptr<Endpoint> ep;
  World() {
    (void)stack.register_transport_protocol(std::make_unique<udp::UdpProtocol>());
    (void)stack.create_nic(1, eth);
    (void)stack.create_nic(2, raw);
    (void)stack.add_address(1, Subnet{Ipv4Address::from_octets(10, 0, 0, 2), 24});
    (void)stack.add_address(2, Subnet{Ipv4Address::from_octets(10, 9, 0, 2), 24});
    stack.add_route(RouteEntry{Subnet{Ipv4Address::from_octets(10, 0, 0, 0), 24}, {}, 1});
    stack.add_route(RouteEntry{Subnet{Ipv4Address{}, 0}, {}, 2});
    ep = std::move(stack.new_endpoint(udp::kProtocolNumber).value());
    (void)ep->bind(FullAddress{kAnyNic, Ipv4Address{}, 7});
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  World w;  // fresh per input: findings reproduce from the input alone
  const std::uint8_t control = data[0];
  link::ChannelEndpoint& link = (control & 1) ? w.raw : w.eth;
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  std::size_t start = 0;
  for (int frames = 0; frames < 64 && start <= rest.size(); ++frames) {
    std::size_t end = rest.find("FRAG", start);
    if (end == std::string_view::npos) end = rest.size();
    // Each frame in a buffer of exactly its size, so ASan sees any read past the end.
    const auto* p = reinterpret_cast<const std::byte*>(rest.data() + start);
    std::unique_ptr<std::byte[]> exact(new std::byte[end - start + 1]);
    std::memcpy(exact.get(), p, end - start);
    const ByteView frame(exact.get(), end - start);
    parse_all(frame);
    link.inject(frame);
    start = end + 4;
  }
  // Echo what the endpoint received, then let time pass so timers fire.
  std::byte buf[2048];
  while (auto r = w.ep->read(buf)) (void)w.ep->write(ByteView(buf, r->bytes), WriteOptions{r->from});
  if (control & 2) w.clock.advance(std::chrono::seconds(61));
  w.stack.run_due();
  while (w.eth.read_outbound()) {
  }
  while (w.raw.read_outbound()) {
  }
  return 0;
}
