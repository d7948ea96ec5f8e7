// A rule that concerns a call fires: its trigger is counted and decided (the run's or the
// socket's hit count, after_bytes, from_ms…), and its action decides the call — answered
// instead of the real call, changed (short, duplicate, corrupt), or followed by a `then` once
// the real call returned. Every firing is logged in the segment's decision log.
#pragma once

#include <cstdint>

#include "shim/call.h"
#include "shim/decision.h"
#include "shim/packet_rules.h"
#include "shim/rule_lookup.h"
#include "shim/socket_book.h"

namespace shim {

class RuleFiring {
 public:
  // Wired at setup (Switch::set_segment), as PacketRules.
  void wire(SocketBook& book, const RuleLookup& rules, PacketRules& packets) noexcept {
    book_ = &book;
    rules_ = &rules;
    packets_ = &packets;
  }

  // The seed rules draw from (the file's, or SOCKSHIM_SEED's).
  void set_seed(std::uint64_t seed) noexcept { seed_ = seed; }
  void set_debug(bool on) noexcept { debug_ = on; }

  // Rule idx concerns call c: counts the hit and, when its trigger selects it, acts (into d).
  void fire(const Call& c, Decision& d, int idx) noexcept;
  // An injected failure counts as the failure of that call, plus one fault.
  static void count_injected(const Call& c, Decision& d) noexcept;
  // Runs the real call with the changes a rule asked for (short, duplicate, corrupt, or a socket
  // filter option answered by packet rules).
  long perform(const Call& c, const Decision& d) noexcept;
  // The rule's `then`, on the real call's result r and errno e.
  static void apply_then(const Call& c, Decision& d, long& r, int& e) noexcept;

 private:
  // The before-action of a rule that fired.
  // hit: the rule's hit number in its counting scope; draw_hit: the run-wide one, for draws.
  void act(const Call& c, Decision& d, const filters::Rule& rule, int idx, std::uint64_t hit,
           std::uint64_t draw_hit) noexcept;
  // The counters of a "count": "socket" rule on this socket (a small per-socket table).
  static SocketRuleCount* socket_count(FdEntry& e, int rule) noexcept;
  void log_event(const Call& c, const Decision& d, int rule, std::uint64_t hit, int err) noexcept;
  stats::Segment* seg() const noexcept { return book_->segment(); }

  SocketBook* book_ = nullptr;
  const RuleLookup* rules_ = nullptr;
  PacketRules* packets_ = nullptr;
  std::uint64_t seed_ = 0;
  bool debug_ = false;
};

}  // namespace shim
