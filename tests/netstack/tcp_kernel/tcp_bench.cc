// Measures for scripts/bench-netstack.sh (a benchmark driver: it reports, never asserts):
//   tcp_bench stack-bulk BYTES [MTU]  BYTES from one stack to another over channel links
//                                     (raw IP, MTU default 1500), both stacks on this thread
//   tcp_bench kernel-bulk BYTES       the same byte count over the kernel's loopback TCP, sender
//                                     and receiver non-blocking on this one thread (pin it with
//                                     taskset so the kernel's work shares the core, as ours does)
//   tcp_bench stack-cps N             N x (connect, accept, close both) between two stacks
// Prints "key value" lines; exit 1 when a transfer did not complete (the figure is then void).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "netstack/link/channel.h"
#include "netstack/stack/stack.h"
#include "netstack/transport/tcp/protocol.h"

using namespace netstack;
using WallClock = std::chrono::steady_clock;

namespace {

constexpr auto kGiveUp = std::chrono::seconds(300);

double seconds_since(WallClock::time_point t0) {
  return std::chrono::duration<double>(WallClock::now() - t0).count();
}

// Two stacks on one wire, 10.0.0.1 (a) and 10.0.0.2 (b), TCP registered on both.
struct TwoStacks {
  SteadyClock clock;
  link::ChannelEndpoint wa, wb;
  Stack a{clock}, b{clock};
  explicit TwoStacks(std::uint32_t mtu) : wa(mtu, LinkMedium::kRawIp, {}, 4096), wb(mtu, LinkMedium::kRawIp, {}, 4096) {
    for (auto [s, w, addr] : {std::tuple{&a, &wa, "10.0.0.1/24"}, std::tuple{&b, &wb, "10.0.0.2/24"}}) {
      (void)s->register_transport_protocol(tcp::make_protocol());
      (void)s->create_nic(1, *w);
      (void)s->add_address(1, *Subnet::parse(addr));
      s->add_route({*Subnet::parse("10.0.0.0/24"), {}, 1});
    }
  }
  // Moves frames both ways and runs due timers; what a real event loop would do per wakeup.
  void step() {
    link::pump(wa, wb);
    a.run_due();
    b.run_due();
    link::pump(wa, wb);
  }
  std::unique_ptr<Endpoint> listen(std::uint16_t port) {
    auto l = std::move(b.new_endpoint(tcp::kProtocolNumber).value());
    (void)l->bind({kAnyNic, {}, port});
    (void)l->listen(1024);
    return l;
  }
  // Connects a to b:port and accepts on b; nullptr pair members when it did not complete.
  std::pair<std::unique_ptr<Endpoint>, std::unique_ptr<Endpoint>> connect(Endpoint& listener,
                                                                           std::uint16_t port) {
    auto c = std::move(a.new_endpoint(tcp::kProtocolNumber).value());
    (void)c->connect({kAnyNic, *Ipv4Address::parse("10.0.0.2"), port});
    for (int i = 0; i < 100; ++i) {
      step();
      if (auto s = listener.accept()) return {std::move(c), std::move(s.value())};
    }
    return {nullptr, nullptr};
  }
};

int stack_bulk(long long bytes, std::uint32_t mtu) {
  TwoStacks net(mtu);
  auto listener = net.listen(5001);
  auto [client, server] = net.connect(*listener, 5001);
  if (!client) {
    std::fprintf(stderr, "tcp_bench: the handshake did not complete\n");
    return 1;
  }
  // As large as the endpoint accepts (Linux autotunes its buffers up to megabytes).
  for (Endpoint* ep : {client.get(), server.get()}) {
    (void)ep->set_sock_opt(SockOpt::kSendBufferSize, 4 << 20);
    (void)ep->set_sock_opt(SockOpt::kReceiveBufferSize, 4 << 20);
  }
  std::vector<std::byte> out(1 << 16), in(1 << 18);
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::byte>(i * 7);
  long long sent = 0, received = 0;
  const auto t0 = WallClock::now();
  while (received < bytes && WallClock::now() - t0 < kGiveUp) {
    while (sent < bytes) {
      const auto n = static_cast<std::size_t>(std::min<long long>(bytes - sent, static_cast<long long>(out.size())));
      auto w = client->write(ByteView(out.data(), n), {});
      if (!w || *w == 0) break;
      sent += static_cast<long long>(*w);
    }
    net.step();
    for (;;) {
      auto r = server->read(in);
      if (!r || r->bytes == 0) break;
      received += static_cast<long long>(r->bytes);
    }
  }
  const double secs = seconds_since(t0);
  std::printf("stack_bulk_bytes %lld\nstack_bulk_received %lld\nstack_bulk_mtu %u\nstack_bulk_seconds %.6f\n"
              "stack_bulk_mb_per_sec %.1f\n",
              bytes, received, mtu, secs, static_cast<double>(received) / secs / 1e6);
  return received == bytes ? 0 : 1;
}

int stack_cps(long n) {
  TwoStacks net(1500);
  auto listener = net.listen(5002);
  long done = 0;
  const auto t0 = WallClock::now();
  for (long i = 0; i < n && WallClock::now() - t0 < kGiveUp; ++i) {
    auto [client, server] = net.connect(*listener, 5002);
    if (!client) break;
    // The server closes first, so TIME-WAIT stays on its side (as a web server's would).
    server->close();
    net.step();
    client->close();
    net.step();
    ++done;
  }
  const double secs = seconds_since(t0);
  std::printf("stack_connections %ld\nstack_connections_done %ld\nstack_cps_seconds %.6f\n"
              "stack_connections_per_sec %.0f\n",
              n, done, secs, static_cast<double>(done) / secs);
  return done == n ? 0 : 1;
}

// The kernel's loopback TCP, one thread: write until EAGAIN, read until EAGAIN, repeat.
int kernel_bulk(long long bytes) {
  const int l = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  if (l < 0 || ::bind(l, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(l, 1) != 0 ||
      ::getsockname(l, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    std::perror("tcp_bench: loopback listener");
    return 1;
  }
  const int c = ::socket(AF_INET, SOCK_STREAM, 0);
  if (c < 0 || ::connect(c, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    std::perror("tcp_bench: loopback connect");
    return 1;
  }
  const int s = ::accept(l, nullptr, nullptr);
  if (s < 0) {
    std::perror("tcp_bench: accept");
    return 1;
  }
  ::fcntl(c, F_SETFL, O_NONBLOCK);
  ::fcntl(s, F_SETFL, O_NONBLOCK);
  std::vector<char> out(1 << 16), in(1 << 18);
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<char>(i * 7);
  long long sent = 0, received = 0;
  const auto t0 = WallClock::now();
  while (received < bytes && WallClock::now() - t0 < kGiveUp) {
    while (sent < bytes) {
      const auto n = static_cast<std::size_t>(std::min<long long>(bytes - sent, static_cast<long long>(out.size())));
      const ssize_t w = ::send(c, out.data(), n, 0);
      if (w <= 0) break;
      sent += w;
    }
    for (;;) {
      const ssize_t r = ::recv(s, in.data(), in.size(), 0);
      if (r <= 0) break;
      received += r;
    }
  }
  const double secs = seconds_since(t0);
  ::close(c);
  ::close(s);
  ::close(l);
  std::printf("kernel_bulk_bytes %lld\nkernel_bulk_received %lld\nkernel_bulk_seconds %.6f\n"
              "kernel_bulk_mb_per_sec %.1f\n",
              bytes, received, secs, static_cast<double>(received) / secs / 1e6);
  return received == bytes ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc >= 2 ? argv[1] : "";
  if (mode == "--help" || mode == "-h") {
    std::printf("usage: tcp_bench stack-bulk BYTES [MTU] | kernel-bulk BYTES | stack-cps N\n");
    return 0;
  }
  const long long n = argc >= 3 ? std::strtoll(argv[2], nullptr, 10) : 0;
  if (n <= 0 || (mode != "stack-bulk" && mode != "kernel-bulk" && mode != "stack-cps") ||
      argc > (mode == "stack-bulk" ? 4 : 3)) {
    std::fprintf(stderr, "usage: tcp_bench stack-bulk BYTES [MTU] | kernel-bulk BYTES | stack-cps N\n");
    return 2;
  }
  if (mode == "stack-bulk") {
    const long mtu = argc == 4 ? std::strtol(argv[3], nullptr, 10) : 1500;
    if (mtu < 576 || mtu > 65535) {
      std::fprintf(stderr, "tcp_bench: MTU %s out of 576..65535\n", argv[3]);
      return 2;
    }
    return stack_bulk(n, static_cast<std::uint32_t>(mtu));
  }
  if (mode == "kernel-bulk") return kernel_bulk(n);
  return stack_cps(static_cast<long>(n));
}
