// What the run's rules need of the switch, read once from the table when it is set: which call
// types have rules (one test on every hot path) and which per-socket state some rule keeps. Each
// part of the switch holds its own copy (a few bytes), so none reads it through a pointer.
#pragma once

#include <cstdint>
#include <cstring>

#include "filters/table.h"
#include "shim/cookie.h"
#include "shim/fdtable.h"

namespace shim {

// The service port of a socket in state conn whose known ports are local and peer (0: not
// known): the peer's on a connected or connecting socket, else the local one (bound, listening,
// accepted); -1 when none is known. The one place that says which of a socket's ports is the
// service (RuleLookup::service_port asks it for a call, SocketBook for a transition).
[[gnu::always_inline]] inline int service_port_of(ConnState conn, int local, int peer) noexcept {
  if (peer && (conn == ConnState::kConnected || conn == ConnState::kConnecting)) return peer;
  return local ? local : -1;
}

// The rule decisions a socket starts with, by family and service port: "none" (1) for every call
// type no rule can concern on a socket of that family whose service port no rule names, "not
// known yet" (0) for the others (FdEntry::rule_cache's words). The answer is Table::may_match's
// for that family and a port no rule names, computed ahead, so it never says "none" where a rule
// could match (tests/shim/switch_test.cc). Who reads it: listen and accept write the new
// listener's or connection's decisions from it (SocketBook::start_rules), so accept's first call
// on a listener and a connection's close need no look-up; connect's per-call check reads it
// inline; the first call of a type on any other socket reads it in rule_free_by_port instead of
// the table's lists. Built once at setup when the run has rules; read-only afterwards.
struct RuleStarts {
  static constexpr unsigned kFamilies = filters::image::kFamilySlots;   // and one row for every other
  static constexpr unsigned kUnknownRow = kFamilies + 1;   // all zeros: a port some rule names
  static constexpr std::size_t kWords = FdEntry::kRuleWords;
  std::uint64_t rows[kUnknownRow + 1][kWords] = {};   // per family slot, then kUnknownRow
  std::uint64_t named[filters::image::kPortWords] = {};   // a bit per port some rule of any type names

  // The row for a socket of this family (cookie_family) and service port (-1: unknown): its
  // family's, or kUnknownRow when some rule names the port (the first call of each type then
  // asks the table).
  [[gnu::always_inline]] unsigned row(int family, int service) const noexcept {
    const auto p = static_cast<unsigned>(service);
    if (p <= 65535 && ((named[p / 64] >> (p % 64)) & 1u)) return kUnknownRow;
    return static_cast<unsigned>(family) < kFamilies ? static_cast<unsigned>(family) : kFamilies;
  }
  // The decision of type t in a row: true for "none".
  [[gnu::always_inline]] bool none(unsigned row, filters::CallType t) const noexcept {
    const auto i = static_cast<std::size_t>(t);
    return ((rows[row][i / 4] >> (16 * (i % 4))) & 0xffffu) == 1;
  }

  // Once per process with rules, at setup (a few thousand instructions for 100 rules). Out of
  // line: a process without rules pays nothing for it.
  [[gnu::noinline]] void build(const filters::Table& t) noexcept {
    // The ports of every rule with a port key: the union of the table's per-type bitmaps (a
    // rule's port is in the bitmap of each type it is on), made from the rules, so a table of
    // single ports costs a few words, not a pass over each bitmap.
    std::memset(named, 0, sizeof named);
    std::uint64_t families = 0;   // a bit per family slot some rule names
    static_assert(kFamilies <= 64);
    for (const filters::Rule& r : t.rules()) {
      if (r.match.port) filters::add_ports(named, *r.match.port);
      if (r.match.family && *r.match.family >= 0 && *r.match.family < static_cast<int>(kFamilies))
        families |= std::uint64_t{1} << *r.match.family;
    }
    // may_match for a port no rule names is port_may_match's "no" for every family when no rule
    // on the type lacks a port key (or none is on it): `every`. Else each family's own lists
    // decide. Row kFamilies is every family from kFamilySlots on (the table's lists do the same).
    std::uint64_t every[kWords] = {};
    std::uint32_t by_family = 0;
    for (std::size_t i = 0; i < filters::kCallTypeCount; ++i) {
      if (t.port_may_match(static_cast<filters::CallType>(i), -1))
        by_family |= 1u << i;
      else
        every[i / 4] |= std::uint64_t{1} << (16 * (i % 4));
    }
    // Every family slot no rule names has the same lists (the rules without a family key:
    // table_build.cc), so the same row: asked once, then copied.
    int shared = -1;
    for (unsigned f = 0; f <= kFamilies; ++f) {
      const bool unnamed = f < kFamilies && !((families >> f) & 1u);
      if (unnamed && shared >= 0) {
        for (std::size_t w = 0; w < kWords; ++w) rows[f][w] = rows[shared][w];
        continue;
      }
      if (unnamed) shared = static_cast<int>(f);
      for (std::size_t w = 0; w < kWords; ++w) rows[f][w] = every[w];
      for (std::size_t i = 0; by_family >> i; ++i)
        if (((by_family >> i) & 1u) && !t.may_match(static_cast<filters::CallType>(i), static_cast<int>(f), -1))
          rows[f][i / 4] |= std::uint64_t{1} << (16 * (i % 4));
    }
    for (std::uint64_t& w : rows[kUnknownRow]) w = 0;
  }
};

struct RuleProfile {
  std::uint32_t mask = 0;      // bit per CallType that has rules
  bool conn_time = false;      // some rule triggers on the time since a socket connected
  bool track_bytes = false;    // some rule triggers on the bytes a socket moved
  bool socket_state = false;   // some rule keeps state in the fd entry's second line

  bool has(filters::CallType t) const noexcept { return (mask >> static_cast<unsigned>(t)) & 1u; }
  bool any() const noexcept { return mask != 0; }

  // starts: where to build the table's RuleStarts (only when it has rules).
  static RuleProfile of(const filters::Table* t, RuleStarts* starts) noexcept {
    RuleProfile p;
    if (!t) return p;
    for (std::size_t i = 0; i < filters::kCallTypeCount; ++i)
      if (t->has_rules_for(static_cast<filters::CallType>(i))) p.mask |= 1u << i;
    for (const filters::Rule& r : t->rules()) {
      if (r.when.needs_connect_time()) p.conn_time = true;
      if (r.when.needs_socket_bytes()) p.track_bytes = true;
      if (r.when.count == filters::Count::kSocket || r.then.kind == filters::AfterKind::kSoError)
        p.socket_state = true;
    }
    p.socket_state = p.socket_state || p.conn_time || p.track_bytes;
    if (p.any()) starts->build(*t);
    return p;
  }
};

}  // namespace shim
