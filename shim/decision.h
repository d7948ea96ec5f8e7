// What the general path decided about one call before the real call, handed to what runs after
// it. Built by Switch::before (shim/switch.cc), filled in by the rule that fired
// (shim/rule_firing.h) and read by the bookkeeping (shim/socket_book.h).
#pragma once

#include <cstddef>
#include <cstdint>

#include "filters/call_type.h"
#include "filters/table.h"
#include "shim/actions.h"
#include "shim/fdtable.h"
#include "shim/stats/layout.h"

namespace shim {

struct Decision {
  filters::CallType type{};            // the call's type for rules: computed once per call
  FdEntry* entry = nullptr;            // the socket the call is on, when it is one we track
  std::uint32_t state = 0;             // entry's FdState bits as before() saw them
  stats::CookieSlot* slot = nullptr;   // counters of the socket's cookie
  int saved_errno = 0;                 // errno at entry: restored on every path that does not fail
  bool inject = false;                 // answer without calling the real function
  int err = 0;                         // errno to report when injecting
  long ret = -1;                       // value to return when injecting
  bool count_close = false;            // kClose: a close that `closed` should count
  std::uint32_t swaps = 0;             // entry's FdEntry::swaps before the real call
  FdEntry* target = nullptr;           // kDup2: the entry of the number dup2 replaces
  std::uint32_t target_state = 0;      // kDup2: its FdState bits and sharing identity before the
  std::uint64_t target_id = 0;         //   call (after_dup() releases its reference on success)
  // Set by a rule that changes the real call instead of replacing it (perform() runs it):
  bool custom = false;
  std::size_t limit = SIZE_MAX;        // short, or the cut before an after_bytes trigger
  bool duplicate = false;
  std::uint64_t corrupt_bits = 0;      // do.corrupt on a send
  actions::Draw draw;                  // the firing hit, for seeded corruption
  const filters::After* then = nullptr;  // the rule's `then`, run after the real call
  // inbound_loss on socket/accept: the socket the real call makes gets this rule's filter.
  int arm_rule = -1;
  // A socket filter option on a socket that carries a rule's filter: filter_option() answers it.
  bool filter_option = false;
  // rate on socket/accept: the socket the real call makes gets this rule's pacing.
  int pace_rule = -1;
  // A recv on a paced socket: after() charges its bytes to the socket's due time.
  bool paced = false;
};

}  // namespace shim
