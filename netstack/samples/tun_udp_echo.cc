// Answers ping and echoes UDP datagrams on one port, on a TUN device the caller created:
//   tun_udp_echo --tun tun0 --addr 10.77.0.2 --port 7 [--pcap F] [--timeout S]
#include <CLI/CLI.hpp>

#include <cstdio>
#include <vector>

#include "netstack/samples/sample_common.h"
#include "netstack/transport/udp/udp.h"

int main(int argc, char** argv) {
  netstack::samples::SampleOptions o;
  CLI::App app{"Echo UDP datagrams (and answer ping) on a TUN device with the netstack userspace stack."};
  app.add_option("--tun", o.tun, "TUN device to attach to (created by the caller)")->required();
  app.add_option("--addr", o.addr, "the stack's own IPv4 address, A.B.C.D")->required();
  app.add_option("--port", o.port, "UDP port to echo on")->check(CLI::Range(1, 65535));
  app.add_option("--pcap", o.pcap, "write every packet to this pcap file");
  app.add_option("--timeout", o.timeout_seconds, "stop after this many seconds (default: SIGTERM)")
      ->check(CLI::NonNegativeNumber);
  CLI11_PARSE(app, argc, argv);

  netstack::samples::install_stop_handlers();
  auto ts = netstack::samples::make_tun_stack(o);
  if (!ts) return 1;
  auto ep = ts->stack->new_endpoint(netstack::udp::kProtocolNumber);
  if (!ep) return 1;
  netstack::Endpoint& echo = *ep.value();
  if (auto s = echo.bind({netstack::kAnyNic, {}, static_cast<std::uint16_t>(o.port)}); !s) {
    std::fprintf(stderr, "bind port %d: %s\n", o.port, netstack::errc_name(s.error()));
    return 1;
  }
  // Readiness drives the echo: whenever the endpoint becomes readable, send everything back.
  std::vector<std::byte> buf(65536);
  echo.waiter_queue().subscribe(netstack::kEventIn, [&](netstack::EventMask) {
    for (int i = 0; i < 64; ++i) {
      auto r = echo.read(buf);
      if (!r) break;
      (void)echo.write(netstack::ByteView(buf.data(), r->bytes), netstack::WriteOptions{r->from});
    }
  });
  std::printf("ready: echoing UDP port %d and answering ping at %s on %s\n", o.port, o.addr.c_str(),
              o.tun.c_str());
  std::fflush(stdout);
  return netstack::samples::run(*ts, o);
}
