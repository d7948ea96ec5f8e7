// Measures for scripts/bench-netstack.sh:
//   netstack_bench udp N       N 64-byte UDP datagrams a -> b over channel links (Ethernet, ARP
//                              resolved once); prints datagrams per second of wall time.
//   netstack_bench parse N     N times: IPv4 parse + header checksum + UDP parse + UDP checksum
//                              of one 42-byte packet; prints ns per packet.
// Only figures on stdout ("udp_datagrams_per_sec 123"), nothing asserted.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "netstack/header/checksum.h"
#include "netstack/header/ipv4.h"
#include "netstack/header/udp.h"
#include "netstack/link/channel.h"
#include "netstack/stack/stack.h"
#include "netstack/transport/udp/udp.h"

using namespace netstack;
using WallClock = std::chrono::steady_clock;

namespace {

int bench_udp(long n) {
  SteadyClock clock;
  link::ChannelEndpoint wa(1500, LinkMedium::kEthernet, {{2, 0, 0, 0, 0, 1}});
  link::ChannelEndpoint wb(1500, LinkMedium::kEthernet, {{2, 0, 0, 0, 0, 2}});
  Stack a(clock), b(clock);
  for (auto [s, w, addr] : {std::tuple{&a, &wa, "10.0.0.1/24"}, std::tuple{&b, &wb, "10.0.0.2/24"}}) {
    (void)s->register_transport_protocol(std::make_unique<udp::UdpProtocol>());
    (void)s->create_nic(1, *w);
    (void)s->add_address(1, *Subnet::parse(addr));
    s->add_route({*Subnet::parse("10.0.0.0/24"), {}, 1});
  }
  auto server = std::move(b.new_endpoint(udp::kProtocolNumber).value());
  auto client = std::move(a.new_endpoint(udp::kProtocolNumber).value());
  (void)server->bind({kAnyNic, {}, 7});
  (void)client->connect({kAnyNic, *Ipv4Address::parse("10.0.0.2"), 7});
  std::byte payload[64] = {};
  std::byte buf[128];
  long received = 0;
  // Warm-up: resolves ARP so the timed loop measures the steady state.
  (void)client->write(payload, {});
  link::pump(wa, wb);
  while (server->read(buf)) {
  }
  const auto t0 = WallClock::now();
  for (long i = 0; i < n; i += 32) {
    for (long j = 0; j < 32 && i + j < n; ++j) (void)client->write(payload, {});
    link::pump(wa, wb);
    while (server->read(buf)) ++received;
  }
  const double secs = std::chrono::duration<double>(WallClock::now() - t0).count();
  std::printf("udp_datagrams %ld\nudp_received %ld\nudp_seconds %.6f\nudp_datagrams_per_sec %.0f\n", n,
              received, secs, static_cast<double>(received) / secs);
  return received == n ? 0 : 1;
}

int bench_parse(long n) {
  // A kernel-made UDP datagram (tests/netstack/data/kernel_udp_hello.hex), 10.9.0.1 -> 10.9.0.2.
  static const unsigned char kPacket[] = {
      0x45, 0x00, 0x00, 0x2a, 0, 0, 0x40, 0x00, 0x40, 0x11, 0, 0, 10, 9, 0, 1, 10, 9, 0, 2,
      0x9e, 0x56, 0x27, 0x0f, 0x00, 0x16, 0, 0, 'h', 'e', 'l', 'l', 'o', ' ', 'n', 'e', 't', 's',
      't', 'a', 'c', 'k'};
  std::byte pkt[sizeof kPacket];
  std::memcpy(pkt, kPacket, sizeof pkt);
  // Fill in both checksums so the loop verifies valid sums, like the receive path.
  header::store_be16(pkt, 10, header::finish(header::checksum(std::span(pkt).first(20))));
  const auto src = Ipv4Address::from_octets(10, 9, 0, 1), dst = Ipv4Address::from_octets(10, 9, 0, 2);
  header::store_be16(pkt, 26, header::finish(header::checksum(
                                  std::span(pkt).subspan(20), header::pseudo_header_checksum(17, src, dst, 22))));
  long ok = 0;
  const auto t0 = WallClock::now();
  for (long i = 0; i < n; ++i) {
    asm volatile("" : : "r"(pkt) : "memory");  // the compiler may not hoist the work out
    auto ip = header::Ipv4View::parse(pkt);
    if (!ip || !ip->checksum_valid()) continue;
    auto udp = header::UdpView::parse(ip->payload());
    if (udp && udp->checksum_valid(ip->src(), ip->dst())) ++ok;
  }
  const double ns = std::chrono::duration<double, std::nano>(WallClock::now() - t0).count();
  std::printf("parse_packets %ld\nparse_valid %ld\nparse_ns_per_packet %.2f\n", n, ok, ns / static_cast<double>(n));
  return ok == n ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 || (std::strcmp(argv[1], "udp") != 0 && std::strcmp(argv[1], "parse") != 0)) {
    std::fprintf(stderr, "usage: netstack_bench udp|parse N\n");
    return argc == 2 && std::strcmp(argv[1], "--help") == 0 ? 0 : 2;
  }
  const long n = std::strtol(argv[2], nullptr, 10);
  if (n <= 0) {
    std::fprintf(stderr, "netstack_bench: N must be a positive number, got %s\n", argv[2]);
    return 2;
  }
  return std::strcmp(argv[1], "udp") == 0 ? bench_udp(n) : bench_parse(n);
}
