#include "netstack/transport/tcp/negotiation.h"

#include "tests/catch.h"

using namespace netstack::tcp;

namespace {

// What Linux puts in its SYN on a 1500-byte link: MSS 1460, SACK-permitted, timestamps, wscale 7.
SynOptions linux_syn() { return {1460, 7, true, true}; }
SynOptions our_offer() { return {1460, 5, true, true}; }

}  // namespace

TEST_CASE("MSS for an MTU", "[tcp][negotiation]") {
  CHECK(mss_for_mtu(1500) == 1460);
  CHECK(mss_for_mtu(65536) == 65496);
  CHECK(mss_for_mtu(40) == 0);
  CHECK(mss_for_mtu(1u << 20) == 0xffff);
}

TEST_CASE("everything both sides offer is on", "[tcp][negotiation]") {
  const Negotiated n = negotiate(our_offer(), linux_syn(), 1500);
  CHECK(n.snd_mss == 1460);
  CHECK(n.window_scaling);
  CHECK(n.snd_wscale == 7);
  CHECK(n.rcv_wscale == 5);
  CHECK(n.timestamps);
  CHECK(n.sack);
}

TEST_CASE("an extension only one side offers is off", "[tcp][negotiation]") {
  SynOptions theirs = linux_syn();
  theirs.window_scale.reset();
  theirs.sack_permitted = false;
  Negotiated n = negotiate(our_offer(), theirs, 1500);
  CHECK_FALSE(n.window_scaling);
  CHECK(n.snd_wscale == 0);
  CHECK(n.rcv_wscale == 0);  // RFC 7323 2.2: our shift is not used either
  CHECK_FALSE(n.sack);
  CHECK(n.timestamps);
  SynOptions ours = our_offer();
  ours.timestamps = false;
  n = negotiate(ours, linux_syn(), 1500);
  CHECK_FALSE(n.timestamps);
}

TEST_CASE("MSS defaults to 536 and is bounded by our link", "[tcp][negotiation]") {
  SynOptions theirs = linux_syn();
  theirs.mss.reset();
  CHECK(negotiate(our_offer(), theirs, 1500).snd_mss == kDefaultMss);
  theirs.mss = 9000;
  CHECK(negotiate(our_offer(), theirs, 1500).snd_mss == 1460);
  theirs.mss = 0;  // nonsense from the peer still leaves a usable segment size
  CHECK(negotiate(our_offer(), theirs, 1500).snd_mss == 1);
}

TEST_CASE("window scale above 14 is used as 14 (RFC 7323 2.3)", "[tcp][negotiation]") {
  SynOptions theirs = linux_syn();
  theirs.window_scale = 15;
  CHECK(negotiate(our_offer(), theirs, 1500).snd_wscale == 14);
}

TEST_CASE("a SYN-ACK answers only what the SYN offered", "[tcp][negotiation]") {
  SynOptions syn = linux_syn();
  SynOptions a = answer_syn(our_offer(), syn);
  CHECK(a.mss == 1460);
  CHECK(a.window_scale == 5);
  CHECK(a.sack_permitted);
  CHECK(a.timestamps);
  syn = {1460, std::nullopt, false, false};
  a = answer_syn(our_offer(), syn);
  CHECK(a.mss == 1460);
  CHECK_FALSE(a.window_scale);
  CHECK_FALSE(a.sack_permitted);
  CHECK_FALSE(a.timestamps);
}

TEST_CASE("options shrink the effective send MSS", "[tcp][negotiation]") {
  CHECK(effective_send_mss(1460, 12) == 1448);  // timestamps
  CHECK(effective_send_mss(1460, 40) == 1420);  // timestamps and 3 SACK blocks (+ padding)
  CHECK(effective_send_mss(20, 40) == 1);
}
