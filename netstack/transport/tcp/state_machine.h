// The RFC 9293 connection state diagram (§3.3.2, Figure 5) as data: (state, event) -> next state
// and the actions the endpoint must take. The endpoint classifies incoming segments and user calls
// into Events (after the acceptability and RFC 5961 checks of segment_checks.h) and looks up here
// what to do; the table is the single place where transitions are written down.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace netstack::tcp {

enum class State : std::uint8_t {
  kClosed,
  kListen,
  kSynSent,
  kSynReceived,
  kEstablished,
  kFinWait1,
  kFinWait2,
  kCloseWait,
  kClosing,
  kLastAck,
  kTimeWait,
};

enum class Event : std::uint8_t {
  kPassiveOpen,      // listen()
  kActiveOpen,       // connect()
  kSend,             // send() on a LISTEN socket turns it active (RFC 9293 §3.10.2)
  kClose,            // close() / shutdown(SHUT_WR): no more data from us
  kAbort,            // ABORT (SO_LINGER 0, close with unread data): send RST, drop the TCB
  kRcvSyn,           // a SYN without ACK
  kRcvSynAck,        // a SYN with an ACK of our SYN
  kRcvAckOfSyn,      // an ACK that acknowledges our SYN (handshake completes)
  kRcvFin,           // a FIN that is in order, not acknowledging our FIN
  kRcvAckOfFin,      // an ACK that acknowledges our FIN
  kRcvFinAckOfFin,   // a FIN that also acknowledges our FIN
  kRcvRst,           // an acceptable RST (RFC 5961 exact match, or a valid RST in SYN-SENT)
  kTimeWaitTimeout,  // 2*MSL elapsed
  kRetriesExhausted, // the retransmission (or keepalive) limit was reached: ETIMEDOUT
};

// Actions, as bits: a transition can ask for several (e.g. rcv FIN+ACK in FIN-WAIT-1 sends an ACK
// and starts the TIME-WAIT timer).
enum Action : std::uint16_t {
  kNoAction = 0,
  kSendSyn = 1 << 0,
  kSendSynAck = 1 << 1,
  kSendAck = 1 << 2,
  kSendFin = 1 << 3,
  kSendRst = 1 << 4,
  kStartTimeWait = 1 << 5,       // (re)start the 2*MSL timer
  kDeleteTcb = 1 << 6,           // the connection record goes (to CLOSED)
  kSignalEstablished = 1 << 7,   // connect() completes / the connection joins the accept queue
  kSignalEof = 1 << 8,           // reads return 0 once the buffer drains
  kSignalReset = 1 << 9,         // ECONNRESET (ECONNREFUSED in SYN-SENT)
  kSignalTimeout = 1 << 10,      // ETIMEDOUT
  kReturnToListen = 1 << 11,     // a passively opened SYN-RECEIVED connection goes back to LISTEN
};

// Which opening a row depends on: RFC 9293 §3.10.7.3, an RST in SYN-RECEIVED returns a passive
// connection to LISTEN but closes an active one.
enum class Opening : std::uint8_t { kAny, kPassive, kActive };

struct Transition {
  State from;
  Event event;
  Opening opening;
  State to;
  std::uint16_t actions;
};

// Every transition of the diagram, plus the RST, abort and timeout arcs the text adds.
std::span<const Transition> transition_table();

// The transition for `event` in `state`, or nullopt if the event means nothing there (the
// endpoint then follows the per-state rules of RFC 9293 §3.10.7, usually: drop, maybe ACK).
std::optional<Transition> next_transition(State state, Event event, Opening opening);

// RFC 9293 §3.3.2: states where both sides have exchanged SYNs.
constexpr bool is_synchronized(State s) {
  return s != State::kClosed && s != State::kListen && s != State::kSynSent &&
         s != State::kSynReceived;
}

std::string_view to_string(State s);  // the RFC's spelling: "SYN-RECEIVED"
std::string_view to_string(Event e);

}  // namespace netstack::tcp
