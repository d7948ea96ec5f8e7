// What the run's rules need of the switch, read once from the table when it is set: which call
// types have rules (one test on every hot path) and which per-socket state some rule keeps. Each
// part of the switch holds its own copy (a few bytes), so none reads it through a pointer.
#pragma once

#include <cstdint>

#include "filters/table.h"

namespace shim {

struct RuleProfile {
  std::uint32_t mask = 0;      // bit per CallType that has rules
  bool conn_time = false;      // some rule triggers on the time since a socket connected
  bool track_bytes = false;    // some rule triggers on the bytes a socket moved
  bool socket_state = false;   // some rule keeps state in the fd entry's second line

  bool has(filters::CallType t) const noexcept { return (mask >> static_cast<unsigned>(t)) & 1u; }
  bool any() const noexcept { return mask != 0; }

  static RuleProfile of(const filters::Table* t) noexcept {
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
    return p;
  }
};

}  // namespace shim
