#include "netstack/transport/tcp/sack.h"

#include <vector>

#include "tests/catch.h"

using netstack::seqnum::Size;
using netstack::seqnum::Value;
using netstack::tcp::NextSegment;
using netstack::tcp::SackBlock;
using netstack::tcp::SackReceiverBlocks;
using netstack::tcp::SackScoreboard;

namespace {

constexpr Size kMss = 100;
using Blocks = std::vector<SackBlock>;

SackBlock blk(std::uint32_t a, std::uint32_t b) { return {Value(a), Value(b)}; }
Blocks as_vector(std::span<const SackBlock> s) { return {s.begin(), s.end()}; }

}  // namespace

TEST_CASE("SACK block limits follow the option space", "[tcp][sack]") {
  CHECK(netstack::tcp::max_sack_blocks(false) == 4u);
  CHECK(netstack::tcp::max_sack_blocks(true) == 3u);
}

TEST_CASE("receiver reports the most recent block first (RFC 2018 section 4)", "[tcp][sack]") {
  SackReceiverBlocks r;
  CHECK(r.empty());
  r.on_out_of_order(Value(200), Value(300));
  r.on_out_of_order(Value(400), Value(500));
  r.on_out_of_order(Value(600), Value(700));
  CHECK(as_vector(r.report(4)) == Blocks{blk(600, 700), blk(400, 500), blk(200, 300)});
  // A segment that extends an older block moves that block to the front.
  r.on_out_of_order(Value(300), Value(350));
  CHECK(as_vector(r.report(4)) == Blocks{blk(200, 350), blk(600, 700), blk(400, 500)});
  // One segment bridging two blocks merges them.
  r.on_out_of_order(Value(500), Value(600));
  CHECK(as_vector(r.report(4)) == Blocks{blk(400, 700), blk(200, 350)});
  CHECK(as_vector(r.report(1)) == Blocks{blk(400, 700)});
}

TEST_CASE("receiver drops and trims blocks as RCV.NXT advances", "[tcp][sack]") {
  SackReceiverBlocks r;
  r.on_out_of_order(Value(200), Value(300));
  r.on_out_of_order(Value(400), Value(500));
  r.on_rcv_nxt(Value(300));
  CHECK(as_vector(r.report(4)) == Blocks{blk(400, 500)});
  r.on_rcv_nxt(Value(450));  // cannot happen with a correct reassembler, but stays consistent
  CHECK(as_vector(r.report(4)) == Blocks{blk(450, 500)});
  r.on_rcv_nxt(Value(500));
  CHECK(r.empty());
  r.on_out_of_order(Value(10), Value(10));  // empty ranges are ignored
  CHECK(r.empty());
}

TEST_CASE("receiver keeps a bounded number of blocks", "[tcp][sack]") {
  SackReceiverBlocks r;
  for (std::uint32_t i = 0; i < 40; ++i) r.on_out_of_order(Value(i * 10 + 1), Value(i * 10 + 5));
  CHECK(r.report(100).size() == SackReceiverBlocks::kMaxKept);
  CHECK(r.report(100)[0] == blk(391, 395));
}

TEST_CASE("receiver blocks across the sequence wrap", "[tcp][sack][wrap]") {
  SackReceiverBlocks r;
  r.on_out_of_order(Value(0xffffff00U), Value(0xffffff80U));
  r.on_out_of_order(Value(0xffffff80U), Value(0x80));
  CHECK(as_vector(r.report(4)) == Blocks{blk(0xffffff00U, 0x80)});
  r.on_rcv_nxt(Value(0x10));
  CHECK(as_vector(r.report(4)) == Blocks{blk(0x10, 0x80)});
}

TEST_CASE("scoreboard merges blocks and ignores invalid ones", "[tcp][sack]") {
  SackScoreboard sb(kMss, Value(1000));
  const Blocks in = {blk(1300, 1400), blk(1100, 1200), blk(1200, 1250),
                     blk(900, 1000),    // D-SACK below SND.UNA
                     blk(1500, 2100),   // beyond SND.NXT
                     blk(1600, 1600)};  // empty
  sb.on_ack(Value(1000), in, Value(2000));
  CHECK(as_vector(sb.blocks()) == Blocks{blk(1100, 1250), blk(1300, 1400)});
  CHECK(sb.sacked_bytes() == 250u);
  CHECK(sb.is_sacked(Value(1100)));
  CHECK_FALSE(sb.is_sacked(Value(1250)));
  // The cumulative ACK moves: covered blocks go, a cut block is trimmed.
  sb.on_ack(Value(1200), {}, Value(2000));
  CHECK(as_vector(sb.blocks()) == Blocks{blk(1200, 1250), blk(1300, 1400)});
}

TEST_CASE("IsLost: three SACKed ranges or more than 2 MSS above (RFC 6675)", "[tcp][sack]") {
  SackScoreboard sb(kMss, Value(0));
  sb.on_ack(Value(0), Blocks{blk(100, 200)}, Value(1000));
  CHECK_FALSE(sb.is_lost(Value(0)));
  sb.on_ack(Value(0), Blocks{blk(300, 400)}, Value(1000));
  CHECK_FALSE(sb.is_lost(Value(0)));  // two ranges, 200 bytes: exactly 2 MSS is not more
  sb.on_ack(Value(0), Blocks{blk(500, 510)}, Value(1000));
  CHECK(sb.is_lost(Value(0)));        // three discontiguous ranges
  CHECK_FALSE(sb.is_lost(Value(200))); // above it: two ranges, 110 bytes
  CHECK_FALSE(sb.is_lost(Value(150))); // SACKed octets are not lost
  CHECK(sb.should_enter_recovery());

  SackScoreboard bytes(kMss, Value(0));
  bytes.on_ack(Value(0), Blocks{blk(100, 301)}, Value(1000));
  CHECK(bytes.is_lost(Value(0)));     // one range of 201 bytes > 2 MSS
  CHECK_FALSE(bytes.is_lost(Value(301)));
}

TEST_CASE("pipe counts unSACKed not-lost octets and retransmissions", "[tcp][sack]") {
  SackScoreboard sb(kMss, Value(0));
  // Sent [0, 1000). SACKed: [100,200) [300,400) [500,600). Holes: [0,100) lost (3 ranges above),
  // [200,300) not lost (2 ranges, 200 bytes), [400,500) not lost, [600,1000) not lost.
  sb.on_ack(Value(0), Blocks{blk(100, 200), blk(300, 400), blk(500, 600)}, Value(1000));
  CHECK(sb.pipe() == 100u + 100u + 400u);
  sb.on_retransmitted(Value(0), 100);
  CHECK(sb.high_rxt() == Value(100));
  CHECK(sb.pipe() == 700u);  // the retransmission is in flight
}

TEST_CASE("NextSeg retransmits lost holes first, then new data, then rule 3", "[tcp][sack]") {
  SackScoreboard sb(kMss, Value(0));
  sb.on_ack(Value(0), Blocks{blk(250, 300), blk(350, 400), blk(450, 500)}, Value(600));
  // Hole [0, 250) is lost: retransmit one MSS at a time.
  NextSegment n = sb.next_seg(true);
  CHECK(n.kind == NextSegment::Kind::kRetransmit);
  CHECK(n.seq == Value(0));
  CHECK(n.length == kMss);
  sb.on_retransmitted(n.seq, n.length);
  n = sb.next_seg(true);
  CHECK(n.seq == Value(100));
  sb.on_retransmitted(n.seq, n.length);
  n = sb.next_seg(true);
  CHECK(n.seq == Value(200));
  CHECK(n.length == 50u);  // up to the SACKed block
  sb.on_retransmitted(n.seq, n.length);
  // Hole [300, 350): two ranges above, 100 bytes: not lost. New data comes first (rule 2).
  n = sb.next_seg(true);
  CHECK(n.kind == NextSegment::Kind::kNewData);
  CHECK(n.seq == Value(600));
  // Without new data to send, rule 3 retransmits the first unSACKed range below the highest SACK.
  n = sb.next_seg(false);
  CHECK(n.kind == NextSegment::Kind::kRetransmit);
  CHECK(n.seq == Value(300));
  CHECK(n.length == 50u);
  sb.on_retransmitted(Value(300), 50);
  sb.on_retransmitted(Value(400), 50);
  // Everything below the highest SACK was retransmitted: nothing left (rescue rule 4 not used).
  CHECK(sb.next_seg(false).kind == NextSegment::Kind::kNothing);
}

TEST_CASE("clear forgets SACK information after an RTO", "[tcp][sack]") {
  SackScoreboard sb(kMss, Value(0));
  sb.on_ack(Value(0), Blocks{blk(100, 400)}, Value(500));
  sb.on_retransmitted(Value(0), 100);
  sb.clear();
  CHECK(sb.blocks().empty());
  CHECK(sb.high_rxt() == Value(0));
  CHECK(sb.pipe() == 500u);
  CHECK_FALSE(sb.is_lost(Value(0)));
}

TEST_CASE("scoreboard across the sequence wrap", "[tcp][sack][wrap]") {
  const Value una(0xffffff00U);  // 256 below the wrap
  SackScoreboard sb(kMss, una);
  sb.on_ack(una, Blocks{blk(0xffffff80U, 0x10), blk(0x40, 0x60), blk(0x80, 0x90)}, Value(0x200));
  CHECK(as_vector(sb.blocks()) == Blocks{blk(0xffffff80U, 0x10), blk(0x40, 0x60), blk(0x80, 0x90)});
  CHECK(sb.is_lost(una));
  const NextSegment n = sb.next_seg(false);
  CHECK(n.kind == NextSegment::Kind::kRetransmit);
  CHECK(n.seq == una);
  CHECK(n.length == kMss);  // the hole is 0x80 bytes; one MSS at a time
  sb.on_ack(Value(0x20), {}, Value(0x200));
  CHECK(as_vector(sb.blocks()) == Blocks{blk(0x40, 0x60), blk(0x80, 0x90)});
}

// RFC 6675 defines IsLost and SetPipe octet by octet; the scoreboard computes them per hole. This
// checks the two against each other on random scoreboards, with the sequence space wrapping.
TEST_CASE("scoreboard agrees with an octet-by-octet model of RFC 6675", "[tcp][sack][model]") {
  std::uint32_t rng = 0x9e3779b9U;  // private xorshift, fixed seed
  auto next = [&] {
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
  };
  constexpr Size kMss10 = 10;
  for (int round = 0; round < 300; ++round) {
    const Value una(0xffffffffU - next() % 400);
    const Size sent = 50 + next() % 300;
    const Value high_data = una.add(sent);
    SackScoreboard sb(kMss10, una);
    std::vector<bool> sacked(sent, false);
    const int n_blocks = static_cast<int>(next() % 6);
    Blocks in;
    for (int i = 0; i < n_blocks; ++i) {
      const Size a = next() % sent;
      const Size len = 1 + next() % std::min<Size>(40, sent - a);
      in.push_back({una.add(a), una.add(a + len)});
      for (Size k = a; k < a + len; ++k) sacked[k] = true;
    }
    sb.on_ack(una, in, high_data);
    const Size rxt = next() % (sent + 1);
    if (rxt > 0) sb.on_retransmitted(una, rxt);

    // The model: IsLost(S) counts the SACKed octets and SACKed runs above S, here as suffix sums.
    std::vector<Size> bytes_above(sent + 1, 0);
    std::vector<unsigned> runs_above(sent + 1, 0);
    for (Size k = sent; k-- > 0;) {
      const bool run_starts = sacked[k] && (k == 0 || !sacked[k - 1]);
      bytes_above[k] = bytes_above[k + 1] + (sacked[k] ? 1 : 0);
      runs_above[k] = runs_above[k + 1] + (run_starts ? 1 : 0);
    }
    auto model_lost = [&](Size s) {
      if (sacked[s]) return false;
      return runs_above[s + 1] >= SackScoreboard::kDupThresh ||
             bytes_above[s + 1] > (SackScoreboard::kDupThresh - 1) * kMss10;
    };
    Size model_pipe = 0;
    Size mismatches = 0;
    for (Size s = 0; s < sent; ++s) {
      if (sb.is_sacked(una.add(s)) != sacked[s]) ++mismatches;
      if (sb.is_lost(una.add(s)) != model_lost(s)) ++mismatches;
      if (sacked[s]) continue;
      if (!model_lost(s)) ++model_pipe;
      if (s < rxt) ++model_pipe;
    }
    INFO("round " << round << ", SND.UNA " << una << ", " << sent << " bytes sent");
    REQUIRE(mismatches == 0u);
    REQUIRE(sb.pipe() == model_pipe);
  }
}
