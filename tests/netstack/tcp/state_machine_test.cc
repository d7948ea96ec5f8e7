#include "netstack/transport/tcp/state_machine.h"

#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "tests/catch.h"

using namespace netstack::tcp;
using enum State;
using enum Event;

namespace {

struct Row {
  State from;
  Event event;
  Opening opening;
  State to;
  std::uint16_t actions;
};

// Written out again from RFC 9293 (Figure 5 and §3.10), independently of the table under test:
// each row must be in the table exactly, and the table must hold nothing else.
const std::vector<Row> kExpected = {
    {kClosed, kPassiveOpen, Opening::kAny, kListen, kNoAction},
    {kClosed, kActiveOpen, Opening::kAny, kSynSent, kSendSyn},
    {kListen, kRcvSyn, Opening::kAny, kSynReceived, kSendSynAck},
    {kListen, kSend, Opening::kAny, kSynSent, kSendSyn},
    {kListen, kClose, Opening::kAny, kClosed, kDeleteTcb},
    {kSynSent, kRcvSynAck, Opening::kAny, kEstablished, kSendAck | kSignalEstablished},
    {kSynSent, kRcvSyn, Opening::kAny, kSynReceived, kSendSynAck},
    {kSynSent, kClose, Opening::kAny, kClosed, kDeleteTcb},
    {kSynSent, kAbort, Opening::kAny, kClosed, kDeleteTcb},
    {kSynSent, kRcvRst, Opening::kAny, kClosed, kSignalReset | kDeleteTcb},
    {kSynSent, kRetriesExhausted, Opening::kAny, kClosed, kSignalTimeout | kDeleteTcb},
    {kSynReceived, kRcvAckOfSyn, Opening::kAny, kEstablished, kSignalEstablished},
    {kSynReceived, kRcvSynAck, Opening::kAny, kEstablished, kSendAck | kSignalEstablished},
    {kSynReceived, kClose, Opening::kAny, kFinWait1, kSendFin},
    {kSynReceived, kAbort, Opening::kAny, kClosed, kSendRst | kDeleteTcb},
    {kSynReceived, kRcvRst, Opening::kPassive, kListen, kReturnToListen},
    {kSynReceived, kRcvRst, Opening::kActive, kClosed, kSignalReset | kDeleteTcb},
    {kSynReceived, kRetriesExhausted, Opening::kAny, kClosed, kSignalTimeout | kDeleteTcb},
    {kEstablished, kClose, Opening::kAny, kFinWait1, kSendFin},
    {kEstablished, kRcvFin, Opening::kAny, kCloseWait, kSendAck | kSignalEof},
    {kEstablished, kAbort, Opening::kAny, kClosed, kSendRst | kDeleteTcb},
    {kEstablished, kRcvRst, Opening::kAny, kClosed, kSignalReset | kDeleteTcb},
    {kEstablished, kRetriesExhausted, Opening::kAny, kClosed, kSignalTimeout | kDeleteTcb},
    {kFinWait1, kRcvAckOfFin, Opening::kAny, kFinWait2, kNoAction},
    {kFinWait1, kRcvFin, Opening::kAny, kClosing, kSendAck | kSignalEof},
    {kFinWait1, kRcvFinAckOfFin, Opening::kAny, kTimeWait, kSendAck | kSignalEof | kStartTimeWait},
    {kFinWait1, kAbort, Opening::kAny, kClosed, kSendRst | kDeleteTcb},
    {kFinWait1, kRcvRst, Opening::kAny, kClosed, kSignalReset | kDeleteTcb},
    {kFinWait1, kRetriesExhausted, Opening::kAny, kClosed, kSignalTimeout | kDeleteTcb},
    {kFinWait2, kRcvFin, Opening::kAny, kTimeWait, kSendAck | kSignalEof | kStartTimeWait},
    {kFinWait2, kAbort, Opening::kAny, kClosed, kSendRst | kDeleteTcb},
    {kFinWait2, kRcvRst, Opening::kAny, kClosed, kSignalReset | kDeleteTcb},
    {kCloseWait, kClose, Opening::kAny, kLastAck, kSendFin},
    {kCloseWait, kAbort, Opening::kAny, kClosed, kSendRst | kDeleteTcb},
    {kCloseWait, kRcvRst, Opening::kAny, kClosed, kSignalReset | kDeleteTcb},
    {kCloseWait, kRetriesExhausted, Opening::kAny, kClosed, kSignalTimeout | kDeleteTcb},
    {kClosing, kRcvAckOfFin, Opening::kAny, kTimeWait, kStartTimeWait},
    {kClosing, kRcvRst, Opening::kAny, kClosed, kDeleteTcb},
    {kClosing, kRetriesExhausted, Opening::kAny, kClosed, kSignalTimeout | kDeleteTcb},
    {kLastAck, kRcvAckOfFin, Opening::kAny, kClosed, kDeleteTcb},
    {kLastAck, kRcvRst, Opening::kAny, kClosed, kDeleteTcb},
    {kLastAck, kRetriesExhausted, Opening::kAny, kClosed, kSignalTimeout | kDeleteTcb},
    {kTimeWait, kRcvFin, Opening::kAny, kTimeWait, kSendAck | kStartTimeWait},
    {kTimeWait, kTimeWaitTimeout, Opening::kAny, kClosed, kDeleteTcb},
    {kTimeWait, kRcvRst, Opening::kAny, kClosed, kDeleteTcb},
};

// One side of a connection: applies events and records the actions, as an endpoint would.
struct Side {
  State state = kClosed;
  Opening opening = Opening::kAny;
  std::uint16_t last_actions = 0;
  bool apply(Event e) {
    const auto t = next_transition(state, e, opening);
    if (!t) return false;
    state = t->to;
    last_actions = t->actions;
    return true;
  }
};

}  // namespace

TEST_CASE("every transition of RFC 9293 is in the table", "[tcp][state]") {
  for (const Row& row : kExpected) {
    DYNAMIC_SECTION(to_string(row.from) << " --" << to_string(row.event) << "--> "
                                        << to_string(row.to)) {
      const Opening asked = row.opening == Opening::kAny ? Opening::kPassive : row.opening;
      const auto t = next_transition(row.from, row.event, asked);
      REQUIRE(t);
      CHECK(t->to == row.to);
      CHECK(t->actions == row.actions);
      if (row.opening == Opening::kAny) {
        const auto active = next_transition(row.from, row.event, Opening::kActive);
        REQUIRE(active);
        CHECK(active->to == row.to);
      }
    }
  }
}

TEST_CASE("the table holds nothing else and no duplicate", "[tcp][state]") {
  CHECK(transition_table().size() == kExpected.size());
  std::set<std::tuple<State, Event, Opening>> seen;
  for (const Transition& t : transition_table()) {
    CHECK(seen.insert({t.from, t.event, t.opening}).second);
  }
}

TEST_CASE("events that mean nothing in a state have no transition", "[tcp][state]") {
  CHECK_FALSE(next_transition(kClosed, kRcvSyn, Opening::kAny));  // the endpoint answers RST
  CHECK_FALSE(next_transition(kListen, kRcvRst, Opening::kAny));  // ignored in LISTEN
  CHECK_FALSE(next_transition(kEstablished, kRcvSyn, Opening::kAny));  // RFC 5961: challenge ACK
  CHECK_FALSE(next_transition(kTimeWait, kClose, Opening::kAny));
  CHECK_FALSE(next_transition(kFinWait2, kClose, Opening::kAny));
}

TEST_CASE("three-way handshake, then the active side closes first", "[tcp][state]") {
  Side client{kClosed, Opening::kActive};
  Side server{kClosed, Opening::kPassive};
  REQUIRE(server.apply(kPassiveOpen));
  REQUIRE(client.apply(kActiveOpen));
  CHECK(client.last_actions == kSendSyn);
  REQUIRE(server.apply(kRcvSyn));
  CHECK(server.last_actions == kSendSynAck);
  REQUIRE(client.apply(kRcvSynAck));
  CHECK(client.state == kEstablished);
  REQUIRE(server.apply(kRcvAckOfSyn));
  CHECK(server.state == kEstablished);

  REQUIRE(client.apply(kClose));
  CHECK(client.state == kFinWait1);
  REQUIRE(server.apply(kRcvFin));
  CHECK(server.state == kCloseWait);
  REQUIRE(client.apply(kRcvAckOfFin));
  CHECK(client.state == kFinWait2);
  REQUIRE(server.apply(kClose));
  CHECK(server.state == kLastAck);
  REQUIRE(client.apply(kRcvFin));
  CHECK(client.state == kTimeWait);
  CHECK((client.last_actions & kStartTimeWait) != 0);
  REQUIRE(server.apply(kRcvAckOfFin));
  CHECK(server.state == kClosed);
  REQUIRE(client.apply(kTimeWaitTimeout));
  CHECK(client.state == kClosed);
}

TEST_CASE("simultaneous open (RFC 9293 Figure 8)", "[tcp][state]") {
  Side a{kClosed, Opening::kActive};
  Side b{kClosed, Opening::kActive};
  REQUIRE(a.apply(kActiveOpen));
  REQUIRE(b.apply(kActiveOpen));
  REQUIRE(a.apply(kRcvSyn));
  REQUIRE(b.apply(kRcvSyn));
  CHECK(a.state == kSynReceived);
  CHECK(a.last_actions == kSendSynAck);
  REQUIRE(a.apply(kRcvSynAck));
  REQUIRE(b.apply(kRcvSynAck));
  CHECK(a.state == kEstablished);
  CHECK(b.state == kEstablished);
}

TEST_CASE("simultaneous close (RFC 9293 Figure 13)", "[tcp][state]") {
  Side a{kEstablished};
  Side b{kEstablished};
  REQUIRE(a.apply(kClose));
  REQUIRE(b.apply(kClose));
  REQUIRE(a.apply(kRcvFin));
  REQUIRE(b.apply(kRcvFin));
  CHECK(a.state == kClosing);
  REQUIRE(a.apply(kRcvAckOfFin));
  REQUIRE(b.apply(kRcvAckOfFin));
  CHECK(a.state == kTimeWait);
  CHECK(b.state == kTimeWait);
}

TEST_CASE("FIN that acknowledges our FIN goes straight to TIME-WAIT", "[tcp][state]") {
  Side a{kFinWait1};
  REQUIRE(a.apply(kRcvFinAckOfFin));
  CHECK(a.state == kTimeWait);
  REQUIRE(a.apply(kRcvFin));  // a retransmitted FIN restarts the wait
  CHECK(a.state == kTimeWait);
  CHECK(a.last_actions == (kSendAck | kStartTimeWait));
}

TEST_CASE("RST in SYN-RECEIVED depends on how the connection opened", "[tcp][state]") {
  Side passive{kSynReceived, Opening::kPassive};
  REQUIRE(passive.apply(kRcvRst));
  CHECK(passive.state == kListen);
  Side active{kSynReceived, Opening::kActive};
  REQUIRE(active.apply(kRcvRst));
  CHECK(active.state == kClosed);
  CHECK((active.last_actions & kSignalReset) != 0);
}

TEST_CASE("synchronized states and names", "[tcp][state]") {
  CHECK_FALSE(is_synchronized(kClosed));
  CHECK_FALSE(is_synchronized(kListen));
  CHECK_FALSE(is_synchronized(kSynSent));
  CHECK_FALSE(is_synchronized(kSynReceived));
  CHECK(is_synchronized(kEstablished));
  CHECK(is_synchronized(kTimeWait));
  CHECK(to_string(kSynReceived) == "SYN-RECEIVED");
  CHECK(to_string(kTimeWait) == "TIME-WAIT");
  CHECK(to_string(kRetriesExhausted) == "retries exhausted");
}
