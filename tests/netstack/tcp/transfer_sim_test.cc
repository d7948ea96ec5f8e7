// The building blocks composed the way the endpoint will compose them, without the endpoint: a
// sender (SendBuffer, NewReno, RttEstimator, RttSampler, TcpTimers, optionally SackScoreboard) and
// a receiver (Reassembler, ReceiveWindow, SackReceiverBlocks) exchange segments over a simulated
// path with delay and seeded loss in both directions, on a fake clock. Every byte must arrive
// once, in order, in bounded simulated time.
#include <queue>
#include <string>
#include <vector>

#include "netstack/transport/tcp/new_reno.h"
#include "netstack/transport/tcp/reassembly.h"
#include "netstack/transport/tcp/receive_window.h"
#include "netstack/transport/tcp/rtt_estimator.h"
#include "netstack/transport/tcp/sack.h"
#include "netstack/transport/tcp/segment_checks.h"
#include "netstack/transport/tcp/send_buffer.h"
#include "netstack/transport/tcp/tcp_timers.h"
#include "tests/catch.h"

using namespace std::chrono_literals;
using netstack::seqnum::Size;
using netstack::seqnum::Value;
using namespace netstack::tcp;

namespace {

constexpr Size kMss = 1000;
constexpr Duration kOneWay = 10ms;

struct Packet {
  bool to_receiver;
  Value seq;                     // data: first byte; ACK: cumulative ACK
  std::vector<std::byte> data;   // data segments only
  std::uint32_t window = 0;      // ACKs only
  std::vector<SackBlock> sack;   // ACKs only, when SACK is on
};

struct Sim {
  Sim(std::uint32_t seed, double loss_rate, Value iss, bool use_sack = false)
      : rng(seed), loss(loss_rate), sack(use_sack),
        sndbuf(64 * 1024, iss.add(1)), snd_nxt(iss.add(1)), snd_max(iss.add(1)),
        cc(kMss, iss), rtt(RtoConfig::linux_defaults()), scoreboard(kMss, iss.add(1)),
        reasm(iss.add(1)), rwnd(64 * 1024, 0, kMss, iss.add(1)), snd_wnd(rwnd.syn_window()) {}

  // Private xorshift: the loss pattern depends on the seed only.
  std::uint32_t rng;
  double loss;
  bool sack;
  FakeClock clock;
  std::uint64_t order = 0;
  struct InFlight {
    Instant at;
    std::uint64_t order;
    Packet packet;
    bool operator>(const InFlight& o) const { return at != o.at ? at > o.at : order > o.order; }
  };
  std::priority_queue<InFlight, std::vector<InFlight>, std::greater<>> path;

  // Sender.
  SendBuffer sndbuf;
  Value snd_nxt;
  // The highest sequence number sent (BSD's snd_max): after a timeout SND.NXT goes back to
  // SND.UNA, but ACKs for data sent before are still valid and are checked against this.
  Value snd_max;
  NewReno cc;
  RttEstimator rtt;
  RttSampler sampler;
  TcpTimers timers;
  const TimerKey rto_timer{1, TimerKind::kRetransmit};
  unsigned timeouts = 0, fast_retransmits = 0, sack_retransmits = 0;
  // RFC 6675 loss recovery while NewReno says "in fast recovery": pipe against ssthresh.
  SackScoreboard scoreboard;
  // Receiver.
  Reassembler reasm;
  ReceiveWindow rwnd;
  std::vector<std::byte> received;
  SackReceiverBlocks sack_blocks;
  std::uint32_t snd_wnd;

  const Instant start = clock.now();
  long long elapsed_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock.now() - start).count();
  }

  std::uint32_t next() {
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
  }
  void transmit(Packet p) {
    if (next() % 10000 < loss * 10000) return;  // lost
    path.push({clock.now() + kOneWay, order++, std::move(p)});
  }

  void send_segment(Value seq, Size len, bool retransmission) {
    const ByteSpans bytes = sndbuf.peek(seq, len);
    Packet p{true, seq, {}, 0, {}};
    p.data.insert(p.data.end(), bytes.first.begin(), bytes.first.end());
    p.data.insert(p.data.end(), bytes.second.begin(), bytes.second.end());
    sampler.on_send(seq.add(static_cast<Size>(p.data.size())), clock.now(), retransmission);
    if (!timers.armed(rto_timer)) timers.arm(rto_timer, clock.now() + rtt.rto());
    transmit(std::move(p));
  }
  void try_send() {
    for (;;) {
      const Size in_flight = sndbuf.snd_una().size_to(snd_nxt);
      const Size limit = std::min<Size>(cc.cwnd(), snd_wnd);
      const Size unsent = static_cast<Size>(sndbuf.unsent(snd_nxt));
      if (unsent == 0 || in_flight >= limit) return;
      const Size len = std::min({kMss, unsent, limit - in_flight});
      send_segment(snd_nxt, len, snd_nxt.less_than(snd_max));
      snd_nxt = snd_nxt.add(len);
      snd_max = netstack::seqnum::max(snd_max, snd_nxt);
    }
  }
  void retransmit_first() {
    const Size outstanding = sndbuf.snd_una().size_to(snd_max);
    const Size len = std::min(kMss, outstanding);
    send_segment(sndbuf.snd_una(), len, true);
    scoreboard.on_retransmitted(sndbuf.snd_una(), len);
  }
  // RFC 6675 §5 step (C): send while pipe < cwnd (here ssthresh, NewReno's cwnd is inflated).
  void sack_send() {
    for (int i = 0; i < 1000 && scoreboard.pipe() < cc.ssthresh(); ++i) {
      const Size in_window = sndbuf.snd_una().size_to(snd_max);
      const bool may_send_new = sndbuf.unsent(snd_nxt) > 0 && in_window + kMss <= snd_wnd &&
                                snd_nxt == snd_max;
      const NextSegment n = scoreboard.next_seg(may_send_new);
      if (n.kind == NextSegment::Kind::kRetransmit) {
        send_segment(n.seq, n.length, true);
        scoreboard.on_retransmitted(n.seq, n.length);
        ++sack_retransmits;
      } else if (n.kind == NextSegment::Kind::kNewData) {
        const Size len = std::min<Size>(kMss, static_cast<Size>(sndbuf.unsent(snd_nxt)));
        send_segment(snd_nxt, len, false);
        snd_nxt = snd_nxt.add(len);
        snd_max = snd_nxt;
      } else {
        return;
      }
    }
  }

  void on_ack(const Packet& p) {
    const Value una = sndbuf.snd_una();
    const AckVerdict verdict = check_ack(p.seq, una, snd_max, 64 * 1024);
    if (sack && (verdict == AckVerdict::kNew || verdict == AckVerdict::kDuplicate)) {
      scoreboard.on_ack(netstack::seqnum::max(una, p.seq), p.sack, snd_max);
    }
    if (verdict == AckVerdict::kNew) {
      AckInfo info{p.seq, una.size_to(p.seq), una.size_to(snd_max), snd_max, clock.now(), {}};
      if (snd_nxt.less_than(p.seq)) snd_nxt = p.seq;  // go-back-N: skip what arrived anyway
      if (const auto sample = sampler.on_ack(p.seq, clock.now())) rtt.add_sample(*sample);
      sndbuf.acknowledge(p.seq);
      snd_wnd = p.window;
      rtt.clear_backoffs();
      timers.cancel(rto_timer);
      const CcAction action = cc.on_ack(info);
      if (action == CcAction::kRetransmitFirstUnacked && !sack) retransmit_first();
      if (sndbuf.snd_una() != snd_max && !timers.armed(rto_timer)) {
        timers.arm(rto_timer, clock.now() + rtt.rto());
      }
    } else if (verdict == AckVerdict::kDuplicate && una != snd_max && p.window == snd_wnd) {
      const AckInfo info{p.seq, 0, una.size_to(snd_max), snd_max, clock.now(), {}};
      if (cc.on_duplicate_ack(info) == CcAction::kFastRetransmit) {
        ++fast_retransmits;
        retransmit_first();
      }
      if (sack && cc.in_fast_recovery()) sack_send();
    } else if (verdict == AckVerdict::kDuplicate) {
      snd_wnd = p.window;  // a window update
    }
    if (sack && cc.in_fast_recovery()) {
      sack_send();
    } else {
      try_send();
    }
  }
  void on_timeout() {
    ++timeouts;
    rtt.backoff();
    cc.on_retransmit_timeout(sndbuf.snd_una().size_to(snd_max), snd_max);
    snd_nxt = sndbuf.snd_una();  // go back N: everything unacknowledged is sent again
    scoreboard.clear();
    Size len = std::min<Size>(kMss, static_cast<Size>(sndbuf.unsent(snd_nxt)));
    send_segment(snd_nxt, len, true);
    snd_nxt = snd_nxt.add(len);
    timers.arm(rto_timer, clock.now() + rtt.rto());
  }

  void on_data(const Packet& p) {
    const Size window = rwnd.window_from(reasm.rcv_nxt());
    const ReassemblyResult r = reasm.insert(p.seq, p.data, false, window, received);
    if (r.out_of_order) sack_blocks.on_out_of_order(r.out_of_order->start, r.out_of_order->end);
    sack_blocks.on_rcv_nxt(reasm.rcv_nxt());
    // The application reads at once; every segment is ACKed (no delayed ACK here).
    const std::uint16_t field = rwnd.advertise(reasm.rcv_nxt(), 0);
    Packet ack{false, reasm.rcv_nxt(), {}, field, {}};
    if (sack) {
      const auto blocks = sack_blocks.report(max_sack_blocks(true));
      ack.sack.assign(blocks.begin(), blocks.end());
    }
    transmit(std::move(ack));
  }

  // Runs until the whole stream arrived or the simulated time runs out.
  bool run(const std::string& stream, Duration limit) {
    std::size_t written = 0;
    for (int steps = 0; steps < 2'000'000; ++steps) {
      if (written < stream.size()) {
        written += sndbuf.write(std::as_bytes(std::span(stream).subspan(written)));
        try_send();
      }
      if (received.size() == stream.size()) return true;
      std::optional<Instant> at = timers.next_deadline();
      if (!path.empty() && (!at || path.top().at < *at)) at = path.top().at;
      if (!at || *at - start > limit) {
        UNSCOPED_INFO("stuck: received " << received.size() << ", una " << sndbuf.snd_una()
                      << ", nxt " << snd_nxt << ", cwnd " << cc.cwnd() << ", snd_wnd " << snd_wnd
                      << ", timer " << timers.armed(rto_timer) << ", path " << path.size());
        return false;
      }
      clock.advance(*at - clock.now());
      for (const auto& t : timers.expire(clock.now())) {
        if (t.key == rto_timer) on_timeout();
      }
      while (!path.empty() && path.top().at <= clock.now()) {
        const Packet p = path.top().packet;
        path.pop();
        if (p.to_receiver) {
          on_data(p);
        } else {
          on_ack(p);
        }
      }
    }
    return false;
  }
};

std::string make_stream(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7 + i / 251) & 0xff);
  return s;
}

std::string text(const std::vector<std::byte>& v) {
  return {reinterpret_cast<const char*>(v.data()), v.size()};
}

}  // namespace

TEST_CASE("a clean path moves the stream at window speed", "[tcp][sim]") {
  Sim sim(1, 0.0, Value(0xffff0000U));  // the stream crosses the sequence wrap
  const std::string stream = make_stream(300 * 1000);
  REQUIRE(sim.run(stream, 60s));
  CHECK(text(sim.received) == stream);
  CHECK(sim.timeouts == 0u);
  CHECK(sim.fast_retransmits == 0u);
  CHECK(sim.rtt.srtt() >= 20ms);  // the round trip is 2 * 10 ms plus queueing in the window
}

TEST_CASE("5% loss each way: fast retransmit, timeouts, every byte once", "[tcp][sim]") {
  for (std::uint32_t seed : {1u, 2u, 3u}) {
    DYNAMIC_SECTION("seed " << seed) {
      Sim sim(seed * 2654435761U, 0.05, Value(0xfffe0000U + seed));
      const std::string stream = make_stream(200 * 1000);
      REQUIRE(sim.run(stream, 300s));
      INFO(sim.fast_retransmits << " fast retransmits, " << sim.timeouts << " timeouts, "
                                << sim.elapsed_ms() << " ms");
      CHECK(text(sim.received) == stream);
      CHECK(sim.fast_retransmits + sim.timeouts > 0u);
      CHECK(sim.reasm.held_bytes() == 0u);
    }
  }
}

TEST_CASE("5% loss each way with SACK: RFC 6675 recovery, every byte once", "[tcp][sim][sack]") {
  unsigned sack_retransmits = 0;
  for (std::uint32_t seed : {1u, 2u, 3u}) {
    DYNAMIC_SECTION("seed " << seed) {
      Sim sim(seed * 2246822519U, 0.05, Value(0xfffe8000U + seed), true);
      const std::string stream = make_stream(200 * 1000);
      REQUIRE(sim.run(stream, 300s));
      INFO(sim.fast_retransmits << " fast retransmits, " << sim.sack_retransmits
                                << " NextSeg retransmits, " << sim.timeouts << " timeouts, "
                                << sim.elapsed_ms() << " ms");
      CHECK(text(sim.received) == stream);
      sack_retransmits += sim.sack_retransmits;
    }
  }
  CHECK(sack_retransmits > 0u);  // NextSeg chose retransmissions beyond the first hole
}
