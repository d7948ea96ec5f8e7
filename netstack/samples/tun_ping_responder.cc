// Answers ping on a TUN device the caller created (IFF_TUN, no packet info):
//   tun_ping_responder --tun tun0 --addr 10.77.0.2 [--pcap F] [--timeout S]
#include <CLI/CLI.hpp>

#include <cstdio>

#include "netstack/samples/sample_common.h"

int main(int argc, char** argv) {
  netstack::samples::SampleOptions o;
  CLI::App app{"Answer ICMP echo requests on a TUN device with the netstack userspace stack."};
  app.add_option("--tun", o.tun, "TUN device to attach to (created by the caller)")->required();
  app.add_option("--addr", o.addr, "the stack's own IPv4 address, A.B.C.D")->required();
  app.add_option("--pcap", o.pcap, "write every packet to this pcap file");
  app.add_option("--timeout", o.timeout_seconds, "stop after this many seconds (default: SIGTERM)")
      ->check(CLI::NonNegativeNumber);
  CLI11_PARSE(app, argc, argv);

  netstack::samples::install_stop_handlers();
  auto ts = netstack::samples::make_tun_stack(o);
  if (!ts) return 1;
  std::printf("ready: answering ping at %s on %s\n", o.addr.c_str(), o.tun.c_str());
  std::fflush(stdout);
  return netstack::samples::run(*ts, o);
}
