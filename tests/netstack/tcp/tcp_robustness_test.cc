// Random segments thrown at a listener and at an established connection (a seeded, bounded
// cousin of the fuzz target): the stack answers as the RFCs say and the real connection is not
// disturbed: its data still arrives exact, and the listener still accepts.
#include "tests/netstack/tcp/tcp_net.h"

using namespace netstack;
using namespace netstack::tcp;
using namespace netstack::tcp::test;
using namespace std::chrono_literals;

namespace {
struct Rng {
  std::uint64_t s;
  std::uint32_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return static_cast<std::uint32_t>(s >> 11);
  }
};
}  // namespace

TEST_CASE("random segments do not disturb an established connection or the listener",
          "[tcp][robustness]") {
  TcpNet net;
  auto p = connect_pair(net);
  const std::uint16_t client_port = p.client->get_local_address()->port;
  const std::uint32_t b_rcv_nxt = net.last_from(false).ack;
  Rng rng{0x1234567};
  for (int i = 0; i < 3000; ++i) {
    header::TcpFields f;
    const bool on_connection = rng.next() % 2 == 0;
    f.src_port = on_connection ? client_port : static_cast<std::uint16_t>(1024 + rng.next() % 50);
    f.dst_port = rng.next() % 4 == 0 ? static_cast<std::uint16_t>(rng.next()) : 80;
    f.flags = static_cast<std::uint8_t>(rng.next());
    f.seq_number = rng.next();
    if (on_connection) {
      // Never in b's receive window (which a blind attacker cannot know): the window is at
      // most 128 KiB, so stay 1 MiB away from RCV.NXT either side.
      f.seq_number = b_rcv_nxt + (1u << 20) + rng.next() % 0xff000000u;
    }
    f.ack_number = rng.next();
    f.window = static_cast<std::uint16_t>(rng.next());
    if (rng.next() % 2) f.options.mss = static_cast<std::uint16_t>(rng.next());
    if (rng.next() % 2) f.options.window_scale = static_cast<std::uint8_t>(rng.next() % 20);
    f.options.sack_permitted = rng.next() % 2;
    if (rng.next() % 2) f.options.timestamps = header::TcpTimestamps{rng.next(), rng.next()};
    const std::string payload(rng.next() % 64, 'r');
    net.inject_into_b(f, payload);
    if (i % 16 == 0) net.settle();
  }
  net.run_for(1s);
  CHECK(state_of(*p.server) == State::kEstablished);
  CHECK(state_of(*p.client) == State::kEstablished);
  const std::string data(100'000, 'x');
  std::size_t sent = 0;
  std::string got;
  std::string buf(65536, '\0');
  REQUIRE(net.run_until([&] {
    if (sent < data.size()) {
      if (auto w = p.client->write(bytes_of(data).subspan(sent), {})) sent += *w;
    }
    for (;;) {
      auto r = p.server->read(std::as_writable_bytes(std::span(buf.data(), buf.size())));
      if (!r || r->bytes == 0) break;
      got.append(buf.data(), r->bytes);
    }
    return got.size() == data.size();
  }, 120s));
  CHECK(got == data);
  // Half-open children made by random SYNs time out; the listener still accepts.
  net.run_for(120s);
  while (p.lst->accept()) {
  }
  auto late = start_connect(net.a, kAddrB, 80);
  std::unique_ptr<Endpoint> accepted;
  REQUIRE(net.run_until([&] {
    if (auto r = p.lst->accept()) accepted = std::move(r.value());
    return accepted != nullptr;
  }, 10s));
  CHECK(net.b.stats().tcp_resets_sent > 0u);
}
