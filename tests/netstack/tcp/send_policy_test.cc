#include "netstack/transport/tcp/send_policy.h"

#include "tests/catch.h"

using namespace std::chrono_literals;
using netstack::tcp::needs_zero_window_probe;
using netstack::tcp::next_segment_length;
using netstack::tcp::SendState;
using netstack::tcp::zero_window_probe_interval;

namespace {

SendState base() {
  SendState s;
  s.queued = 100;
  s.usable_window = 60000;
  s.eff_mss = 1448;
  s.max_snd_wnd = 60000;
  return s;
}

}  // namespace

TEST_CASE("a full-sized segment always goes", "[tcp][send]") {
  SendState s = base();
  s.queued = 5000;
  s.unacked_data = true;
  s.push = false;
  CHECK(next_segment_length(s) == 1448u);
}

TEST_CASE("Nagle holds a small segment while data is unacknowledged", "[tcp][send][nagle]") {
  SendState s = base();
  CHECK(next_segment_length(s) == 100u);  // nothing in flight: send
  s.unacked_data = true;
  CHECK(next_segment_length(s) == 0u);    // RFC 9293 3.7.4: wait for the ACK
  s.nodelay = true;
  CHECK(next_segment_length(s) == 100u);  // TCP_NODELAY
}

TEST_CASE("the segment carrying the FIN is not held by Nagle", "[tcp][send][nagle]") {
  SendState s = base();
  s.unacked_data = true;
  s.fin_queued = true;
  CHECK(next_segment_length(s) == 100u);
  s.queued = 3000;  // the FIN is further back: the full segment goes, the tail waits
  CHECK(next_segment_length(s) == 1448u);
  s.queued = 1500;
  s.usable_window = 1000;  // the window cuts the segment: the FIN would not ride on it
  CHECK(next_segment_length(s) == 0u);
}

TEST_CASE("sender SWS avoidance (RFC 9293 3.8.6.2.1)", "[tcp][send][sws]") {
  SendState s = base();
  s.nodelay = true;
  s.queued = 5000;
  s.usable_window = 1000;  // less than a segment
  SECTION("(iii) pushed and at least half the largest window: send") {
    s.max_snd_wnd = 2000;
    CHECK(next_segment_length(s) == 1000u);
  }
  SECTION("pushed but a sliver of a big window: wait") {
    s.max_snd_wnd = 60000;
    CHECK(next_segment_length(s) == 0u);
    s.override_expired = true;  // (iv)
    CHECK(next_segment_length(s) == 1000u);
  }
  SECTION("(ii) not pushed: even all of the data waits for more") {
    s.queued = 500;
    s.push = false;
    CHECK(next_segment_length(s) == 0u);
    s.push = true;
    CHECK(next_segment_length(s) == 500u);
  }
}

TEST_CASE("nothing to send, or no window", "[tcp][send]") {
  SendState s = base();
  s.queued = 0;
  CHECK(next_segment_length(s) == 0u);
  s = base();
  s.usable_window = 0;
  CHECK(next_segment_length(s) == 0u);
}

TEST_CASE("zero-window probe decision and its backoff", "[tcp][send][persist]") {
  CHECK(needs_zero_window_probe(0, 10, false));
  CHECK_FALSE(needs_zero_window_probe(0, 10, true));  // the retransmission timer covers it
  CHECK_FALSE(needs_zero_window_probe(0, 0, false));
  CHECK_FALSE(needs_zero_window_probe(1, 10, false));
  CHECK(zero_window_probe_interval(200ms, 0, 120s) == 200ms);
  CHECK(zero_window_probe_interval(200ms, 3, 120s) == 1600ms);
  CHECK(zero_window_probe_interval(200ms, 60, 120s) == 120s);
}
