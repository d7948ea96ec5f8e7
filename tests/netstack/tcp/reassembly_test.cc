#include "netstack/transport/tcp/reassembly.h"

#include <string>
#include <vector>

#include "tests/catch.h"

using netstack::seqnum::Size;
using netstack::seqnum::Value;
using netstack::tcp::Reassembler;
using netstack::tcp::ReassemblyResult;
using netstack::tcp::SackBlock;

namespace {

// The stream the tests cut into segments: byte i of the stream is 'a' + i % 26.
std::string stream(std::size_t n) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s.push_back(static_cast<char>('a' + i % 26));
  return s;
}

std::span<const std::byte> bytes(const std::string& s, std::size_t off, std::size_t len) {
  return std::as_bytes(std::span<const char>(s.data() + off, len));
}

std::string text(const std::vector<std::byte>& v) {
  return {reinterpret_cast<const char*>(v.data()), v.size()};
}

// Feeds stream bytes [off, off + len) from initial sequence `isn`.
ReassemblyResult feed(Reassembler& r, Value isn, const std::string& s, std::size_t off,
                      std::size_t len, std::vector<std::byte>& out, Size window = 65535,
                      bool fin = false) {
  return r.insert(isn.add(static_cast<Size>(off)), bytes(s, off, len), fin, window, out);
}

}  // namespace

TEST_CASE("in-order segments pass straight through", "[tcp][reassembly]") {
  const std::string s = stream(100);
  Reassembler r(Value(1000));
  std::vector<std::byte> out;
  const auto a = feed(r, Value(1000), s, 0, 40, out);
  CHECK(a.delivered == 40u);
  CHECK_FALSE(a.out_of_order);
  CHECK_FALSE(a.duplicate);
  feed(r, Value(1000), s, 40, 60, out);
  CHECK(text(out) == s);
  CHECK(r.rcv_nxt() == Value(1100));
  CHECK(r.held_bytes() == 0u);
}

TEST_CASE("out-of-order segments wait and leave in order", "[tcp][reassembly]") {
  const std::string s = stream(100);
  Reassembler r(Value(0));
  std::vector<std::byte> out;
  auto res = feed(r, Value(0), s, 60, 20, out);
  CHECK(res.delivered == 0u);
  REQUIRE(res.out_of_order);
  CHECK(*res.out_of_order == SackBlock{Value(60), Value(80)});
  res = feed(r, Value(0), s, 20, 20, out);
  CHECK(*res.out_of_order == SackBlock{Value(20), Value(40)});
  res = feed(r, Value(0), s, 40, 20, out);  // bridges the two held ranges
  CHECK(*res.out_of_order == SackBlock{Value(20), Value(80)});
  CHECK(r.held_ranges() == 1u);
  CHECK(r.held_bytes() == 60u);
  res = feed(r, Value(0), s, 0, 20, out);  // fills the hole: everything up to 80 leaves
  CHECK(res.delivered == 80u);
  CHECK_FALSE(res.out_of_order);
  feed(r, Value(0), s, 80, 20, out);
  CHECK(text(out) == s);
}

TEST_CASE("overlapping and duplicate segments deliver each byte once", "[tcp][reassembly]") {
  const std::string s = stream(200);
  Reassembler r(Value(0));
  std::vector<std::byte> out;
  feed(r, Value(0), s, 50, 50, out);
  feed(r, Value(0), s, 120, 30, out);
  CHECK(feed(r, Value(0), s, 60, 20, out).duplicate);     // inside a held range
  CHECK_FALSE(feed(r, Value(0), s, 90, 40, out).duplicate);  // overlaps both, fills between
  CHECK(r.held_ranges() == 1u);
  feed(r, Value(0), s, 0, 70, out);  // overlaps the held range's start
  CHECK(text(out) == s.substr(0, 150));
  CHECK(feed(r, Value(0), s, 10, 100, out).duplicate);  // entirely old
  CHECK(r.rcv_nxt() == Value(150));
  feed(r, Value(0), s, 140, 60, out);  // starts before RCV.NXT: the old part is trimmed
  CHECK(text(out) == s);
}

TEST_CASE("data beyond the window is trimmed and not held", "[tcp][reassembly]") {
  const std::string s = stream(100);
  Reassembler r(Value(0));
  std::vector<std::byte> out;
  auto res = feed(r, Value(0), s, 30, 50, out, 50);  // window [0, 50): keep [30, 50)
  CHECK(r.held_bytes() == 20u);
  CHECK(*res.out_of_order == SackBlock{Value(30), Value(50)});
  res = feed(r, Value(0), s, 60, 10, out, 50);  // entirely beyond
  CHECK(res.duplicate);
  CHECK(r.held_bytes() == 20u);
  res = feed(r, Value(0), s, 0, 10, out, 0);  // zero window: nothing
  CHECK(res.duplicate);
  CHECK(out.empty());
  feed(r, Value(0), s, 0, 30, out, 50);
  CHECK(text(out) == s.substr(0, 50));
}

TEST_CASE("FIN is delivered after the data before it", "[tcp][reassembly]") {
  const std::string s = stream(30);
  Reassembler r(Value(0));
  std::vector<std::byte> out;
  auto res = feed(r, Value(0), s, 20, 10, out, 65535, true);  // out-of-order FIN
  CHECK_FALSE(res.fin);
  CHECK(r.fin_received());
  res = feed(r, Value(0), s, 0, 20, out);
  CHECK(res.fin);
  CHECK(res.delivered == 30u);
  CHECK(r.rcv_nxt() == Value(31));  // the FIN takes one sequence number
  CHECK(text(out) == s);
}

TEST_CASE("a FIN after trimmed data, or an old FIN, is not taken", "[tcp][reassembly]") {
  const std::string s = stream(30);
  std::vector<std::byte> out;
  Reassembler r(Value(0));
  auto res = feed(r, Value(0), s, 0, 30, out, 20, true);  // window 20: data trimmed, FIN dropped
  CHECK(res.delivered == 20u);
  CHECK_FALSE(res.fin);
  CHECK_FALSE(r.fin_received());

  Reassembler late(Value(0));
  feed(late, Value(0), s, 0, 30, out);
  // A retransmitted segment ending before RCV.NXT carries a FIN at 10: it must not land at 30.
  res = feed(late, Value(0), s, 0, 10, out, 65535, true);
  CHECK_FALSE(res.fin);
  CHECK(late.rcv_nxt() == Value(30));
}

TEST_CASE("a FIN at the window's edge is taken, even into a zero window", "[tcp][reassembly]") {
  const std::string s = stream(20);
  std::vector<std::byte> out;
  Reassembler full(Value(0));
  auto res = feed(full, Value(0), s, 0, 20, out, 20, true);  // 20 bytes fill the window exactly
  CHECK(res.fin);
  CHECK(full.rcv_nxt() == Value(21));

  Reassembler zero(Value(7));
  res = zero.insert(Value(7), {}, true, 0, out);  // a bare FIN, window 0
  CHECK(res.fin);
  CHECK(zero.rcv_nxt() == Value(8));
  Reassembler beyond(Value(7));
  res = beyond.insert(Value(8), {}, true, 0, out);  // one past the window: not taken
  CHECK_FALSE(res.fin);
  CHECK_FALSE(beyond.fin_received());
}

TEST_CASE("data past a known FIN is ignored", "[tcp][reassembly]") {
  const std::string s = stream(40);
  Reassembler r(Value(0));
  std::vector<std::byte> out;
  feed(r, Value(0), s, 10, 10, out, 65535, true);  // FIN at 20
  feed(r, Value(0), s, 15, 20, out);               // claims bytes up to 35
  feed(r, Value(0), s, 0, 10, out);
  CHECK(text(out) == s.substr(0, 20));
  CHECK(r.rcv_nxt() == Value(21));
}

TEST_CASE("reassembly across the sequence wrap", "[tcp][reassembly][wrap]") {
  const std::string s = stream(300);
  const Value isn(0xffffffffU - 99);  // byte 100 of the stream sits at sequence 0
  Reassembler r(isn);
  std::vector<std::byte> out;
  auto res = feed(r, isn, s, 150, 100, out);
  REQUIRE(res.out_of_order);
  CHECK(*res.out_of_order == SackBlock{Value(50), Value(150)});
  feed(r, isn, s, 50, 120, out);  // straddles the wrap and overlaps the held range
  CHECK(r.held_ranges() == 1u);
  feed(r, isn, s, 250, 50, out);
  res = feed(r, isn, s, 0, 60, out);
  CHECK(res.delivered == 300u);
  CHECK(text(out) == s);
  CHECK(r.rcv_nxt() == Value(200));
}

TEST_CASE("random segment orders always rebuild the stream", "[tcp][reassembly]") {
  const std::string s = stream(5000);
  std::uint32_t rng = 12345;  // private xorshift, fixed seed
  auto next = [&] {
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
  };
  for (int round = 0; round < 20; ++round) {
    const Value isn(0xffffffffU - next() % 3000);  // wraps somewhere inside the stream
    Reassembler r(isn);
    std::vector<std::byte> out;
    for (int i = 0; i < 100000 && out.size() < s.size(); ++i) {
      const std::size_t off = next() % s.size();
      const std::size_t len = 1 + next() % std::min<std::size_t>(700, s.size() - off);
      const auto win = static_cast<Size>(1000 + next() % 3000);
      feed(r, isn, s, off, len, out, win);
    }
    REQUIRE(text(out) == s);
    CHECK(r.held_bytes() == 0u);
  }
}
