#include "netstack/seqnum/seqnum.h"

#include <sstream>

#include "tests/catch.h"

using netstack::seqnum::Size;
using netstack::seqnum::Value;
namespace seqnum = netstack::seqnum;

namespace {
constexpr std::uint32_t kTop = 0xffffffffU;
}

TEST_CASE("less_than orders numbers less than 2^31 apart", "[seqnum]") {
  CHECK(Value(1).less_than(Value(2)));
  CHECK_FALSE(Value(2).less_than(Value(1)));
  CHECK_FALSE(Value(5).less_than(Value(5)));
  CHECK(Value(5).less_than_eq(Value(5)));
  CHECK(Value(0).less_than(Value(0x7fffffff)));
  // 2^31 apart is the ambiguous point: a - b == INT32_MIN counts as "less".
  CHECK(Value(0x80000000U).less_than(Value(0)));
}

TEST_CASE("less_than works across the wrap at 2^32", "[seqnum][wrap]") {
  CHECK(Value(kTop).less_than(Value(0)));
  CHECK(Value(kTop - 10).less_than(Value(5)));
  CHECK_FALSE(Value(5).less_than(Value(kTop - 10)));
  CHECK(Value(kTop).less_than_eq(Value(kTop)));
  CHECK(seqnum::less_than(Value(kTop - 1), Value(kTop)));
  CHECK(seqnum::less_than_eq(Value(kTop), Value(1)));
  CHECK(seqnum::max(Value(kTop), Value(3)) == Value(3));
  CHECK(seqnum::min(Value(kTop), Value(3)) == Value(kTop));
}

TEST_CASE("add and size_to wrap modulo 2^32", "[seqnum][wrap]") {
  CHECK(Value(kTop).add(1) == Value(0));
  CHECK(Value(kTop - 5).add(10) == Value(4));
  CHECK(Value(kTop - 5).size_to(Value(4)) == 10u);
  CHECK(seqnum::size_between(Value(kTop), Value(kTop)) == 0u);
  CHECK(seqnum::size_between(Value(10), Value(20)) == 10u);
  Value v(kTop - 1);
  v.update_forward(3);
  CHECK(v == Value(1));
}

TEST_CASE("in_range is half-open and wrap-aware", "[seqnum][wrap]") {
  CHECK(Value(10).in_range(Value(10), Value(20)));
  CHECK(Value(19).in_range(Value(10), Value(20)));
  CHECK_FALSE(Value(20).in_range(Value(10), Value(20)));
  CHECK_FALSE(Value(9).in_range(Value(10), Value(20)));
  // A range straddling the wrap.
  CHECK(Value(kTop).in_range(Value(kTop - 2), Value(3)));
  CHECK(Value(0).in_range(Value(kTop - 2), Value(3)));
  CHECK(Value(2).in_range(Value(kTop - 2), Value(3)));
  CHECK_FALSE(Value(3).in_range(Value(kTop - 2), Value(3)));
  CHECK_FALSE(Value(kTop - 3).in_range(Value(kTop - 2), Value(3)));
  // An empty range holds nothing.
  CHECK_FALSE(Value(7).in_range(Value(7), Value(7)));
}

TEST_CASE("in_window is the RFC 9293 receive test, across the wrap", "[seqnum][wrap]") {
  const Value rcv_nxt(kTop - 99);
  CHECK(rcv_nxt.in_window(rcv_nxt, 200));
  CHECK(Value(99).in_window(rcv_nxt, 200));
  CHECK_FALSE(Value(100).in_window(rcv_nxt, 200));
  CHECK_FALSE(Value(kTop - 100).in_window(rcv_nxt, 200));
  CHECK_FALSE(rcv_nxt.in_window(rcv_nxt, 0));  // a zero window holds nothing
}

TEST_CASE("overlap of two ranges", "[seqnum][wrap]") {
  CHECK(seqnum::overlap(Value(10), 10, Value(15), 10));
  CHECK(seqnum::overlap(Value(15), 10, Value(10), 10));
  CHECK(seqnum::overlap(Value(10), 10, Value(12), 2));
  CHECK_FALSE(seqnum::overlap(Value(10), 10, Value(20), 10));  // touching is not overlapping
  CHECK_FALSE(seqnum::overlap(Value(10), 0, Value(10), 10));
  CHECK(seqnum::overlap(Value(kTop - 4), 10, Value(2), 1));
  CHECK_FALSE(seqnum::overlap(Value(kTop - 4), 5, Value(0), 1));
}

TEST_CASE("values print as their raw number", "[seqnum]") {
  std::ostringstream os;
  os << Value(kTop);
  CHECK(os.str() == "4294967295");
}

TEST_CASE("operations are constexpr", "[seqnum]") {
  static_assert(Value(kTop).add(2) == Value(1));
  static_assert(Value(kTop).less_than(Value(1)));
  static_assert(Value(kTop).size_to(Value(1)) == Size{2});
  SUCCEED("checked at compile time");
}
