// Two stacks with TCP over channel links (raw IP) and one FakeClock, for the endpoint tests:
//   a: 10.0.0.1/24  <—wire—>  b: 10.0.0.2/24
// The wire is driven by hand: every frame crossing it is parsed into `wire` (when `record`) and
// may be dropped by `drop`; time moves only to the next timer deadline when nothing is in
// flight. Optionally a's link sits on a chaos link (loss, reordering, duplication).
#pragma once

#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "netstack/header/ipv4.h"
#include "netstack/header/tcp.h"
#include "netstack/link/channel.h"
#include "netstack/link/chaos.h"
#include "netstack/stack/stack.h"
#include "netstack/transport/tcp/protocol.h"
#include "netstack/transport/tcp/state_machine.h"
#include "tests/catch.h"

namespace netstack::tcp::test {

inline const Ipv4Address kAddrA = Ipv4Address::from_octets(10, 0, 0, 1);
inline const Ipv4Address kAddrB = Ipv4Address::from_octets(10, 0, 0, 2);

// One segment seen on the wire.
struct WireSegment {
  bool from_a = false;
  Instant at{};
  std::uint32_t seq = 0, ack = 0;
  std::uint8_t flags = 0;
  std::uint16_t window = 0;
  header::TcpOptions options;
  std::size_t payload = 0;
  bool has(std::uint8_t f) const { return (flags & f) == f; }
};

inline ProtocolOptions test_options() {
  ProtocolOptions o;
  o.isn_key = 42;  // reproducible ISNs
  return o;
}

class TcpNet {
 public:
  explicit TcpNet(ProtocolOptions options = test_options(),
                  std::optional<link::ChaosSettings> chaos = std::nullopt, std::uint64_t seed = 1,
                  std::uint32_t mtu = 1500)
      : link_a(mtu, LinkMedium::kRawIp, {}, 4096),
        link_b(mtu, LinkMedium::kRawIp, {}, 4096),
        chaos_timers(clock),
        a(clock),
        b(clock) {
    if (chaos) chaos_a = std::make_unique<link::ChaosEndpoint>(link_a, chaos_timers, seed, *chaos, *chaos);
    configure(a, chaos_a ? static_cast<LinkEndpoint&>(*chaos_a) : link_a, kAddrA, options);
    configure(b, link_b, kAddrB, options);
  }

  static void configure(Stack& s, LinkEndpoint& link, Ipv4Address addr, ProtocolOptions o) {
    REQUIRE(s.register_transport_protocol(make_protocol(o)));
    REQUIRE(s.create_nic(1, link));
    REQUIRE(s.add_address(1, Subnet{addr, 24}));
    s.add_route(RouteEntry{Subnet{addr, 24}, Ipv4Address{}, 1});
  }

  // Moves the frames queued right now across the wire (each side's, replies wait for the next
  // call). Returns how many were moved.
  std::size_t deliver_once() {
    std::vector<PacketBuffer> from_a, from_b;
    while (auto f = link_a.read_outbound()) from_a.push_back(std::move(*f));
    while (auto f = link_b.read_outbound()) from_b.push_back(std::move(*f));
    for (auto& f : from_a) carry(true, std::move(f));
    for (auto& f : from_b) carry(false, std::move(f));
    return from_a.size() + from_b.size();
  }

  void run_due() {
    chaos_timers.run_due();
    a.run_due();
    b.run_due();
  }

  std::optional<Instant> next_deadline() const {
    std::optional<Instant> n;
    for (auto d : {a.next_deadline(), b.next_deadline(), chaos_timers.next_deadline()})
      if (d && (!n || *d < *n)) n = d;
    return n;
  }

  // Runs until pred() holds; time jumps to the next deadline whenever the wire is quiet. Fails
  // (returns false) when nothing is left to happen or `limit` of simulated time has passed.
  bool run_until(const std::function<bool()>& pred, Duration limit = std::chrono::seconds(600),
                 long max_steps = 20'000'000) {
    const Instant end = clock.now() + limit;
    for (long step = 0; step < max_steps; ++step) {
      if (pred()) return true;
      run_due();
      if (deliver_once() > 0) continue;
      run_due();
      if (link_a.outbound_size() > 0 || link_b.outbound_size() > 0) continue;
      if (pred()) return true;
      const auto next = next_deadline();
      if (!next || *next > end) return false;
      if (*next > clock.now()) clock.advance(*next - clock.now());
    }
    return false;
  }
  // Runs everything due until `d` from now has passed.
  void run_for(Duration d) {
    const Instant end = clock.now() + d;
    run_until([&] { return false; }, d);
    if (clock.now() < end) clock.advance(end - clock.now());
    run_due();
    while (deliver_once() > 0) run_due();
  }
  // Delivers what is on the wire and what it causes, without moving time.
  void settle() {
    for (int i = 0; i < 100000; ++i) {
      run_due();
      if (deliver_once() == 0) return;
    }
  }

  // Injects a hand-made segment from a's address into b, as if it came over the wire.
  void inject_into_b(const header::TcpFields& f, const std::string& payload = "") {
    const auto data = std::as_bytes(std::span(payload.data(), payload.size()));
    const std::size_t tlen = header::header_size(f) + data.size();
    header::Ipv4Fields ip;
    ip.total_length = static_cast<std::uint16_t>(20 + tlen);
    ip.protocol = 6;
    ip.src = kAddrA;
    ip.dst = kAddrB;
    std::vector<std::byte> frame(20 + tlen);
    header::emit(ip, std::span(frame).first(20));
    std::copy(data.begin(), data.end(), frame.begin() + static_cast<std::ptrdiff_t>(20 + header::header_size(f)));
    header::emit(f, kAddrA, kAddrB, data, std::span(frame).subspan(20, header::header_size(f)));
    link_b.inject(ByteView(frame));
  }
  // The last segment one side sent.
  const WireSegment& last_from(bool from_a) const {
    for (auto it = wire.rbegin(); it != wire.rend(); ++it)
      if (it->from_a == from_a) return *it;
    FAIL("no segment from " << (from_a ? "a" : "b"));
    return wire.front();
  }

  // For debugging a failing test: the wire as text.
  std::string dump(std::size_t max = 400) const {
    std::string out;
    const Instant t0 = wire.empty() ? Instant{} : wire.front().at;
    for (std::size_t i = 0; i < wire.size() && i < max; ++i) {
      const auto& s = wire[i];
      char line[200];
      std::snprintf(line, sizeof line, "%9.3f %s seq=%u ack=%u fl=%02x win=%u len=%zu sack=%u\n",
                    std::chrono::duration<double>(s.at - t0).count(), s.from_a ? "a>b" : "b>a",
                    s.seq, s.ack, s.flags, s.window, s.payload, s.options.sack_block_count);
      out += line;
    }
    return out;
  }

  std::vector<WireSegment> segments(bool from_a) const {
    std::vector<WireSegment> r;
    for (const auto& s : wire)
      if (s.from_a == from_a) r.push_back(s);
    return r;
  }

  FakeClock clock;
  link::ChannelEndpoint link_a, link_b;
  TimerQueue chaos_timers;
  std::unique_ptr<link::ChaosEndpoint> chaos_a;  // sits between a's NIC and link_a
  Stack a, b;
  std::vector<WireSegment> wire;
  bool record = true;
  std::function<bool(const WireSegment&)> drop;  // true: the segment is lost on the wire

 private:
  void carry(bool from_a, PacketBuffer frame) {
    if (record || drop) {
      const ByteView v = frame.view();
      if (v.size() >= 20 && static_cast<std::uint8_t>(v[9]) == 6) {
        const std::size_t ihl = (static_cast<std::size_t>(v[0]) & 0xf) * 4;
        const std::size_t total = static_cast<std::size_t>(v[2]) << 8 | static_cast<std::size_t>(v[3]);
        if (auto t = header::TcpView::parse(v.subspan(ihl, std::min(total, v.size()) - ihl))) {
          WireSegment s{from_a, clock.now(), t->seq_number(), t->ack_number(), t->flags(),
                        t->window(), t->options(), t->payload().size()};
          if (drop && drop(s)) return;
          if (record) wire.push_back(s);
        }
      }
    }
    (from_a ? link_b : link_a).inject(std::move(frame));
  }
};

inline std::span<const std::byte> bytes_of(const std::string& s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

// Reads whatever is there; "<error name>" on error; "" at EOF.
inline std::string read_some(Endpoint& ep) {
  std::string out(256 * 1024, '\0');
  auto r = ep.read(std::as_writable_bytes(std::span(out.data(), out.size())));
  if (!r) return std::string("<") + errc_name(r.error()) + ">";
  out.resize(r->bytes);
  return out;
}

inline State state_of(Endpoint& ep) {
  auto s = ep.get_sock_opt(SockOpt::kState);
  REQUIRE(s);
  return static_cast<State>(*s);
}

inline std::unique_ptr<Endpoint> new_tcp(Stack& s) {
  auto ep = s.new_endpoint(kProtocolNumber);
  REQUIRE(ep);
  return std::move(ep.value());
}

inline std::unique_ptr<Endpoint> listener(Stack& s, std::uint16_t port, int backlog = 16) {
  auto ep = new_tcp(s);
  REQUIRE(ep->bind(FullAddress{kAnyNic, Ipv4Address{}, port}));
  REQUIRE(ep->listen(backlog));
  return ep;
}

inline std::unique_ptr<Endpoint> start_connect(Stack& s, Ipv4Address to, std::uint16_t port) {
  auto ep = new_tcp(s);
  REQUIRE(ep->connect(FullAddress{kAnyNic, to, port}) == Errc::kConnectStarted);
  return ep;
}

// A connected pair: client on a, server (accepted) on b.
struct Pair {
  std::unique_ptr<Endpoint> lst, client, server;
};
inline Pair connect_pair(TcpNet& net, std::uint16_t port = 80) {
  Pair p;
  p.lst = listener(net.b, port);
  p.client = start_connect(net.a, kAddrB, port);
  std::unique_ptr<Endpoint> accepted;
  REQUIRE(net.run_until([&] {
    if (!accepted) {
      auto r = p.lst->accept();
      if (r) accepted = std::move(r.value());
    }
    return accepted && (p.client->readiness(kEventOut) & kEventOut);
  }));
  p.server = std::move(accepted);
  return p;
}

}  // namespace netstack::tcp::test
