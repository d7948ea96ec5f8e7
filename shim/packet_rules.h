// The rules that act below the system calls, on the socket itself: inbound_loss (a classic BPF
// filter the kernel runs on every packet arriving, composed with the program's own filter:
// shim/socket_filter.h) and rate (the kernel's TCP pacing for sends, a due time per socket for
// receives). What each socket carries is recorded in its fd entries.
#pragma once

#include <span>

#include "bpfvm/program.h"
#include "shim/call.h"
#include "shim/decision.h"
#include "shim/fdtable.h"
#include "shim/rule_lookup.h"
#include "shim/socket_book.h"
#include "shim/socket_filter.h"

namespace shim {

class PacketRules {
 public:
  // Wired at setup (Switch::set_segment), not by a constructor: the switch then starts all zero,
  // in .bss (no relocation for the loader to apply, no file page to read).
  void wire(SocketBook& book, const RuleLookup& rules) noexcept {
    book_ = &book;
    rules_ = &rules;
  }

  void set_debug(bool on) noexcept { debug_ = on; }

  // Attaches inbound_loss rule idx's filter to fd, an IP socket of that family (other families
  // carry no IP packets and are left alone), in front of any classic filter already on it.
  // e: fd's entry, which records it (null when fd is untracked).
  void arm_loss(int fd, FdEntry* e, int family, int idx) noexcept;
  // The kernel copies a listener's filter to the connections it accepts: so does the record.
  void inherit_filter(const FdEntry& listener, FdEntry* accepted) noexcept;
  // A socket this image did not make (inherited across execve, classified afresh): the rule
  // records the kernel still shows. A classic filter that starts with an inbound_loss rule's gate
  // is that rule's (with the program's part behind it); a TCP socket whose SO_MAX_PACING_RATE is
  // a rate rule's rate is that rule's, and its receives are paced again. Counts nothing: the
  // image that armed the socket counted it.
  void recover(int fd, FdEntry& e) noexcept;
  // rate rule idx on fd, a TCP socket: SO_MAX_PACING_RATE for what it sends, and (in e) the
  // pacing of what it receives.
  void pace(int fd, FdEntry* e, int idx) noexcept;
  // rate: bytes a second.
  static void set_recv_rate(FdEntry* e, std::uint32_t rate) noexcept;
  // A recv on a paced socket: waits until its due time, and cuts the read to one step.
  static void hold_back(const Call& c, Decision& d) noexcept;
  // n bytes received on a paced socket: its due time moves on by n / rate.
  static void charge(FdEntry& e, std::uint64_t n) noexcept;
  // The bytes a receive that returned r > 0 took (recvmmsg: r is a count of messages).
  static std::uint64_t received(const Call& c, long r) noexcept {
    if (c.op != Op::kRecvmmsg) return static_cast<std::uint64_t>(r);
    std::uint64_t n = 0;
    for (long i = 0; c.mmsg && i < r; ++i) n += c.mmsg[i].msg_len;
    return n;
  }

  // A SOL_SOCKET option socket_filter answers on a socket that carries a rule's filter.
  static bool filter_option_of(bool set, int level, int name) noexcept {
    return level == SOL_SOCKET && socket_filter::concerns(set, name);
  }
  // The program's SO_ATTACH_FILTER, SO_ATTACH_BPF, SO_DETACH_FILTER or SO_GET_FILTER on a socket
  // that carries a rule's filter (shim/socket_filter.h). Returns the call's result, errno set.
  long filter_option(const Call& c, const Decision& d) noexcept;

 private:
  // The rule's filter (its gate) into out; its length, 0 when the rule has none.
  std::size_t loss_gate(int idx, std::span<bpfvm::Instruction> out) const noexcept;
  // Records which rule's filter is on e's socket (0: none) and the program's part behind it, in
  // every fd entry that names the socket.
  void set_filter_state(FdEntry* e, std::uint16_t rule_plus1, std::uint16_t own_len) noexcept;
  stats::Segment* seg() const noexcept { return book_->segment(); }

  SocketBook* book_ = nullptr;
  const RuleLookup* rules_ = nullptr;
  bool debug_ = false;
};

}  // namespace shim
