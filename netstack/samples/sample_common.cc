#include "netstack/samples/sample_common.h"

#include <CLI/CLI.hpp>

#include <cstdio>

#include "netstack/transport/tcp/protocol.h"
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

void add_common_options(CLI::App& app, SampleOptions& o) {
  app.add_option("--pcap", o.pcap, "write every packet crossing the TUN device to this pcap file");
  app.add_option("--loss", o.loss,
                 "drop this fraction of packets in each direction (chaos link under the stack, "
                 "0..1; default 0)")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--seed", o.seed, "seed of the chaos link's drops (default 1)");
  app.add_option("--pcap-side", o.pcap_side,
                 "where --pcap captures: wire (at the TUN device, default) or stack (above the "
                 "chaos link: what the stack received and sent)")
      ->check(CLI::IsMember({"wire", "stack"}));
  app.add_option("--timeout", o.timeout_seconds, "stop after this many seconds (default: SIGTERM)")
      ->check(CLI::NonNegativeNumber);
}

std::unique_ptr<Endpoint> new_tcp_endpoint(TunStack& ts, const char* program) {
  auto made = ts.stack->new_endpoint(tcp::kProtocolNumber);
  if (!made) {
    std::fprintf(stderr, "%s: new TCP endpoint: %s\n", program, errc_name(made.error()));
    return nullptr;
  }
  return std::move(made.value());
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
  const bool sniff_above_chaos = o.pcap_side == "stack";
  auto add_sniffer = [&]() -> bool {
    if (o.pcap.empty()) return true;
    auto sniffer = std::make_unique<link::SnifferEndpoint>(*nic_link, o.pcap, ts->clock);
    if (!sniffer->ok()) {
      std::fprintf(stderr, "--pcap %s\n", sniffer->error().c_str());
      return false;
    }
    ts->sniffer = sniffer.get();
    nic_link = sniffer.get();
    ts->layers.push_back(std::move(sniffer));
    return true;
  };
  if (!sniff_above_chaos && !add_sniffer()) return nullptr;
  if (o.loss > 0) {
    // By default above the sniffer, so the capture shows the wire: the kernel's segments that
    // we then drop, and our retransmissions of segments that never reached it.
    link::ChaosSettings lossy;
    lossy.loss = o.loss;
    auto chaos = std::make_unique<link::ChaosEndpoint>(*nic_link, ts->link_timers, o.seed, lossy, lossy);
    ts->chaos = chaos.get();
    nic_link = chaos.get();
    ts->layers.push_back(std::move(chaos));
  }
  if (sniff_above_chaos && !add_sniffer()) return nullptr;
  ts->stack = std::make_unique<Stack>(ts->clock);
  Stack& s = *ts->stack;
  if (!s.register_transport_protocol(std::make_unique<udp::UdpProtocol>())) {
    std::fprintf(stderr, "cannot register UDP\n");
    return nullptr;
  }
  if (!s.register_transport_protocol(tcp::make_protocol())) {
    std::fprintf(stderr, "cannot register TCP\n");
    return nullptr;
  }
  if (!s.create_nic(1, *nic_link) || !s.add_address(1, Subnet{*addr, 32})) {
    std::fprintf(stderr, "cannot configure the stack\n");
    return nullptr;
  }
  s.add_route(RouteEntry{Subnet{Ipv4Address{}, 0}, Ipv4Address{}, 1});
  return ts;
}

void print_stats(const TunStack& ts) {
  ts.stack->stats().for_each([](std::string_view name, std::uint64_t v) {
    if (v != 0) std::fprintf(stderr, "  %.*s %llu\n", static_cast<int>(name.size()), name.data(),
                             static_cast<unsigned long long>(v));
  });
  if (ts.chaos) {
    const auto& out = ts.chaos->outbound_counters();
    const auto& in = ts.chaos->inbound_counters();
    std::fprintf(stderr, "  chaos.outbound passed %llu lost %llu, inbound passed %llu lost %llu\n",
                 static_cast<unsigned long long>(out.passed), static_cast<unsigned long long>(out.lost),
                 static_cast<unsigned long long>(in.passed), static_cast<unsigned long long>(in.lost));
  }
}

int run(TunStack& ts, const SampleOptions& o) {
  RunOptions ro;
  ro.stop = &g_stop;
  if (o.timeout_seconds > 0)
    ro.timeout = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(o.timeout_seconds));
  const RunResult r = run_fd_link(*ts.stack, *ts.tun, ro);
  print_stats(ts);
  if (r == RunResult::kLinkFailed) {
    std::fprintf(stderr, "%s: the TUN device failed\n", o.tun.c_str());
    return 1;
  }
  return 0;
}

}  // namespace netstack::samples
