// What both TUN samples share: the command line, opening the device, building the stack.
#pragma once

#include <csignal>
#include <memory>
#include <string>

#include "netstack/link/fdbased.h"
#include "netstack/link/sniffer.h"
#include "netstack/runner/tun_runner.h"
#include "netstack/stack/stack.h"

namespace netstack::samples {

struct SampleOptions {
  std::string tun;
  std::string addr;
  std::string pcap;
  double timeout_seconds = 0;  // 0: until SIGTERM
  int port = 7;
};

// A stack on the TUN device: NIC 1 with addr/32 and a default route out of it (the kernel is
// the only peer on a TUN link), ICMP echo always on, UDP registered.
struct TunStack {
  SteadyClock clock;
  std::unique_ptr<link::FdEndpoint> tun;
  std::unique_ptr<link::SnifferEndpoint> sniffer;
  std::unique_ptr<Stack> stack;
};

// Returns nullptr after printing the reason (device and errno, or bad address) to stderr.
std::unique_ptr<TunStack> make_tun_stack(const SampleOptions& o);
// SIGTERM and SIGINT set this flag.
extern volatile std::sig_atomic_t g_stop;
void install_stop_handlers();
// Runs until stopped or timed out; returns the process exit status.
int run(TunStack& ts, const SampleOptions& o);

}  // namespace netstack::samples
