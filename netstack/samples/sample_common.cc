#include "netstack/samples/sample_common.h"

#include <cstdio>

#include "netstack/transport/udp/udp.h"

namespace netstack::samples {

volatile std::sig_atomic_t g_stop = 0;

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = [](int) { g_stop = 1; };
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
}

std::unique_ptr<TunStack> make_tun_stack(const SampleOptions& o) {
  auto addr = Ipv4Address::parse(o.addr);
  if (!addr) {
    std::fprintf(stderr, "--addr %s: not a dotted-quad IPv4 address\n", o.addr.c_str());
    return nullptr;
  }
  std::string error;
  const int fd = link::open_tun(o.tun, &error);
  if (fd < 0) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return nullptr;
  }
  auto ts = std::make_unique<TunStack>();
  ts->tun = std::make_unique<link::FdEndpoint>(fd, 1500);
  LinkEndpoint* nic_link = ts->tun.get();
  if (!o.pcap.empty()) {
    ts->sniffer = std::make_unique<link::SnifferEndpoint>(*ts->tun, o.pcap, ts->clock);
    if (!ts->sniffer->ok()) {
      std::fprintf(stderr, "--pcap %s\n", ts->sniffer->error().c_str());
      return nullptr;
    }
    nic_link = ts->sniffer.get();
  }
  ts->stack = std::make_unique<Stack>(ts->clock);
  Stack& s = *ts->stack;
  if (!s.register_transport_protocol(std::make_unique<udp::UdpProtocol>()) || !s.create_nic(1, *nic_link) ||
      !s.add_address(1, Subnet{*addr, 32})) {
    std::fprintf(stderr, "cannot configure the stack\n");
    return nullptr;
  }
  s.add_route(RouteEntry{Subnet{Ipv4Address{}, 0}, Ipv4Address{}, 1});
  return ts;
}

int run(TunStack& ts, const SampleOptions& o) {
  RunOptions ro;
  ro.stop = &g_stop;
  if (o.timeout_seconds > 0)
    ro.timeout = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(o.timeout_seconds));
  const RunResult r = run_fd_link(*ts.stack, *ts.tun, ro);
  ts.stack->stats().for_each([](std::string_view name, std::uint64_t v) {
    if (v != 0) std::fprintf(stderr, "  %.*s %llu\n", static_cast<int>(name.size()), name.data(),
                             static_cast<unsigned long long>(v));
  });
  if (r == RunResult::kLinkFailed) {
    std::fprintf(stderr, "%s: the TUN device failed\n", o.tun.c_str());
    return 1;
  }
  return 0;
}

}  // namespace netstack::samples
