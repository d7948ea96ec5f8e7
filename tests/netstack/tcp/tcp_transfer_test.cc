// Data transfer behaviour on a fake clock: exact transfers both ways, zero-window probing, Nagle
// vs TCP_NODELAY, delayed ACK, keepalive, the RTO timeline (RFC 6298) up to ETIMEDOUT, fast
// retransmit on three duplicate ACKs (NewReno) and SACK-based retransmission (RFC 6675).
#include <set>

#include "tests/netstack/tcp/tcp_net.h"

using namespace netstack;
using namespace netstack::tcp;
using namespace netstack::tcp::test;
using namespace std::chrono_literals;

namespace {

std::string stream(std::size_t n, unsigned salt) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7 + i / 251 + salt) & 0xff);
  return s;
}

// Writes what fits of `data` from `*sent` on; returns true when all of it is written.
bool write_more(Endpoint& ep, const std::string& data, std::size_t* sent) {
  while (*sent < data.size()) {
    auto w = ep.write(bytes_of(data).subspan(*sent), {});
    if (!w) return false;
    *sent += *w;
  }
  return true;
}

void read_more(Endpoint& ep, std::string* got) {
  std::string buf(256 * 1024, '\0');
  for (;;) {
    auto r = ep.read(std::as_writable_bytes(std::span(buf.data(), buf.size())));
    if (!r || r->bytes == 0) return;
    got->append(buf.data(), r->bytes);
  }
}

std::vector<WireSegment> data_from(const TcpNet& net, bool from_a) {
  std::vector<WireSegment> r;
  for (const auto& s : net.wire)
    if (s.from_a == from_a && s.payload > 0) r.push_back(s);
  return r;
}

}  // namespace

TEST_CASE("transfer both ways at once arrives exact", "[tcp][transfer]") {
  TcpNet net;
  auto p = connect_pair(net);
  const std::string up = stream(700'000, 1), down = stream(500'000, 2);
  std::size_t sent_up = 0, sent_down = 0;
  std::string got_up, got_down;
  const bool done = net.run_until([&] {
    write_more(*p.client, up, &sent_up);
    write_more(*p.server, down, &sent_down);
    read_more(*p.server, &got_up);
    read_more(*p.client, &got_down);
    return got_up.size() == up.size() && got_down.size() == down.size();
  }, 60s);
  INFO("received " << got_up.size() << " and " << got_down.size() << "; wire:\n" << net.dump());
  REQUIRE(done);
  CHECK(got_up == up);
  CHECK(got_down == down);
  CHECK(net.a.stats().tcp_retransmits == 0u);
  // Window scaling is in use: a window field times 4 covers the 128 KiB buffer.
  bool scaled = false;
  for (const auto& s : net.wire) scaled |= !s.has(header::kTcpFlagSyn) && (std::uint32_t{s.window} << 2) > 65535;
  CHECK(scaled);
}

TEST_CASE("zero window: the sender probes with backoff until the reader makes room",
          "[tcp][transfer][window]") {
  TcpNet net;
  auto p = connect_pair(net);
  const std::string data = stream(400'000, 3);
  std::size_t sent = 0;
  // The receiver does not read: its 128 KiB buffer fills and the window closes.
  REQUIRE(net.run_until([&] {
    write_more(*p.client, data, &sent);
    return net.last_from(false).window == 0 && net.wire.back().from_a == false;
  }, 10s));
  net.wire.clear();
  net.run_for(30s);
  // Probes: old sequence number (SND.UNA - 1), no data; the peer answers each with window 0.
  std::vector<Instant> probes;
  for (const auto& s : net.wire) {
    if (s.from_a) {
      CHECK(s.payload == 0);
      probes.push_back(s.at);
    } else {
      CHECK(s.window == 0);
    }
  }
  REQUIRE(probes.size() >= 3);
  for (std::size_t i = 2; i < probes.size(); ++i)
    CHECK(probes[i] - probes[i - 1] == 2 * (probes[i - 1] - probes[i - 2]));  // backoff
  // Reading opens the window; the transfer resumes and completes.
  std::string got;
  REQUIRE(net.run_until([&] {
    write_more(*p.client, data, &sent);
    read_more(*p.server, &got);
    return got.size() == data.size();
  }, 120s));
  CHECK(got == data);
}

TEST_CASE("Nagle coalesces small writes while data is unacknowledged; TCP_NODELAY does not",
          "[tcp][transfer][nagle]") {
  TcpNet net;
  auto p = connect_pair(net);
  const bool nodelay = GENERATE(false, true);
  REQUIRE(p.client->set_sock_opt(SockOpt::kNoDelay, nodelay ? 1 : 0));
  CHECK(p.client->get_sock_opt(SockOpt::kNoDelay).value() == (nodelay ? 1 : 0));
  // b's first data segment advertises its whole window (the SYN-ACK's was at most 64 KiB), so
  // that reading below does not cause a window update that would stand in for the delayed ACK.
  REQUIRE(p.server->write(bytes_of("hello"), {}));
  net.settle();
  CHECK(read_some(*p.client) == "hello");
  net.run_for(100ms);
  net.wire.clear();
  for (int i = 0; i < 10; ++i) REQUIRE(p.client->write(bytes_of("x"), {}));
  net.settle();
  const auto before_ack = data_from(net, true);
  if (nodelay) {
    CHECK(before_ack.size() == 10);
  } else {
    CHECK(before_ack.size() == 1);  // the rest waits for the (delayed) ACK of the first byte
  }
  // The receiver's delayed ACK (40 ms) releases the rest.
  std::string got;
  REQUIRE(net.run_until([&] {
    read_more(*p.server, &got);
    return got.size() == 10;
  }, 1s));
  const auto all = data_from(net, true);
  INFO(net.dump());
  if (!nodelay) {
    REQUIRE(all.size() == 2);
    CHECK(all[1].payload == 9);
    CHECK(all[1].at - all[0].at == 40ms);
  }
}

TEST_CASE("delayed ACK: every second full segment, or after 40 ms", "[tcp][transfer][ack]") {
  TcpNet net;
  auto p = connect_pair(net);
  net.wire.clear();
  const std::string two = stream(2 * 1448, 4);
  REQUIRE(p.client->write(bytes_of(two), {}) );
  net.settle();
  auto acks = net.segments(false);
  REQUIRE(acks.size() == 1);  // one ACK for two full segments, at once
  CHECK(acks[0].at == net.wire.front().at);
  net.wire.clear();
  REQUIRE(p.client->write(bytes_of("one"), {}));
  net.settle();
  CHECK(net.segments(false).empty());
  const Instant sent = net.clock.now();
  net.run_for(100ms);
  acks = net.segments(false);
  REQUIRE(acks.size() == 1);
  CHECK(acks[0].at - sent == 40ms);
}

TEST_CASE("keepalive: probes after idle, answered; a dead peer ends with ETIMEDOUT",
          "[tcp][keepalive]") {
  TcpNet net;
  auto p = connect_pair(net);
  REQUIRE(p.client->set_sock_opt(SockOpt::kKeepIdle, 10));
  REQUIRE(p.client->set_sock_opt(SockOpt::kKeepInterval, 2));
  REQUIRE(p.client->set_sock_opt(SockOpt::kKeepCount, 3));
  REQUIRE(p.client->set_sock_opt(SockOpt::kKeepAlive, 1));
  CHECK(p.client->get_sock_opt(SockOpt::kKeepIdle).value() == 10);
  const Instant start = net.clock.now();
  net.wire.clear();
  net.run_for(25s);
  // Probes at 10 s and 20 s (the peer's answer restarts the idle time).
  auto probes = net.segments(true);
  REQUIRE(probes.size() == 2);
  CHECK(probes[0].at - start == 10s);
  CHECK(probes[1].at - start == 20s);
  CHECK(probes[0].payload == 0);
  CHECK(net.segments(false).size() == 2);
  CHECK(state_of(*p.client) == State::kEstablished);
  // The peer goes silent: probes at 30, 32, 34 s, abort at 36 s.
  net.drop = [](const WireSegment& s) { return !s.from_a; };
  net.wire.clear();
  EventMask seen = 0;
  p.client->waiter_queue().subscribe(kEventErr, [&](EventMask e) { seen |= e; });
  REQUIRE(net.run_until([&] { return state_of(*p.client) == State::kClosed; }, 60s));
  probes = net.segments(true);
  REQUIRE(probes.size() == 3);
  CHECK(probes[0].at - start == 30s);
  CHECK(probes[1].at - start == 32s);
  CHECK(probes[2].at - start == 34s);
  CHECK(net.clock.now() - start == 36s);
  CHECK(seen == kEventErr);
  CHECK(p.client->get_sock_opt(SockOpt::kError).value() == to_errno(Errc::kTimeout));
}

TEST_CASE("RTO timeline: SYN retransmitted at 1, 3, 7, 15, 31, 63 s, ETIMEDOUT at 127 s",
          "[tcp][rto]") {
  TcpNet net;
  net.drop = [](const WireSegment& s) { return s.from_a; };  // a black hole
  auto lst = listener(net.b, 80);
  auto client = start_connect(net.a, kAddrB, 80);
  const Instant start = net.clock.now();
  REQUIRE(net.run_until([&] { return state_of(*client) == State::kClosed; }, 300s));
  CHECK(net.clock.now() - start == 127s);
  CHECK(client->get_sock_opt(SockOpt::kError).value() == to_errno(Errc::kTimeout));
  // The dropped SYNs were still seen by the drop function; count them from the stats.
  CHECK(net.a.stats().tcp_segments_sent == 7);
  CHECK(net.a.stats().tcp_timeouts == 7);
}

TEST_CASE("RTO timeline for data: 200 ms doubling, ETIMEDOUT after the retry limit",
          "[tcp][rto]") {
  ProtocolOptions o = test_options();
  o.tunables.data_retries = 4;
  TcpNet net(o);
  auto p = connect_pair(net);
  std::vector<Instant> sends;
  net.drop = [&](const WireSegment& s) {
    if (s.from_a && s.payload > 0) {
      sends.push_back(s.at);
      return true;
    }
    return false;
  };
  REQUIRE(p.client->write(bytes_of("lost forever"), {}));
  const Instant start = net.clock.now();
  REQUIRE(net.run_until([&] { return state_of(*p.client) == State::kClosed; }, 300s));
  // The handshake's RTT sample is 0 on this wire, so the RTO is Linux's minimum, 200 ms.
  const std::vector<Duration> want = {0ms, 200ms, 600ms, 1400ms, 3000ms};
  REQUIRE(sends.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) CHECK(sends[i] - start == want[i]);
  CHECK(net.clock.now() - start == 6200ms);  // the fifth timeout exceeds 4 retries
  CHECK(p.client->readiness(kEventErr) == kEventErr);
  CHECK(p.client->get_sock_opt(SockOpt::kError).value() == to_errno(Errc::kTimeout));
  CHECK(p.client->write(bytes_of("x"), {}).error() == Errc::kClosedForSend);
}

TEST_CASE("fast retransmit on the third duplicate ACK, before any timeout", "[tcp][recovery]") {
  ProtocolOptions o = test_options();
  const bool sack = GENERATE(false, true);
  o.tunables.sack = sack;
  TcpNet net(o);
  auto p = connect_pair(net);
  REQUIRE(p.client->set_sock_opt(SockOpt::kNoDelay, 1));
  const std::string data = stream(10 * 1448, 5);  // the initial window: ten segments
  std::optional<std::uint32_t> lost_seq;
  net.drop = [&](const WireSegment& s) {
    if (s.from_a && s.payload > 0 && !lost_seq && data_from(net, true).size() == 2) {
      lost_seq = s.seq;
      return true;
    }
    return false;
  };
  REQUIRE(p.client->write(bytes_of(data), {}));
  const Instant start = net.clock.now();
  std::string got;
  REQUIRE(net.run_until([&] {
    read_more(*p.server, &got);
    return got.size() == data.size();
  }, 10s));
  CHECK(got == data);
  REQUIRE(lost_seq);
  CHECK(net.a.stats().tcp_fast_retransmits == 1);
  CHECK(net.a.stats().tcp_timeouts == 0);
  CHECK(net.clock.now() - start < 200ms);  // no RTO was needed
  int dup_acks = 0;
  bool resent = false;
  for (const auto& s : net.wire) {
    if (!s.from_a && s.ack == *lost_seq && s.payload == 0) ++dup_acks;
    if (s.from_a && s.seq == *lost_seq) resent = true;
    if (!s.from_a && sack && s.ack == *lost_seq && s.options.sack_block_count > 0) {
      CHECK(s.options.sack_blocks[0].left == *lost_seq + 1448);
    }
  }
  CHECK(dup_acks >= 3);
  CHECK(resent);
}

TEST_CASE("SACK: several holes in one window are all retransmitted without a timeout",
          "[tcp][recovery][sack]") {
  TcpNet net;
  auto p = connect_pair(net);
  REQUIRE(p.client->set_sock_opt(SockOpt::kNoDelay, 1));
  // Grow cwnd first, so that one window holds many segments.
  const std::string warm = stream(300'000, 6);
  std::size_t sent = 0;
  std::string got;
  REQUIRE(net.run_until([&] {
    write_more(*p.client, warm, &sent);
    read_more(*p.server, &got);
    return got.size() == warm.size();
  }, 10s));
  net.wire.clear();
  const std::string data = stream(40 * 1448, 7);
  std::vector<std::uint32_t> lost, sends;
  std::set<std::uint32_t> first_time;
  net.drop = [&](const WireSegment& s) {
    if (!s.from_a || s.payload == 0) return false;
    sends.push_back(s.seq);
    if (!first_time.insert(s.seq).second) return false;  // retransmissions pass
    const std::size_t n = first_time.size();
    if (n == 3 || n == 8 || n == 13) {
      lost.push_back(s.seq);
      return true;
    }
    return false;
  };
  const auto timeouts = net.a.stats().tcp_timeouts;
  sent = 0;
  got.clear();
  REQUIRE(net.run_until([&] {
    write_more(*p.client, data, &sent);
    read_more(*p.server, &got);
    return got.size() == data.size();
  }, 10s));
  INFO(net.dump());
  CHECK(got == data);
  REQUIRE(lost.size() == 3);
  CHECK(net.a.stats().tcp_timeouts == timeouts);
  // b reported the holes in SACK blocks, and a resent exactly the lost segments.
  int sack_acks = 0;
  for (const auto& s : net.wire) sack_acks += !s.from_a && s.options.sack_block_count > 0;
  CHECK(sack_acks >= 3);
  // Every lost segment went twice, every other segment once.
  for (std::uint32_t seq : lost) CHECK(std::count(sends.begin(), sends.end(), seq) == 2);
  CHECK(sends.size() == 40 + lost.size());
}
