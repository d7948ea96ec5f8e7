// Echoes TCP on one port over a TUN device the caller created (gVisor's tun_tcp_echo): listens,
// accepts any number of connections, sends every byte of each back until the peer half-closes,
// then closes its own side.
//   tun_tcp_echo --tun tun0 --addr 10.77.0.2 --port 7 [--pcap F] [--loss P] [--timeout S]
#include <CLI/CLI.hpp>

#include <cstdio>
#include <list>
#include <memory>
#include <vector>

#include "netstack/samples/poll_loop.h"
#include "netstack/samples/sample_common.h"
#include "netstack/samples/tcp_sample.h"

namespace {

using namespace netstack;
using samples::Connection;

// Accepts everything the listener has queued.
void accept_all(Endpoint& listener, std::list<Connection>& conns) {
  for (int i = 0; i < 256; ++i) {
    auto ep = listener.accept();
    if (!ep) {
      if (ep.error() != Errc::kWouldBlock)
        std::fprintf(stderr, "accept: %s\n", errc_name(ep.error()));
      return;
    }
    conns.emplace_back(std::move(ep.value()));
    std::fprintf(stderr, "accepted %s\n", conns.back().peer().c_str());
  }
}

// Moves what one connection received back into it; returns false once it is finished.
bool echo(Connection& c, std::vector<std::byte>& buf, Instant now) {
  for (int i = 0; i < 64 && !c.failed(); ++i) {
    if (!c.flush()) break;  // the send buffer is full: read more once it drains
    if (c.eof()) break;
    auto n = c.read(buf);
    if (n == 0) break;
    c.queue(std::span(buf.data(), n));
  }
  if (c.eof() && c.flushed() && !c.write_shut()) c.shutdown_write(now);
  return !c.finished(now);
}

}  // namespace

int main(int argc, char** argv) {
  samples::SampleOptions o;
  CLI::App app{"Echo TCP on one port (and answer ping) on a TUN device with the netstack userspace stack."};
  app.add_option("--tun", o.tun, "TUN device to attach to (created by the caller)")->required();
  app.add_option("--addr", o.addr, "the stack's own IPv4 address, A.B.C.D")->required();
  app.add_option("--port", o.port, "TCP port to listen on")->required()->check(CLI::Range(1, 65535));
  samples::add_common_options(app, o);
  CLI11_PARSE(app, argc, argv);
  samples::install_stop_handlers();
  auto ts = samples::make_tun_stack(o);
  if (!ts) return 1;
  auto made = samples::new_tcp_endpoint(*ts, "tun_tcp_echo");
  if (!made) return 1;
  Endpoint& listener = *made;
  if (auto s = listener.bind({kAnyNic, {}, static_cast<std::uint16_t>(o.port)}); !s) {
    std::fprintf(stderr, "bind port %d: %s\n", o.port, errc_name(s.error()));
    return 1;
  }
  if (auto s = listener.listen(128); !s) {
    std::fprintf(stderr, "listen on port %d: %s\n", o.port, errc_name(s.error()));
    return 1;
  }
  std::list<Connection> conns;
  std::vector<std::byte> buf(65536);
  std::uint64_t served = 0;
  samples::LoopHooks hooks;
  hooks.fds = [](std::vector<pollfd>&) {};
  hooks.step = [&](std::span<const pollfd>) {
    accept_all(listener, conns);
    const Instant now = ts->clock.now();
    for (auto it = conns.begin(); it != conns.end();) {
      if (echo(*it, buf, now)) {
        ++it;
        continue;
      }
      std::fprintf(stderr, "%s: echoed %llu bytes, %s\n", it->peer().c_str(),
                   static_cast<unsigned long long>(it->bytes_written()), it->outcome().c_str());
      ++served;
      it = conns.erase(it);  // Connection's destructor closes the endpoint
    }
    return false;  // serves until SIGTERM or --timeout
  };
  std::printf("ready: echoing TCP port %d at %s on %s\n", o.port, o.addr.c_str(), o.tun.c_str());
  std::fflush(stdout);
  const samples::LoopResult r = samples::run_loop(*ts, o, hooks);
  std::fprintf(stderr, "tun_tcp_echo: %llu connections served, %zu still open\n",
               static_cast<unsigned long long>(served), conns.size());
  conns.clear();
  samples::print_stats(*ts);
  if (r == samples::LoopResult::kLinkFailed) {
    std::fprintf(stderr, "%s: the TUN device failed\n", o.tun.c_str());
    return 1;
  }
  return 0;
}
