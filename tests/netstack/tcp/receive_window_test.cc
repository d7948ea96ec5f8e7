#include "netstack/transport/tcp/receive_window.h"

#include "tests/catch.h"

using netstack::seqnum::Size;
using netstack::seqnum::Value;
using netstack::tcp::ReceiveWindow;
using netstack::tcp::window_scale_for;

TEST_CASE("window scale is the smallest shift that fits 16 bits (RFC 7323 2.3)", "[tcp][rwnd]") {
  CHECK(window_scale_for(0) == 0);
  CHECK(window_scale_for(65535) == 0);
  CHECK(window_scale_for(65536) == 1);
  CHECK(window_scale_for(1u << 20) == 5);
  CHECK(window_scale_for(6u << 20) == 7);  // Linux's default tcp_rmem max gives 7 as well
  CHECK(window_scale_for(std::uint64_t{1} << 40) == 14);  // capped at 14
}

TEST_CASE("unscaled window: SWS avoidance and the fixed right edge", "[tcp][rwnd]") {
  ReceiveWindow w(10000, 0, 1000, Value(0));
  CHECK(w.syn_window() == 10000);
  CHECK(w.advertise(Value(0), 0) == 10000);
  CHECK(w.right_edge() == Value(10000));
  // 3000 bytes arrived, unread: the right edge stays, the window is what remains.
  CHECK(w.advertise(Value(3000), 3000) == 7000);
  // The application read 500: too little to open the window (min(RCV.BUFF/2, MSS) = 1000).
  CHECK_FALSE(w.update_worth_sending(Value(3000), 2500));
  CHECK(w.advertise(Value(3000), 2500) == 7000);
  // 1100 read in all: worth it.
  CHECK(w.update_worth_sending(Value(3000), 1900));
  CHECK(w.advertise(Value(3000), 1900) == 8100);
  CHECK(w.right_edge() == Value(11100));
}

TEST_CASE("the right edge never moves left", "[tcp][rwnd]") {
  ReceiveWindow w(10000, 0, 1000, Value(0));
  w.advertise(Value(0), 0);
  // More unread data than the window accounts for (e.g. the buffer filled some other way): the
  // window does not shrink below what was promised.
  CHECK(w.advertise(Value(2000), 9500) == 8000);
  CHECK(w.right_edge() == Value(10000));
}

TEST_CASE("zero window opens only by a worthwhile amount", "[tcp][rwnd]") {
  ReceiveWindow w(4000, 0, 1000, Value(0));
  w.advertise(Value(0), 0);
  CHECK(w.advertise(Value(4000), 4000) == 0);
  CHECK(w.window_from(Value(4000)) == 0u);
  CHECK(w.advertise(Value(4000), 3500) == 0);     // 500 free < min(2000, 1000)
  CHECK(w.advertise(Value(4000), 3000) == 1000);  // 1000 free
}

TEST_CASE("scaled window rounds down, except to keep the right edge", "[tcp][rwnd]") {
  ReceiveWindow w(1u << 20, 5, 1460, Value(0));
  CHECK(w.scale() == 5);
  CHECK(w.syn_window() == 65535);  // the SYN's window is never scaled
  CHECK(w.advertise(Value(0), 0) == 32768);
  CHECK(w.right_edge() == Value(1u << 20));
  // 1000 bytes in and unread: 1047576 bytes left. Rounding down to 32736 << 5 would end 24 bytes
  // before the old right edge, so the field rounds up instead.
  const Value before = w.right_edge();
  const std::uint16_t field = w.advertise(Value(1000), 1000);
  CHECK(field == 32737);
  CHECK(before.less_than_eq(w.right_edge()));
  // Reading the 1000 bytes frees less than an MSS beyond the promised edge: no change (SWS).
  CHECK(w.advertise(Value(1000), 0) == 32737);
  // 2000 more bytes in and read: the window grows back to the whole buffer, rounded down.
  CHECK(w.advertise(Value(3000), 0) == 32768);
  CHECK(w.right_edge() == Value(3000 + (1u << 20)));
}

TEST_CASE("a capacity beyond 16 bits << scale is clamped", "[tcp][rwnd]") {
  ReceiveWindow w(1u << 20, 0, 1460, Value(0));  // the peer did not offer window scaling
  CHECK(w.capacity() == 65535u);
  CHECK(w.advertise(Value(0), 0) == 65535);
}

TEST_CASE("receive window across the sequence wrap", "[tcp][rwnd][wrap]") {
  const Value start(0xffffffffU - 1999);
  ReceiveWindow w(10000, 0, 1000, start);
  CHECK(w.advertise(start, 0) == 10000);
  CHECK(w.right_edge() == Value(8000));
  CHECK(w.advertise(Value(3000), 5000) == 5000);
  CHECK(w.window_from(Value(3000)) == 5000u);
  CHECK(w.advertise(Value(3000), 0) == 10000);
  CHECK(w.right_edge() == Value(13000));
}
