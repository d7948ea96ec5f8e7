#include "netstack/transport/tcp/state_machine.h"

#include <array>

namespace netstack::tcp {
namespace {

using enum State;
using enum Event;

constexpr Opening kAnyOpen = Opening::kAny;

constexpr std::array kTable = {
    // Opening a connection (RFC 9293 §3.5, §3.10.1-2).
    Transition{kClosed, kPassiveOpen, kAnyOpen, kListen, kNoAction},
    Transition{kClosed, kActiveOpen, kAnyOpen, kSynSent, kSendSyn},
    Transition{kListen, kRcvSyn, kAnyOpen, kSynReceived, kSendSynAck},
    Transition{kListen, kSend, kAnyOpen, kSynSent, kSendSyn},
    Transition{kListen, kClose, kAnyOpen, kClosed, kDeleteTcb},
    Transition{kSynSent, kRcvSynAck, kAnyOpen, kEstablished, kSendAck | kSignalEstablished},
    // Simultaneous open (§3.5 Figure 8): our SYN crossed theirs; answer with SYN-ACK.
    Transition{kSynSent, kRcvSyn, kAnyOpen, kSynReceived, kSendSynAck},
    Transition{kSynSent, kClose, kAnyOpen, kClosed, kDeleteTcb},
    Transition{kSynSent, kAbort, kAnyOpen, kClosed, kDeleteTcb},
    // §3.10.7.3: an RST that acknowledges our SYN means "connection refused".
    Transition{kSynSent, kRcvRst, kAnyOpen, kClosed, kSignalReset | kDeleteTcb},
    Transition{kSynSent, kRetriesExhausted, kAnyOpen, kClosed, kSignalTimeout | kDeleteTcb},
    Transition{kSynReceived, kRcvAckOfSyn, kAnyOpen, kEstablished, kSignalEstablished},
    Transition{kSynReceived, kClose, kAnyOpen, kFinWait1, kSendFin},
    Transition{kSynReceived, kAbort, kAnyOpen, kClosed, kSendRst | kDeleteTcb},
    Transition{kSynReceived, kRcvRst, Opening::kPassive, kListen, kReturnToListen},
    Transition{kSynReceived, kRcvRst, Opening::kActive, kClosed, kSignalReset | kDeleteTcb},
    Transition{kSynReceived, kRetriesExhausted, kAnyOpen, kClosed, kSignalTimeout | kDeleteTcb},
    // Simultaneous open, second half (Figure 8 line 6): the peer's SYN-ACK acknowledges our SYN.
    // The ACK is not in the figure; it completes the peer's handshake if our SYN-ACK was lost.
    Transition{kSynReceived, kRcvSynAck, kAnyOpen, kEstablished, kSendAck | kSignalEstablished},
    // Data transfer and closing (§3.6).
    Transition{kEstablished, kClose, kAnyOpen, kFinWait1, kSendFin},
    Transition{kEstablished, kRcvFin, kAnyOpen, kCloseWait, kSendAck | kSignalEof},
    Transition{kEstablished, kAbort, kAnyOpen, kClosed, kSendRst | kDeleteTcb},
    Transition{kEstablished, kRcvRst, kAnyOpen, kClosed, kSignalReset | kDeleteTcb},
    Transition{kEstablished, kRetriesExhausted, kAnyOpen, kClosed, kSignalTimeout | kDeleteTcb},
    Transition{kFinWait1, kRcvAckOfFin, kAnyOpen, kFinWait2, kNoAction},
    // Simultaneous close (§3.6 Figure 13): FIN crossed FIN.
    Transition{kFinWait1, kRcvFin, kAnyOpen, kClosing, kSendAck | kSignalEof},
    Transition{kFinWait1, kRcvFinAckOfFin, kAnyOpen, kTimeWait,
               kSendAck | kSignalEof | kStartTimeWait},
    Transition{kFinWait1, kAbort, kAnyOpen, kClosed, kSendRst | kDeleteTcb},
    Transition{kFinWait1, kRcvRst, kAnyOpen, kClosed, kSignalReset | kDeleteTcb},
    Transition{kFinWait1, kRetriesExhausted, kAnyOpen, kClosed, kSignalTimeout | kDeleteTcb},
    Transition{kFinWait2, kRcvFin, kAnyOpen, kTimeWait, kSendAck | kSignalEof | kStartTimeWait},
    Transition{kFinWait2, kAbort, kAnyOpen, kClosed, kSendRst | kDeleteTcb},
    Transition{kFinWait2, kRcvRst, kAnyOpen, kClosed, kSignalReset | kDeleteTcb},
    Transition{kCloseWait, kClose, kAnyOpen, kLastAck, kSendFin},
    Transition{kCloseWait, kAbort, kAnyOpen, kClosed, kSendRst | kDeleteTcb},
    Transition{kCloseWait, kRcvRst, kAnyOpen, kClosed, kSignalReset | kDeleteTcb},
    Transition{kCloseWait, kRetriesExhausted, kAnyOpen, kClosed, kSignalTimeout | kDeleteTcb},
    Transition{kClosing, kRcvAckOfFin, kAnyOpen, kTimeWait, kStartTimeWait},
    Transition{kClosing, kRcvRst, kAnyOpen, kClosed, kDeleteTcb},
    Transition{kClosing, kRetriesExhausted, kAnyOpen, kClosed, kSignalTimeout | kDeleteTcb},
    Transition{kLastAck, kRcvAckOfFin, kAnyOpen, kClosed, kDeleteTcb},
    Transition{kLastAck, kRcvRst, kAnyOpen, kClosed, kDeleteTcb},
    Transition{kLastAck, kRetriesExhausted, kAnyOpen, kClosed, kSignalTimeout | kDeleteTcb},
    // §3.10.7.4 "eighth": a retransmitted FIN in TIME-WAIT is ACKed and restarts the 2*MSL wait.
    Transition{kTimeWait, kRcvFin, kAnyOpen, kTimeWait, kSendAck | kStartTimeWait},
    Transition{kTimeWait, kTimeWaitTimeout, kAnyOpen, kClosed, kDeleteTcb},
    Transition{kTimeWait, kRcvRst, kAnyOpen, kClosed, kDeleteTcb},
};

}  // namespace

std::span<const Transition> transition_table() { return kTable; }

std::optional<Transition> next_transition(State state, Event event, Opening opening) {
  for (const Transition& t : kTable) {
    if (t.from != state || t.event != event) continue;
    if (t.opening == Opening::kAny || t.opening == opening) return t;
  }
  return std::nullopt;
}

std::string_view to_string(State s) {
  static constexpr std::array<std::string_view, 11> kNames = {
      "CLOSED",     "LISTEN",     "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1",
      "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING",  "LAST-ACK",     "TIME-WAIT"};
  return kNames[static_cast<std::size_t>(s)];
}

std::string_view to_string(Event e) {
  static constexpr std::array<std::string_view, 14> kNames = {
      "passive OPEN", "active OPEN",   "SEND",           "CLOSE",
      "ABORT",        "rcv SYN",       "rcv SYN,ACK",    "rcv ACK of SYN",
      "rcv FIN",      "rcv ACK of FIN", "rcv FIN,ACK of FIN", "rcv RST",
      "TIME-WAIT timeout", "retries exhausted"};
  return kNames[static_cast<std::size_t>(e)];
}

}  // namespace netstack::tcp
