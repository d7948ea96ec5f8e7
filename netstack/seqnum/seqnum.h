// TCP sequence numbers and window sizes modulo 2^32 (RFC 9293 §3.4), in the shape of gVisor's
// seqnum. Raw uint32_t comparisons are wrong across the wrap; Value only offers wrap-aware ones,
// valid while the two numbers are less than 2^31 apart (the TCP window guarantees that).
#pragma once

#include <cstdint>
#include <iosfwd>

namespace netstack::seqnum {

// A byte count: window sizes, segment lengths, distances between two Values.
using Size = std::uint32_t;

class Value {
 public:
  constexpr Value() = default;
  constexpr explicit Value(std::uint32_t raw) : v_(raw) {}

  constexpr std::uint32_t raw() const { return v_; }

  // v < w in the sequence space: w lies less than 2^31 ahead of v.
  constexpr bool less_than(Value w) const { return static_cast<std::int32_t>(v_ - w.v_) < 0; }
  constexpr bool less_than_eq(Value w) const { return v_ == w.v_ || less_than(w); }
  // a <= v < b.
  constexpr bool in_range(Value a, Value b) const { return v_ - a.v_ < b.v_ - a.v_; }
  // first <= v < first + size: the receive-window test of RFC 9293 §3.4.
  constexpr bool in_window(Value first, Size size) const {
    return in_range(first, first.add(size));
  }
  constexpr Value add(Size s) const { return Value(v_ + s); }
  // The distance from v forward to w (w - v, modulo 2^32).
  constexpr Size size_to(Value w) const { return w.v_ - v_; }
  // v += s.
  constexpr void update_forward(Size s) { v_ += s; }

  friend constexpr bool operator==(Value a, Value b) = default;

 private:
  std::uint32_t v_ = 0;
};

// gVisor's free-function spellings, for code ported from the RFC pseudo-code.
constexpr bool less_than(Value a, Value b) { return a.less_than(b); }
constexpr bool less_than_eq(Value a, Value b) { return a.less_than_eq(b); }
constexpr Size size_between(Value from, Value to) { return from.size_to(to); }
constexpr Value max(Value a, Value b) { return a.less_than(b) ? b : a; }
constexpr Value min(Value a, Value b) { return a.less_than(b) ? a : b; }

// Whether [a, a + a_len) and [b, b + b_len) share at least one sequence number.
constexpr bool overlap(Value a, Size a_len, Value b, Size b_len) {
  return a_len > 0 && b_len > 0 && (a.in_window(b, b_len) || b.in_window(a, a_len));
}

// Prints the raw number, so test failures read "got 4294967295, want 3".
std::ostream& operator<<(std::ostream& os, Value v);

}  // namespace netstack::seqnum
