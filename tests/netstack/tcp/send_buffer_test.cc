#include "netstack/transport/tcp/send_buffer.h"

#include <string>

#include "tests/catch.h"

using netstack::seqnum::Value;
using netstack::tcp::ByteSpans;
using netstack::tcp::SendBuffer;

namespace {

std::span<const std::byte> bytes(const std::string& s) {
  return std::as_bytes(std::span<const char>(s));
}

std::string text(const ByteSpans& b) {
  std::string out(reinterpret_cast<const char*>(b.first.data()), b.first.size());
  out.append(reinterpret_cast<const char*>(b.second.data()), b.second.size());
  return out;
}

}  // namespace

TEST_CASE("write until full, then would block", "[tcp][sndbuf]") {
  SendBuffer buf(10, Value(100));
  CHECK(buf.write(bytes("hello")) == 5u);
  CHECK(buf.write(bytes("world!!")) == 5u);  // only 5 fit
  CHECK(buf.write(bytes("x")) == 0u);
  CHECK(buf.free_space() == 0u);
  CHECK_FALSE(buf.writable());
  CHECK(buf.end() == Value(110));
  CHECK(text(buf.peek(Value(100), 100)) == "helloworld");
  CHECK(text(buf.peek(Value(103), 4)) == "lowo");
  CHECK(buf.peek(Value(110), 4).size() == 0u);  // nothing at or past the end
  CHECK(buf.peek(Value(99), 4).size() == 0u);   // before SND.UNA
}

TEST_CASE("acknowledged bytes free space; segments span the ring's wrap", "[tcp][sndbuf]") {
  SendBuffer buf(8, Value(0));
  buf.write(bytes("abcdefgh"));
  CHECK(buf.acknowledge(Value(5)) == 5u);
  CHECK(buf.snd_una() == Value(5));
  CHECK(buf.free_space() == 5u);
  CHECK(buf.writable());
  CHECK(buf.write(bytes("ijklm")) == 5u);  // wraps inside the ring
  const ByteSpans seg = buf.peek(Value(6), 6);
  CHECK(text(seg) == "ghijkl");
  CHECK(seg.second.size() > 0u);  // really two pieces
  CHECK(buf.unsent(Value(8)) == 5u);
  CHECK(buf.acknowledge(Value(4)) == 0u);  // old ACK: nothing
  CHECK(buf.acknowledge(Value(13)) == 8u);
  CHECK(buf.size() == 0u);
}

TEST_CASE("writable once free space reaches half the queued bytes", "[tcp][sndbuf]") {
  SendBuffer buf(90, Value(0));
  buf.write(std::span<const std::byte>(std::vector<std::byte>(90)));
  buf.acknowledge(Value(29));  // 61 queued, 29 free
  CHECK_FALSE(buf.writable());
  buf.acknowledge(Value(30));  // 60 queued, 30 free
  CHECK(buf.writable());
}

TEST_CASE("send buffer across the sequence wrap", "[tcp][sndbuf][wrap]") {
  SendBuffer buf(16, Value(0xfffffffaU));
  buf.write(bytes("0123456789"));
  CHECK(buf.end() == Value(4));
  CHECK(text(buf.peek(Value(0xfffffffeU), 4)) == "4567");
  CHECK(text(buf.peek(Value(2), 10)) == "89");
  CHECK(buf.acknowledge(Value(1)) == 7u);
  CHECK(buf.snd_una() == Value(1));
  CHECK(text(buf.peek(Value(1), 10)) == "789");
}

TEST_CASE("a long stream through a small ring stays byte-exact", "[tcp][sndbuf]") {
  SendBuffer buf(1000, Value(0xffffff00U));
  std::string sent;
  std::string got;
  std::uint32_t rng = 7;
  auto next = [&] {
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
  };
  Value snd_nxt = buf.snd_una();
  for (int i = 0; i < 2000; ++i) {
    std::string chunk(next() % 300, '\0');
    for (char& c : chunk) c = static_cast<char>('a' + next() % 26);
    sent += chunk.substr(0, buf.write(bytes(chunk)));
    const ByteSpans seg = buf.peek(snd_nxt, 1 + next() % 500);
    got += text(seg);
    snd_nxt = snd_nxt.add(static_cast<std::uint32_t>(seg.size()));
    // The peer acknowledges part of what was sent.
    buf.acknowledge(buf.snd_una().add(next() % (buf.snd_una().size_to(snd_nxt) + 1)));
  }
  got += text(buf.peek(snd_nxt, 100000));
  CHECK(got == sent);
  CHECK(sent.size() > 100000u);
}
