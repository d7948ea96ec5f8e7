// What the TUN samples share: the command line, opening the device, building the stack.
#pragma once

#include <csignal>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "netstack/link/chaos.h"
#include "netstack/link/fdbased.h"
#include "netstack/link/sniffer.h"
#include "netstack/runner/tun_runner.h"
#include "netstack/stack/stack.h"

namespace CLI {
class App;
}

namespace netstack::samples {

struct SampleOptions {
  std::string tun;
  std::string addr;
  std::string pcap;
  double timeout_seconds = 0;  // 0: until SIGTERM
  int port = 7;
  double loss = 0;             // --loss: chaos link drop probability, each direction
  std::uint64_t seed = 1;      // --seed: the chaos link's random sequence
  // --pcap-side: "wire" captures at the TUN device (below the chaos link), "stack" above it,
  // as the stack sees the traffic (what it received after the drops, what it sent before).
  std::string pcap_side = "wire";
};

// --pcap, --pcap-side, --timeout, --loss and --seed, worded the same in every sample.
void add_common_options(CLI::App& app, SampleOptions& o);

// A stack on the TUN device: NIC 1 with addr/32 and a default route out of it (the kernel is
// the only peer on a TUN link), ICMP echo always on, UDP registered, TCP too when built with it.
// Link stack, bottom up: TUN, sniffer (--pcap: what crosses the device), chaos (--loss > 0);
// with --pcap-side stack the sniffer goes above the chaos link instead.
// Members are declared so that the stack goes first and the links it points to after it.
struct TunStack {
  SteadyClock clock;
  TimerQueue link_timers{clock};  // the chaos link's own (it outlives the stack's)
  std::unique_ptr<link::FdEndpoint> tun;
  // The wrappers above the device, bottom first; each points at the one below, so they are
  // destroyed top first (~TunStack), after the stack.
  std::vector<std::unique_ptr<LinkEndpoint>> layers;
  link::SnifferEndpoint* sniffer = nullptr;  // in layers, when --pcap
  link::ChaosEndpoint* chaos = nullptr;      // in layers, when --loss > 0
  std::unique_ptr<Stack> stack;

  TunStack() = default;
  TunStack(const TunStack&) = delete;
  TunStack& operator=(const TunStack&) = delete;
  ~TunStack() {
    stack.reset();
    while (!layers.empty()) layers.pop_back();
  }
};

// Returns nullptr after printing the reason (device and errno, or bad address) to stderr.
std::unique_ptr<TunStack> make_tun_stack(const SampleOptions& o);
// A TCP endpoint on the sample's stack; nullptr after printing why, prefixed with program.
std::unique_ptr<Endpoint> new_tcp_endpoint(TunStack& ts, const char* program);
// SIGTERM and SIGINT set this flag.
extern volatile std::sig_atomic_t g_stop;
void install_stop_handlers();
// Runs until stopped or timed out; returns the process exit status.
int run(TunStack& ts, const SampleOptions& o);
// The stack's non-zero counters and the chaos link's, on stderr (at exit).
void print_stats(const TunStack& ts);

}  // namespace netstack::samples
